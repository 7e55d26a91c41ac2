"""Reads of the signed-in organisation's members and invitations."""


from sqlalchemy import func, select

from portal.auth.models import Membership, User
from portal.db import utcnow
from portal.members.models import Invitation
from portal.pagination import Page, paginate
from portal.tenancy import get_or_404, session


def members_page(limit: int, cursor: str | None) -> Page:
    """One page of the organisation's members, newest first."""
    return paginate(select(Membership), Membership, limit, cursor, id_attr="user_id")


def get_member(raw_user_id) -> Membership:
    """This organisation's membership of that user, else the 404 every miss gets: a user
    who belongs only to other organisations is as unknown here as a random id."""
    # Fresh from the database: the request's own membership is already in the session.
    fresh = select(Membership).execution_options(populate_existing=True)
    return get_or_404(Membership, raw_user_id, stmt=fresh, id_attr="user_id")


def admin_count() -> int:
    return session.scalar(
        select(func.count()).select_from(Membership).where(Membership.role == "admin")
    )


def is_member_email(email: str) -> bool:
    """Is someone with this email a member here? Only this organisation's members are
    looked at (through the tenant-scoped memberships), never the shared users table alone."""
    found = session.scalar(
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(User.email == email)
        .limit(1)
    )
    return found is not None


def _pending():
    return select(Invitation).where(
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > utcnow(),
    )


def pending_invitations_page(limit: int, cursor: str | None) -> Page:
    """Invitations that can still be accepted, newest first."""
    return paginate(_pending(), Invitation, limit, cursor)


def pending_invitations_for(email: str) -> list[Invitation]:
    return list(session.scalars(_pending().where(Invitation.email == email)))


def get_invitation(raw_id) -> Invitation:
    return get_or_404(Invitation, raw_id)
