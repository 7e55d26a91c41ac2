from flask import Blueprint, current_app, flash, g, redirect, request, url_for
from flask_jwt_extended import set_access_cookies, unset_jwt_cookies

from portal.auth import services
from portal.auth.context import issue_token
from portal.auth.permissions import public
from portal.auth.schemas import RevokedOut, TokenOut, TokenRequest
from portal.extensions import limiter
from portal.openapi import documented
from portal.web import ApiError, api_error, json_response, local_path, render_page

bp = Blueprint("auth", __name__)
api = Blueprint("auth_api", __name__, url_prefix="/api/auth")


def _login_failed(response) -> bool:
    # Only failures count towards the login limits; a good password never locks anyone out.
    return response.status_code in (400, 401)


def _email_key() -> str:
    data = request.get_json(silent=True) if request.is_json else request.form
    email = data.get("email", "") if hasattr(data, "get") else ""
    return "login-email:" + str(email).strip().lower()


def _client_key() -> str:
    return "login-client:" + (request.remote_addr or "unknown")


login_limits = [
    limiter.limit(
        lambda: current_app.config["LOGIN_LIMIT_PER_CLIENT"],
        key_func=_client_key, deduct_when=_login_failed, methods=["POST"],
    ),
    limiter.limit(
        lambda: current_app.config["LOGIN_LIMIT_PER_EMAIL"],
        key_func=_email_key, deduct_when=_login_failed, methods=["POST"],
    ),
]


def _limited(view):
    for limit in login_limits:
        view = limit(view)
    return view


def _safe_next(target: str | None) -> str:
    return local_path(target) or url_for("system.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@public
@_limited
def login():
    if request.method == "GET":
        return render_page("auth/login.html", next=request.args.get("next", ""))
    form = request.form
    try:
        sign_in = services.authenticate(
            form.get("email", ""), form.get("password", ""), form.get("tenant"),
            require_tenant_choice=False,
        )
    except services.LoginFailed as exc:
        return render_page(
            "auth/login.html", status=401, error=exc.message,
            email=form.get("email", ""), tenant=form.get("tenant", ""),
            next=form.get("next", ""),
        )
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
@documented(summary="Exchange email and password for an access token", body=TokenRequest,
            errors=(401, 429, 503), responses={200: TokenOut})
@public
@_limited
def token():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return api_error(400, "body: send a JSON object with email and password",
                         "invalid_input", "body")
    data = TokenRequest.model_validate(payload)
    try:
        sign_in = services.authenticate(data.email, data.password, data.tenant,
                                        require_tenant_choice=True)
    except services.LoginFailed as exc:
        return api_error(exc.status, exc.message, field=exc.field)
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
        raise ApiError(400, "An API key is not a sign-in: revoke it with "
                       "POST /api/keys/<id>/revoke.", "not_a_session")
    services.end_session()
    g.token_replaced = True
    return json_response(RevokedOut(revoked=True).model_dump(mode="json"))
