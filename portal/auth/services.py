"""Signing in, signing out and switching tenant: the only auth code that writes."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, g
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal import tenancy
from portal.audit import services as audit
from portal.auth.models import Membership, RevokedSession, User
from portal.auth.passwords import verify_password
from portal.auth.queries import (
    MembershipChoice,
    active_memberships,
    find_user,
    session_revoked,
)
from portal.auth.schemas import LoginRequest
from portal.db import utcnow
from portal.errors import BadCredentials, InvalidInput


@dataclass(frozen=True)
class SignIn:
    user: User
    membership: MembershipChoice


log = logging.getLogger("portal.auth")

SESSION_REVOCATION_SLACK = timedelta(minutes=1)


def authenticate(login: LoginRequest, *, require_tenant_choice: bool) -> SignIn:
    """Check the password and pick the membership the token will carry.

    An unknown email, a wrong password, no (active) membership and a suspended organisation
    all answer the same `BadCredentials`, and an unknown email still pays for one password hash,
    so neither the answer nor its time tells whether an email belongs to anyone. With several
    memberships and no tenant named, a script must say which one (`require_tenant_choice`);
    the browser starts in the first and offers the switcher.
    """
    user = find_user(login.email)
    password_ok = verify_password(user.password_hash if user else None, login.password)
    memberships = active_memberships(user.id) if user else []
    wanted = login.tenant
    chosen = [m for m in memberships if m.slug == wanted] if wanted else memberships[:1]

    reason = None
    if user is None or not password_ok or not user.is_active:
        reason = "bad credentials"
    elif not chosen:
        reason = "no active membership in tenant"
    if reason is not None:
        _audit_failure(user, memberships, wanted, login.email, reason)
        raise BadCredentials()
    if not wanted and len(memberships) > 1 and require_tenant_choice:
        raise InvalidInput(
            "tenant: you belong to several tenants; name one of "
            + ", ".join(m.slug for m in memberships),
            field="tenant",
            code="bad_request",
        )
    choice = chosen[0]
    with tenancy.tenant_session_scope(choice.tenant_id) as db:
        record_sign_in(db, user.id)
        audit.record(db, "auth.login", target_type="user", target_id=user.id,
                     actor_id=user.id, actor_email=user.email)
    return SignIn(user, choice)


def record_sign_in(db, user_id) -> None:
    """Note when the user last signed in to the session's tenant (the members list shows it).
    Per membership: another organisation never learns when someone used this one."""
    db.execute(
        update(Membership)
        .where(Membership.user_id == user_id)
        .values(last_sign_in_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def _audit_failure(user, memberships, wanted, email, reason) -> None:
    """A failed login lands in the audit log of the tenant it was aimed at, if any.

    Best effort: the refusal is the answer, and a record that cannot be written (a database
    hiccup) must not turn it into a 500 that tells the caller something a 401 would not."""
    if user is None:
        return
    target = None
    if wanted:
        target = next((m.tenant_id for m in memberships if m.slug == wanted), None)
    elif len(memberships) == 1:
        target = memberships[0].tenant_id
    if target is None:
        return
    try:
        with tenancy.tenant_session_scope(target) as db:
            audit.record(db, "auth.login_failed", target_type="user", target_id=user.id,
                         details={"reason": reason}, actor_id=user.id, actor_email=email)
    except Exception:  # any failure to write the record: log it and refuse as planned
        log.warning("failed login not audited", exc_info=True)


def end_session(action: str = "auth.logout") -> None:
    """Revoke the request's whole sign-in (every token with its `sid`) and audit it.

    Two requests ending one session at once (a double-clicked logout) both get past the token
    check; the loser's insert hits the primary key and rolls back: the session is ended
    either way, so that is success, not an error.
    """
    claims = g.jwt_claims
    db = tenancy.session
    # A refresh racing this logout may issue one more token of the session; it expires no
    # later than a token issued now would (plus the slack), so the row outlives it.
    ttl = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    db.add(
        RevokedSession(
            session_id=str(claims["sid"]),
            user_id=g.user.id,
            expires_at=utcnow() + ttl + SESSION_REVOCATION_SLACK,
        )
    )
    audit.record(db, action, target_type="user", target_id=g.user.id)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        if not session_revoked(db, str(claims["sid"])):
            raise


def switch_tenant(slug: str) -> MembershipChoice | None:
    """The membership to switch to, after checking it; the old session is ended."""
    wanted = slug.strip().lower()
    choice = next((m for m in active_memberships(g.user.id) if m.slug == wanted), None)
    if choice is None:
        return None
    end_session("auth.switch_out")
    with tenancy.tenant_session_scope(choice.tenant_id) as db:
        record_sign_in(db, g.user.id)
        audit.record(db, "auth.switch_in", target_type="user", target_id=g.user.id)
    return choice
