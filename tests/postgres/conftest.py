"""PostgreSQL-only tests: the row-level security wall, the app role, init-db on PostgreSQL.

They run when PORTAL_TEST_DATABASE=postgresql (the second stage of .ci/run). On SQLite they
are not collected at all, rather than collected and skipped: there is nothing to skip, the
SQLite stage proves its own wall in tests/unit/test_orm_filter_is_the_sqlite_wall.py.
"""

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from portal import pgsetup, tenancy
from portal.alerts.models import Alert
from portal.apikeys.models import ApiKey
from portal.audit.models import AuditRecord
from portal.auth.models import RevokedSession, User
from portal.db import make_engine
from portal.idempotency.models import IdempotencyRecord
from portal.members.models import Invitation, invitation_token_hash
from portal.trades.models import Fill, Trade
from tests import pg
from tests.conftest import backend, build_app, make_fresh_tenant

collect_ignore_glob = [] if backend() == "postgresql" else ["test_*.py"]


@pytest.fixture(scope="session")
def superuser(app):
    """Ground truth: a superuser engine on the test database (RLS does not apply to it)."""
    database = make_url(app.config["ADMIN_DATABASE_URL"]).database
    engine = make_engine(pg.superuser_url(database))
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app_role_engine(app):
    """A separate engine connecting exactly as the app does, for raw SQL as the app role."""
    engine = app_engine(app)
    yield engine
    engine.dispose()


def app_engine(app, **options):
    """A new engine connecting exactly as the app does (through PgBouncer, when it does)."""
    return make_engine(app.config["DATABASE_URL"], pooler=app.config["DATABASE_POOLER"],
                       **options)


def set_tenant(connection, tenant_id) -> None:
    connection.execute(
        text("SELECT set_config('app.tenant_id', :tenant_id, true)"), {"tenant_id": str(tenant_id)}
    )


def sample_rows(label: str, member_id: uuid.UUID) -> list:
    """One row in every tenant-scoped table except memberships (the fresh tenant has those)."""
    now = datetime.now(UTC)
    trade = Trade(symbol="AAPL", side="buy", quantity=Decimal(5), order_type="market",
                  status="filled", fill_price=Decimal("101.25"), created_at=now)
    trade.fills.append(Fill(price=Decimal("101.25"), quantity=Decimal(5), executed_at=now))
    return [
        Alert(title=f"rls {label}", severity="info", source=f"rls-{label}", created_at=now),
        trade,
        AuditRecord(action=f"rls.{label}"),
        IdempotencyRecord(scope="rls", key=f"key-{label}", request_hash="0" * 64,
                          status_code=201, response_body={"label": label}),
        RevokedSession(session_id=f"rls-{label}-{uuid.uuid4().hex}", user_id=member_id,
                     expires_at=now + timedelta(hours=1)),
        ApiKey(user_id=member_id, name=f"rls {label}", prefix="ap_rls", role="admin",
               key_hash=f"rls-{label}-{uuid.uuid4().hex}"),
        Invitation(email=f"rls-{label.lower()}@example.test", role="viewer",
                   token_hash=invitation_token_hash(sample_invitation_token(label)),
                   created_by=member_id, expires_at=now + timedelta(hours=72)),
    ]


def sample_invitation_token(label: str) -> str:
    """The link secret of tenant `label`'s sample invitation (each run has its own database)."""
    return f"rls-invitation-{label}"


@pytest.fixture(scope="session")
def walled_tenants(app, superuser):
    """Two fresh tenants, A and B, each with a row in every tenant-scoped table."""
    tenants = {}
    for label in ("A", "B"):
        tenant = make_fresh_tenant(app, f"RLS {label}")
        with app.app_context():
            with tenancy.unscoped_session() as db:
                member_id = db.scalar(select(User.id).where(User.email == tenant.emails["admin"]))
            with tenancy.tenant_session_scope(tenant.id, admin=True) as db:
                db.add_all(sample_rows(label, member_id))
        tenants[label] = tenant.id
    with superuser.connect() as connection:
        for table in pgsetup.tenant_tables(connection):
            for label, tenant_id in tenants.items():
                count = connection.scalar(
                    text(f'SELECT count(*) FROM "{table}" WHERE tenant_id = :t'), {"t": tenant_id}
                )
                assert count, (
                    f"tenant {label} has no row in {table}: give {table} a sample row in "
                    "tests/postgres/conftest.py so the isolation tests cover it"
                )
    return tenants


@pytest.fixture(scope="module")
def behind_pgbouncer(app, database):
    """Start a PgBouncer of the module's own (transaction mode, 2 server connections) in front
    of the test database, and an app connected through it as the restricted role:
    `bouncer, pooled_app = behind_pgbouncer(**settings)`. Both end with the module."""
    from tests.pgbouncer import PgBouncer

    started = []

    def start(**overrides):
        bouncer = PgBouncer(make_url(app.config["ADMIN_DATABASE_URL"]).database,
                            [pg.APP_ROLE, pg.OWNER_ROLE], pool_size=2).start()
        pooled = build_app({**database, "DATABASE_URL": bouncer.url_for(pg.APP_ROLE),
                            "DATABASE_POOLER": "transaction", **overrides})
        started.append((bouncer, pooled))
        return bouncer, pooled

    yield start
    for bouncer, pooled in started:
        with pooled.app_context():
            tenancy.get_engine().dispose()
        bouncer.close()


def wait_behind_a_held_lock(app, tenant_id, lock: str, request):
    """Sends `request` (a callable) in a thread while another transaction of the tenant holds
    the advisory lock `lock`; checks it waits, releases the lock and returns its answer."""
    answers = []
    with app.app_context():
        blocker = tenancy.tenant_session(tenant_id)
        tenancy.lock_within_tenant(blocker, lock)
        worker = threading.Thread(target=lambda: answers.append(request()))
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive(), f"the request should wait for the lock {lock}"
        blocker.rollback()
        blocker.close()
    worker.join(timeout=10)
    assert len(answers) == 1, f"the request did not finish once {lock} was released"
    return answers[0]


def rejected_by_policy(exc: ProgrammingError) -> bool:
    return isinstance(exc.orig, psycopg.errors.InsufficientPrivilege) and (
        "row-level security" in str(exc.orig)
    )
