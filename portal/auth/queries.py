import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import and_, bindparam, literal, select

from portal.auth.models import Membership, RevokedSession, Tenant, User
from portal.auth.schemas import normalise_email
from portal.tenancy import unscoped_session


@dataclass(frozen=True)
class MembershipChoice:
    tenant_id: uuid.UUID
    slug: str
    name: str
    role: str


def find_user(email: str) -> User | None:
    with unscoped_session() as db:
        return db.scalar(select(User).where(User.email == normalise_email(email)))


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


@dataclass(frozen=True, slots=True)
class SignedInTenant:
    """The tenant a request acts for, as the token check read it: plain values, no ORM
    object (nothing is loaded or written through it)."""

    id: uuid.UUID
    slug: str
    name: str
    plan: str
    status: str

    @property
    def is_active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class SignedInUser:
    id: uuid.UUID
    email: str
    display_name: str
    is_active: bool


@dataclass(frozen=True, slots=True)
class SignedInMembership:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    sessions_valid_after: datetime | None
    tenant: SignedInTenant
    user: SignedInUser


@dataclass(frozen=True)
class TokenStanding:
    """What the database says about a token's tenant, user, membership and session."""

    tenant: SignedInTenant | None
    user: SignedInUser | None
    membership: SignedInMembership | None
    session_revoked: bool


@cache
def _token_standing_statement(with_session: bool):
    """Built once per process (SQLAlchemy spends more building a statement than running a
    cached one); the request's values travel as bound parameters."""
    # Named with its tenant, like the membership below: the statement picks this tenant's
    # rows by itself (it runs without the session's ORM filter, see token_standing).
    revoked = select(RevokedSession.session_id).where(
        RevokedSession.tenant_id == Tenant.id,
        RevokedSession.session_id == bindparam("session_id"),
    ).exists() if with_session else literal(False)
    return (
        select(Tenant.id, Tenant.slug, Tenant.name, Tenant.plan, Tenant.status,
               User.id, User.email, User.display_name, User.is_active,
               Membership.role, Membership.sessions_valid_after, revoked)
        .select_from(Tenant)
        .outerjoin(User, User.id == bindparam("user_id"))
        # The membership is joined on its tenant as well as its user, to pick the membership
        # of *this* tenant (a user may belong to several).
        .outerjoin(Membership, and_(Membership.user_id == User.id,
                                    Tenant.id == Membership.tenant_id))
        .where(Tenant.id == bindparam("tenant_id"))
    )


def token_standing(db, user_id: uuid.UUID, session_id: str | None) -> TokenStanding:
    """Everything the token check reads, in one statement: the session's tenant, the user,
    the user's membership there and whether the token's sign-in (if any: an API key has
    none) has ended.

    It runs on the tenant session's own connection and transaction (after its tenant
    setting, so row-level security narrows it like any statement), as a Core statement:
    every tenant-scoped table in it is joined on the tenant by the statement itself, and its
    row becomes plain values instead of three ORM objects, which on every request cost more
    than the check. Missing pieces come back as None, so a refusal can still name its
    reason.
    """
    params = {"tenant_id": db.tenant_id, "user_id": user_id}
    if session_id is not None:
        params["session_id"] = session_id
    row = db.connection().execute(
        _token_standing_statement(session_id is not None), params).first()
    if row is None:
        return TokenStanding(None, None, None, False)
    (tenant_id, slug, name, plan, status, found_user_id, email, display_name, is_active,
     role, valid_after, ended) = row
    tenant = SignedInTenant(tenant_id, slug, name, plan, status)
    user = (SignedInUser(found_user_id, email, display_name, is_active)
            if found_user_id is not None else None)
    membership = (SignedInMembership(tenant_id, found_user_id, role, valid_after, tenant, user)
                  if role is not None else None)
    return TokenStanding(tenant, user, membership, bool(ended))
