from flask import Blueprint, current_app, flash, g, redirect, request, url_for
from flask_jwt_extended import set_access_cookies, unset_jwt_cookies
from pydantic import ValidationError

from portal.auth import services
from portal.auth.context import issue_token
from portal.auth.schemas import LoginRequest, RevokedOut, TokenOut, normalise_email
from portal.errors import BadCredentials, InvalidInput, http_status
from portal.extensions import limiter
from portal.forms import validation_message
from portal.openapi import documented
from portal.permissions import public
from portal.security import local_path, refuse_cross_site_post
from portal.web import api_error, json_response, render_page

bp = Blueprint("auth", __name__)
api = Blueprint("auth_api", __name__, url_prefix="/api/auth")


# --- the login budget ----------------------------------------------------------------------
# One budget for every login route (`shared_limit` scopes, so /login and /api/auth/token
# spend the same counters), counting failed attempts only, whatever their status. Keyed so
# that one client's failures never lock the right password out for another client: a tight
# limit per (email, client address), one per client address across emails, and a looser
# ceiling per email that a single client cannot reach on its own (see the README).


def _login_failed(response) -> bool:
    return response.status_code >= 400


def _login_email() -> str:
    data = request.get_json(silent=True) if request.is_json else request.form
    return normalise_email(data.get("email", "")) if hasattr(data, "get") else ""


def _client() -> str:
    return request.remote_addr or "unknown"


def _login_limit(setting: str, scope: str, key):
    return limiter.shared_limit(
        lambda: current_app.config[setting], scope=scope, key_func=key,
        deduct_when=_login_failed, methods=["POST"],
    )


def login_budget(email):
    """A decorator spending the login budget, with `email()` naming the account tried. Other
    routes that check a password (accepting an invitation) pass their own `email`."""
    limits = [
        _login_limit("LOGIN_LIMIT_PER_EMAIL_CLIENT", "login-email-client",
                     lambda: f"{email()}|{_client()}"),
        _login_limit("LOGIN_LIMIT_PER_CLIENT", "login-client", _client),
        _login_limit("LOGIN_LIMIT_PER_EMAIL", "login-email", email),
    ]

    def decorator(view):
        for limit in limits:
            view = limit(view)
        return view

    return decorator


_limited = login_budget(_login_email)


def _safe_next(target: str | None) -> str:
    return local_path(target) or url_for("system.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@public
@_limited
def login():
    if request.method == "GET":
        return render_page("auth/login.html", next=request.args.get("next", ""))
    refuse_cross_site_post()
    form = request.form
    redisplay = {"email": form.get("email", ""), "tenant": form.get("tenant", ""),
                 "next": form.get("next", "")}
    try:
        data = LoginRequest.model_validate({
            "email": form.get("email", ""), "password": form.get("password", ""),
            "tenant": form.get("tenant") or None,
        })
        sign_in = services.authenticate(data, require_tenant_choice=False)
    except ValidationError as exc:
        return render_page("auth/login.html", status=400, error=validation_message(exc)[1],
                           **redisplay)
    except BadCredentials as exc:
        return render_page("auth/login.html", status=http_status(exc), error=exc.message,
                           **redisplay)
    response = redirect(_safe_next(form.get("next")), code=303)
    set_access_cookies(response, issue_token(sign_in.user, sign_in.membership))
    return response


@bp.post("/logout")
def logout():
    services.end_session()
    response = redirect(url_for("auth.login"), code=303)
    unset_jwt_cookies(response)
    g.token_replaced = True
    return response


@bp.post("/switch-tenant")
def switch_tenant():
    choice = services.switch_tenant(request.form.get("tenant", ""))
    if choice is None:
        flash("You are not a member of that organisation.", "error")
        return redirect(url_for("system.dashboard"), code=303)
    response = redirect(url_for("system.dashboard"), code=303)
    set_access_cookies(response, issue_token(g.user, choice))
    g.token_replaced = True
    return response


@api.post("/token")
@documented(summary="Exchange email and password for an access token", body=LoginRequest,
            errors=(400, 401, 429, 503), responses={200: TokenOut})
@public
@_limited
def token():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return api_error(400, "body: send a JSON object with email and password",
                         "invalid_input", "body")
    data = LoginRequest.model_validate(payload)
    try:
        sign_in = services.authenticate(data, require_tenant_choice=True)
    except BadCredentials as exc:
        # Not the sign-in redirect: this endpoint is where scripts sign in.
        return api_error(http_status(exc), exc.message, exc.code)
    expires = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return json_response(TokenOut(
        access_token=issue_token(sign_in.user, sign_in.membership),
        expires_in=int(expires.total_seconds()),
    ).model_dump(mode="json"))


@api.post("/logout")
@documented(summary="Revoke the token this request carries (not an API key)", errors=(400,),
            responses={200: RevokedOut})
def api_logout():
    if g.get("api_key_id") is not None:
        raise InvalidInput("An API key is not a sign-in: revoke it with "
                           "POST /api/keys/<id>/revoke.", code="not_a_session")
    services.end_session()
    g.token_replaced = True
    return json_response(RevokedOut(revoked=True).model_dump(mode="json"))
