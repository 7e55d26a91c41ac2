import uuid
from dataclasses import dataclass
from functools import cache

from sqlalchemy import and_, bindparam, literal, select
from sqlalchemy.orm import noload
from sqlalchemy.orm.attributes import set_committed_value

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


@dataclass(frozen=True)
class TokenStanding:
    """What the database says about a token's tenant, user, membership and session."""

    tenant: Tenant | None
    user: User | None
    membership: Membership | None
    session_revoked: bool


@cache
def _token_standing_statement(with_session: bool):
    """Built once per process (SQLAlchemy spends more building a statement than running a
    cached one); the request's values travel as bound parameters."""
    # Named with its tenant too, like the membership below: the statement does not lean on
    # the session's filter alone.
    revoked = select(RevokedSession.session_id).where(
        RevokedSession.tenant_id == Tenant.id,
        RevokedSession.session_id == bindparam("session_id"),
    ).exists() if with_session else literal(False)
    return (
        select(Tenant, User, Membership, revoked)
        .select_from(Tenant)
        .outerjoin(User, User.id == bindparam("user_id"))
        # The membership is joined on its tenant as well as its user: the tenant-bound
        # session narrows it too, but the statement must not depend on that to pick the
        # membership of *this* tenant (a user may belong to several).
        .outerjoin(Membership, and_(Membership.user_id == User.id,
                                    Tenant.id == Membership.tenant_id))
        .where(Tenant.id == bindparam("tenant_id"))
        # The tenant and user are in this row already: no joined loads for the membership.
        .options(noload(Membership.tenant), noload(Membership.user))
    )


def token_standing(db, user_id: uuid.UUID, session_id: str | None) -> TokenStanding:
    """Everything the token check reads, in one statement: the session's tenant, the user,
    the user's membership there and whether the token's sign-in (if any: an API key has
    none) has ended.

    The tenant-bound session narrows the membership (in its join) and the revocation (in
    its EXISTS) to its own tenant, like any other statement; row-level security does too.
    Missing pieces come back as None, so a refusal can still name its reason.
    """
    params = {"tenant_id": db.tenant_id, "user_id": user_id}
    if session_id is not None:
        params["session_id"] = session_id
    row = db.execute(_token_standing_statement(session_id is not None), params).first()
    if row is None:
        return TokenStanding(None, None, None, False)
    tenant, user, membership, ended = row
    if membership is not None:
        set_committed_value(membership, "tenant", tenant)
        set_committed_value(membership, "user", user)
    return TokenStanding(tenant, user, membership, bool(ended))
