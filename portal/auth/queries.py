import uuid
from dataclasses import dataclass

from sqlalchemy import select

from portal.auth.models import Membership, RevokedSession, Tenant, User
from portal.tenancy import unscoped_session


@dataclass(frozen=True)
class MembershipChoice:
    tenant_id: uuid.UUID
    slug: str
    name: str
    role: str


def find_user(email: str) -> User | None:
    with unscoped_session() as db:
        return db.scalar(select(User).where(User.email == email.strip().lower()))


def active_memberships(user_id: uuid.UUID) -> list[MembershipChoice]:
    """The user's own memberships in active tenants, across tenants (login, switcher)."""
    with unscoped_session(user_id=user_id) as db:
        rows = db.execute(
            select(Membership.tenant_id, Tenant.slug, Tenant.name, Membership.role)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Membership.user_id == user_id, Tenant.status == "active")
            .order_by(Tenant.name)
        ).all()
    return [MembershipChoice(*row) for row in rows]


def session_revoked(db, session_id: str) -> bool:
    """Has this sign-in of the session's tenant ended?"""
    return db.get(RevokedSession, (db.tenant_id, session_id)) is not None
