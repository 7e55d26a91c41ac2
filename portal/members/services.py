"""Changing roles, removing members, inviting and accepting invitations: the only members
code that writes. Every change is audited with its before and after, in its own transaction."""

import uuid
from dataclasses import dataclass

from flask import g
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal import tenancy
from portal.apikeys import services as apikeys
from portal.audit import services as audit
from portal.auth.models import Membership, User
from portal.auth.passwords import hash_password, verify_password
from portal.auth.queries import find_user
from portal.db import utcnow
from portal.errors import BadCredentials, Conflict, Gone
from portal.members import queries
from portal.members.invitation_lookup import OpenInvitation
from portal.members.models import (
    INVITATION_LIFETIME,
    Invitation,
    invitation_token_hash,
    new_invitation_token,
)
from portal.members.schemas import InvitationCreate, NewAccount
from portal.permissions import ROLES
from portal.tenancy import lock_within_tenant, session
from portal.times import utc_text

# Serialises every change that could leave the organisation without an admin (role changes
# and removals) inside one tenant; see tenancy.lock_within_tenant.
MEMBERS_LOCK = "members"


def _refuse(conflict: Conflict) -> Conflict:
    # Roll back first, so the lock is released and a page can render the refusal from a
    # clean session.
    session.rollback()
    return conflict


def _last_admin_refusal(action: str) -> Conflict:
    return _refuse(Conflict(f"The organisation's last admin cannot be {action}; make "
                            "someone else an admin first.", code="last_admin"))


def _end_access(membership: Membership, reason: str) -> None:
    """End what else lets the member act here: their API keys. Their sessions end through the
    membership itself (deleted, or `sessions_valid_after` moved on)."""
    apikeys.revoke_member_keys(membership.user_id, reason)


def change_role(raw_user_id, role: str) -> Membership:
    """Give a member another role. A demotion ends their sessions in this organisation."""
    lock_within_tenant(session, MEMBERS_LOCK)
    membership = queries.get_member(raw_user_id)
    before = membership.role
    if role == before:
        session.commit()
        return membership
    if before == "admin" and queries.admin_count() <= 1:
        raise _last_admin_refusal("demoted")
    membership.role = role
    if ROLES.index(role) < ROLES.index(before):  # a demotion
        membership.sessions_valid_after = utcnow()
        _end_access(membership, "demoted")
    audit.record(session, "member.role_changed", target_type="user",
                 target_id=membership.user_id,
                 details={"email": membership.user.email,
                          "before": {"role": before}, "after": {"role": role}})
    session.commit()
    return membership


def remove_member(raw_user_id) -> None:
    """End someone's membership of this organisation; their other memberships stay."""
    lock_within_tenant(session, MEMBERS_LOCK)
    membership = queries.get_member(raw_user_id)
    if membership.role == "admin" and queries.admin_count() <= 1:
        raise _last_admin_refusal("removed")
    _end_access(membership, "removed")
    audit.record(session, "member.removed", target_type="user", target_id=membership.user_id,
                 details={"email": membership.user.email,
                          "before": {"role": membership.role}, "after": None})
    session.delete(membership)
    session.commit()


def invite(data: InvitationCreate) -> tuple[Invitation, str]:
    """A new invitation and its link's secret (shown once; only its hash is stored).

    Nothing here looks at accounts outside this organisation, so the answer (and the time it
    takes) is the same whether or not the email has an account elsewhere. Inviting an email
    again replaces its earlier pending invitation, whose link can no longer be shown.
    """
    if queries.is_member_email(data.email):
        raise _refuse(Conflict("email: is already a member of this organisation",
                               code="already_member", field="email"))
    now = utcnow()
    for earlier in queries.pending_invitations_for(data.email):
        earlier.revoked_at = now
        audit.record(session, "invitation.revoked", target_type="invitation",
                     target_id=earlier.id,
                     details={"email": earlier.email, "reason": "replaced",
                              "before": {"status": "pending"}, "after": {"status": "revoked"}})
    token = new_invitation_token()
    invitation = Invitation(email=data.email, role=data.role,
                            token_hash=invitation_token_hash(token), created_by=g.user.id,
                            created_at=now, expires_at=now + INVITATION_LIFETIME)
    session.add(invitation)
    session.flush()
    audit.record(session, "invitation.created", target_type="invitation",
                 target_id=invitation.id,
                 details={"email": invitation.email, "before": None,
                          "after": {"role": invitation.role, "status": "pending",
                                    "expires_at": utc_text(invitation.expires_at)}})
    session.commit()
    return invitation, token


def revoke_invitation(raw_id) -> Invitation:
    """Withdraw a pending invitation; revoking again (or an expired one) changes nothing.
    An accepted invitation is history: 409."""
    invitation = queries.get_invitation(raw_id)
    if invitation.status == "accepted":
        raise _refuse(Conflict("This invitation has already been accepted; remove the "
                               "member instead.", code="already_accepted"))
    if invitation.status == "pending":
        result = session.execute(
            update(Invitation)
            .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None),
                   Invitation.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            audit.record(session, "invitation.revoked", target_type="invitation",
                         target_id=invitation.id,
                         details={"email": invitation.email, "before": {"status": "pending"},
                                  "after": {"status": "revoked"}})
    session.commit()
    session.refresh(invitation)
    if invitation.status == "accepted":  # lost a race with the person accepting it
        raise Conflict("This invitation has just been accepted; remove the member "
                       "instead.", code="already_accepted")
    return invitation


# Accepting: the person has no token for the organisation yet.

# Accepting fails with BadCredentials (a wrong password), Conflict (the email has an account
# already: sign in instead) or Gone (the link was used, revoked or expired meanwhile).

WRONG_PASSWORD = "That password does not match the account of this email address."
HAS_ACCOUNT = ("This email address already has an account: sign in with its password to "
               "accept.")


@dataclass(frozen=True)
class Accepted:
    user: User
    membership: Membership


def accept_with_existing_account(ticket: OpenInvitation, password: str) -> Accepted:
    """The invited email already has an account: its password proves it is them."""
    user = find_user(ticket.email)
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        raise BadCredentials(WRONG_PASSWORD, field="password")
    return _join(ticket, user, new_user=False)


def accept_with_new_account(ticket: OpenInvitation, account: NewAccount) -> Accepted:
    """No account yet: create one with this name and password, then join."""
    if find_user(ticket.email) is not None:
        raise Conflict(HAS_ACCOUNT, field="password")
    user = User(id=uuid.uuid4(), email=ticket.email, display_name=account.display_name,
                password_hash=hash_password(account.password), is_active=True,
                created_at=utcnow())
    return _join(ticket, user, new_user=True)


def _join(ticket: OpenInvitation, user: User, *, new_user: bool) -> Accepted:
    """Claim the invitation once and create the membership, in one transaction of the
    invitation's own tenant: two tabs accepting at once make one membership."""
    now = utcnow()
    try:
        with tenancy.tenant_session_scope(ticket.tenant_id) as db:
            if new_user:
                db.add(user)
                db.flush()
            claimed = db.execute(
                update(Invitation)
                .where(Invitation.id == ticket.id, Invitation.token_hash == ticket.token_hash,
                       Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
                       Invitation.expires_at > now)
                .values(accepted_at=now, accepted_by=user.id)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed != 1:
                raise Gone("This invitation link is no longer valid.")
            membership = db.get(Membership, (ticket.tenant_id, user.id))
            if membership is None:
                # Sessions from any earlier membership (before a removal) stay ended; whole
                # seconds, like a token's `iat`, so the sign-in below is valid.
                membership = Membership(user_id=user.id, role=ticket.role, created_at=now,
                                        last_sign_in_at=now,
                                        sessions_valid_after=now.replace(microsecond=0))
                db.add(membership)
                audit.record(db, "member.added", target_type="user", target_id=user.id,
                             actor_id=user.id, actor_email=user.email,
                             details={"email": user.email, "invitation_id": str(ticket.id),
                                      "before": None, "after": {"role": ticket.role}})
            audit.record(db, "invitation.accepted", target_type="invitation",
                         target_id=ticket.id, actor_id=user.id, actor_email=user.email,
                         details={"email": user.email, "new_account": new_user,
                                  "before": {"status": "pending"},
                                  "after": {"status": "accepted"}})
            audit.record(db, "auth.login", target_type="user", target_id=user.id,
                         actor_id=user.id, actor_email=user.email)
    except IntegrityError:
        # The same email signed up through another invitation a moment ago.
        raise Conflict(HAS_ACCOUNT, field="password")
    return Accepted(user, membership)
