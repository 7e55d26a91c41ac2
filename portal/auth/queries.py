import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import and_, bindparam, literal, select

from portal.auth.models import Membership, RevokedSession, Tenant, User
from portal.auth.schemas import normalise_email
from portal.tenancy import pipelined_scalar, unscoped_session


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


STANDING = "standing"  # data_versions: raised by the database with every change (0008)
_STANDING_VERSION = "SELECT version FROM data_versions WHERE name = %s"


class RememberedStandings:
    """Token checks this worker answered, each with the standing version it was read at.

    An answer is reused only while `data_versions['standing']` has not moved, and every
    change the check reads (a role, a removal, a suspension, a deactivation, a logout)
    raises that version in its own transaction (migration 0008). So a request that begins
    after the change committed reads the new version and checks afresh: the change applies
    at once, in every worker, exactly as without memory. Keys carry the database and the
    tenant; answers are immutable values. At most MAX_ENTRIES are kept (the oldest go first).
    """

    MAX_ENTRIES = 10_000

    def __init__(self):
        self._answers: dict[tuple, tuple[int, TokenStanding]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, version: int) -> TokenStanding | None:
        remembered = self._answers.get(key)
        if remembered is not None and remembered[0] == version:
            return remembered[1]
        return None

    def put(self, key: tuple, version: int, standing: TokenStanding) -> None:
        with self._lock:
            self._answers.pop(key, None)
            while len(self._answers) >= self.MAX_ENTRIES:
                self._answers.pop(next(iter(self._answers)))
            self._answers[key] = (version, standing)


remembered_standings = RememberedStandings()


def token_standing(db, user_id: uuid.UUID, session_id: str | None) -> TokenStanding:
    """The token check's answer: on PostgreSQL, the one this worker remembers for the
    sign-in while the standing version stands (RememberedStandings); otherwise, and on
    SQLite, read afresh (read_token_standing).

    The version is read first, in the request's transaction (it travels with the tenant
    setting, one round trip). The answer is remembered with that version even when a change
    commits between the two reads: the change raised the version past it, so the next
    request reads afresh.
    """
    connection = db.connection()
    if connection.dialect.name != "postgresql":
        return read_token_standing(db, user_id, session_id)
    version = pipelined_scalar(db, _STANDING_VERSION, (STANDING,))
    if version is None:  # a schema before 0008: nothing raises a version to trust
        return read_token_standing(db, user_id, session_id)
    key = (connection.engine.url, db.tenant_id, user_id, session_id)
    standing = remembered_standings.get(key, version)
    if standing is None:
        standing = read_token_standing(db, user_id, session_id)
        remembered_standings.put(key, version, standing)
    return standing


def read_token_standing(db, user_id: uuid.UUID, session_id: str | None) -> TokenStanding:
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
