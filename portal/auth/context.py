"""The request pipeline's gate: verify the token, then bind the request to its tenant.

Everything a view can learn about "who is asking" is put on `flask.g` here, from the signed
token and the database, never from the URL, a form field or a header the client picks:
`g.tenant_id`, `g.tenant`, `g.user`, `g.role`, `g.permissions` and `g.db`, the request's
tenant-bound session. `g.tenant` and `g.user` are plain values as the token check read them
(portal.auth.queries.SignedInTenant, SignedInUser), not ORM objects: a view that changes a
tenant or a user loads it through `g.db`.
"""

import logging
import math
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from flask import current_app, g, redirect, request, url_for
from flask_jwt_extended import (
    create_access_token,
    get_csrf_token,
    get_jwt,
    set_access_cookies,
    unset_jwt_cookies,
    verify_jwt_in_request,
)
from flask_jwt_extended.exceptions import CSRFError, JWTExtendedException
from jwt.exceptions import PyJWTError

from portal import tenancy
from portal.auth.models import Membership, User
from portal.auth.queries import (
    SignedInMembership,
    SignedInUser,
    active_memberships,
    token_standing,
)
from portal.errors import Forbidden, NotAuthenticated, PortalError
from portal.permissions import permissions_for
from portal.tenancy import tenant_refused
from portal.web import api_error, is_api_request, is_htmx

log = logging.getLogger("portal.auth")

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what fits revoked_sessions.session_id


def unauthorized_response(message: str = NotAuthenticated.default_message):
    if is_api_request():
        response = api_error(401, message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="alphapulse"'
    elif is_htmx():
        response = current_app.make_response(("", 401))
        response.headers["HX-Redirect"] = url_for("auth.login")
    else:
        target = request.full_path if request.method == "GET" else None
        response = redirect(url_for("auth.login", next=target.rstrip("?") if target else None))
    unset_jwt_cookies(response)
    return response


def refuse(reason: str):
    tenant_refused.send(current_app._get_current_object(), reason=reason)
    log.warning("request refused: %s", reason)
    raise NotAuthenticated(reason)


def issue_token(user: User | SignedInUser, membership: Membership | SignedInMembership,
                session_id: str | None = None) -> str:
    """A token for one sign-in. Every token of a sign-in carries its `sid` (a new one at
    sign-in, the same one when refreshed), so ending the session ends all of them at once."""
    return create_access_token(
        identity=str(user.id),
        additional_claims={
            "tenant_id": str(membership.tenant_id),
            "role": membership.role,
            "sid": session_id or uuid.uuid4().hex,
        },
    )


def _view_says(flag: str) -> bool:
    view = current_app.view_functions.get(request.endpoint)
    return bool(getattr(view, flag, False))


def _is_public_endpoint() -> bool:
    if request.endpoint is None:  # no such route: the 404 handler answers
        return True
    if request.endpoint == "static":
        return True
    return _view_says("is_public")


def gate_applies() -> bool:
    """Must this request show a credential? Not for public routes, nor for OPTIONS: Flask
    answers those itself (the Allow header, no view, no data), and flask-jwt-extended never
    verifies a token on OPTIONS, so binding would fail with a 500."""
    return not _is_public_endpoint() and request.method != "OPTIONS"


def _parse_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _issued_after(iat, valid_after: datetime | None) -> bool:
    """Was the token issued at or after the membership's `sessions_valid_after`?

    `iat` has whole seconds: a token of the very second of a demotion counts as earlier
    (refused), so a demotion can never leave a session alive.
    """
    if valid_after is None:
        return True
    try:
        return float(iat) >= valid_after.timestamp()
    except (TypeError, ValueError, OverflowError):
        return False


@contextmanager
def checked_session(tenant_id: uuid.UUID) -> Iterator[tenancy.TenantSession]:
    """The tenant session a gate checks a sign-in with. It becomes the request's session
    (`g.db`) only once the check passes; a refusal closes it, so nothing the request runs
    afterwards (an error page, a page that keeps the navigation) can reach that tenant."""
    db = tenancy.tenant_session(tenant_id)
    try:
        yield db
    except BaseException:
        tenancy.close_session(db)
        raise
    g.db = db


def bind_request() -> None:
    try:
        verify_jwt_in_request()
    except CSRFError:
        raise Forbidden("Missing or invalid CSRF token; reload the page.", code="csrf_failed")
    except (JWTExtendedException, PyJWTError, TypeError, ValueError, OverflowError) as exc:
        # PyJWT checks `exp`, `iat` and `nbf` with int(): a list or an infinite number in a
        # correctly signed token raises TypeError or OverflowError, not a PyJWTError.
        refuse(f"invalid token: {type(exc).__name__}")
    claims = get_jwt()
    expires = claims.get("exp")
    if isinstance(expires, bool) or not isinstance(expires, int | float) or not math.isfinite(
            expires):
        refuse("invalid token: no usable exp claim")
    lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds()
    if expires - time.time() > lifetime + 60:
        refuse("invalid token: exp beyond any token this portal issues")
    tenant_id = _parse_uuid(claims.get("tenant_id"))
    user_id = _parse_uuid(claims.get("sub"))
    session_id = claims.get("sid")
    if (tenant_id is None or user_id is None or not isinstance(session_id, str)
            or not _SESSION_ID.fullmatch(session_id)):
        refuse("token without tenant, subject or session")

    # One statement checks tenant, user, membership and the sign-in (after the tenant setting
    # that starts the transaction on PostgreSQL); the view then carries on in the same
    # transaction, so a request sets its tenant once.
    with checked_session(tenant_id) as db:
        membership = active_membership(db, user_id, session_id)
        if not _issued_after(claims.get("iat"), membership.sessions_valid_after):
            refuse("session ended by a change to the membership")
    user = membership.user

    bind_membership(membership, membership.role)
    g.jwt_claims = claims
    g.csrf_token = claims.get("csrf")
    from_cookie = (
        "Authorization" not in request.headers
        and current_app.config["JWT_ACCESS_COOKIE_NAME"] in request.cookies
    )
    remaining = expires - time.time()  # seconds; any exp PyJWT accepted, even year 10000+
    if from_cookie and remaining < current_app.config["TOKEN_REFRESH_WINDOW"].total_seconds():
        # Implicit refresh. Decided before the view runs so the page it renders already
        # carries the new token's CSRF value in its forms.
        g.refreshed_token = issue_token(user, membership, session_id)
        g.csrf_token = get_csrf_token(g.refreshed_token)


def active_membership(db, user_id: uuid.UUID,
                      session_id: str | None = None) -> SignedInMembership:
    """The user's membership in the session's tenant, refusing unless tenant and user are
    active and the sign-in `session_id` (when there is one) has not ended.

    One statement reads all of it (portal.auth.queries.token_standing); a refusal names its
    reason from the same row.
    """
    standing = token_standing(db, user_id, session_id)
    membership = standing.membership
    if membership is None:
        if standing.tenant is None:
            refuse("unknown tenant")
        if not standing.tenant.is_active:
            refuse("suspended tenant")
        if standing.user is None:
            refuse("unknown or deactivated user")
        refuse("user is not a member of the token's tenant")
    if not standing.tenant.is_active:
        refuse("suspended tenant")
    if not standing.user.is_active:
        refuse("unknown or deactivated user")
    if standing.session_revoked:
        refuse("revoked token: its session has ended")
    return membership


def bind_membership(membership: SignedInMembership, role: str) -> None:
    g.tenant_id = membership.tenant_id
    g.tenant = membership.tenant
    g.user = membership.user
    g.role = role
    g.permissions = permissions_for(role)


def _send_refreshed_token(response):
    token = g.get("refreshed_token")
    if token and not g.get("token_replaced"):
        set_access_cookies(response, token)
    return response


def _bind_if_signed_in() -> None:
    """A signed-in browser keeps its navigation on a page that needs no sign-in (an error
    page, the API reference); a missing or refused token only means a page without it."""
    if current_app.config["JWT_ACCESS_COOKIE_NAME"] not in request.cookies:
        return
    try:
        bind_request()
    except PortalError:
        for name in ("user", "tenant", "tenant_id", "role", "permissions", "refreshed_token"):
            g.pop(name, None)


def _not_authenticated(exc: NotAuthenticated):
    return unauthorized_response(exc.message)


def _bare_401(_exc):
    return unauthorized_response()


def init_app(app) -> None:
    # More specific than the web layer's PortalError handler, so a refused token is answered
    # here: the sign-in redirect for browsers, WWW-Authenticate for scripts.
    app.register_error_handler(NotAuthenticated, _not_authenticated)
    app.register_error_handler(401, _bare_401)

    @app.before_request
    def _load_tenant_context() -> None:
        if request.endpoint is None:  # no such route: the 404 page, for a browser
            if not is_api_request():
                _bind_if_signed_in()
            return
        if _is_public_endpoint():
            if _view_says("keeps_sign_in"):
                _bind_if_signed_in()
            return
        # A request portal.apikeys bound by its key (its hook runs first) needs no token.
        if request.method != "OPTIONS" and g.get("api_key_id") is None:
            bind_request()

    app.after_request(_send_refreshed_token)

    @app.after_request
    def _private_to_the_signed_in(response):
        # Whatever a route behind the token check answers (the page, a fragment, JSON, even
        # the refusal) depends on who asks: no shared cache may keep or reuse it. Nor may
        # one keep a public page that carries a secret.
        if (not _is_public_endpoint() or g.get("user") is not None
                or _view_says("is_private")):
            response.headers["Cache-Control"] = "no-store"
            response.vary.add("Cookie")
        return response

    @app.context_processor
    def _tenant_switcher() -> dict:
        def user_tenants():
            user = g.get("user")
            return active_memberships(user.id) if user else []

        return {"user_tenants": user_tenants, "csrf_token": g.get("csrf_token", "")}
