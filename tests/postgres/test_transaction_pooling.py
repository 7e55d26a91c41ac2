"""Does the portal work behind PgBouncer in transaction mode? (PORTAL_DATABASE_POOLER)

The module starts its own PgBouncer (tests/pgbouncer.py: Debian's pgbouncer on a free loopback
port, pool_mode = transaction, 2 server connections) in front of the test database, and an app
connected through it as the restricted role. Many clients of several tenants then share two
server connections, so every transaction may land on a connection another tenant's
transaction just used.
"""

import threading
import uuid
from collections import defaultdict

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from portal import tenancy
from portal.audit.models import AuditRecord
from portal.db import make_engine
from tests import pg
from tests.conftest import ApiClient, make_fresh_tenant, mint_token

pytestmark = pytest.mark.postgres

TENANTS = 3
CLIENTS_PER_TENANT = 4  # 12 concurrent clients on a pool of 2 server connections
ORDERS_PER_CLIENT = 6
SYMBOLS = ("AAPL", "MSFT", "KO")


@pytest.fixture(scope="module")
def pooled(behind_pgbouncer):
    return behind_pgbouncer()


@pytest.fixture(scope="module")
def bouncer(pooled):
    return pooled[0]


@pytest.fixture(scope="module")
def pooled_app(pooled):
    return pooled[1]


def repeat_across_connections(engine, runs: int = 12) -> list[str]:
    """The same statement many times from three pooled clients, each run its own transaction:
    what psycopg prepares after a few runs, and what a transaction pooler then breaks."""
    errors = []
    connections = [engine.connect() for _ in range(3)]
    try:
        for run in range(runs):
            for connection in connections:
                try:
                    with connection.begin():
                        connection.execute(text("SELECT CAST(:n AS integer) + 1"), {"n": run})
                except DBAPIError as exc:
                    errors.append(str(exc.orig).splitlines()[0])
    finally:
        for connection in connections:
            connection.close()
    return errors


def test_without_the_setting_prepared_statements_break_behind_the_pooler(bouncer):
    # The control: proves this PgBouncer really pools by transaction, so the tests below
    # would catch a regression.
    engine = make_engine(bouncer.url_for(pg.APP_ROLE), pooler="none")
    try:
        errors = repeat_across_connections(engine)
    finally:
        engine.dispose()
    assert any("prepared statement" in error for error in errors), errors


def test_with_the_setting_the_same_statements_run_cleanly(bouncer):
    engine = make_engine(bouncer.url_for(pg.APP_ROLE), pooler="transaction")
    try:
        assert repeat_across_connections(engine) == []
    finally:
        engine.dispose()


def test_concurrent_orders_from_several_tenants_have_no_errors_and_no_crossings(
        app, pooled_app, superuser):
    tenants = [make_fresh_tenant(app, f"Pooled {n}") for n in range(TENANTS)]
    tokens = {tenant.id: mint_token(app, tenant.emails["trader"], tenant.slug)
              for tenant in tenants}
    placed: dict[uuid.UUID, list[str]] = defaultdict(list)
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(TENANTS * CLIENTS_PER_TENANT)

    def client(tenant_id: uuid.UUID, number: int) -> None:
        api = ApiClient(pooled_app.test_client(), tokens[tenant_id])
        start.wait()
        for order in range(ORDERS_PER_CLIENT):
            response = api.post("/api/trades", json={
                "symbol": SYMBOLS[(number + order) % len(SYMBOLS)], "side": "buy",
                "quantity": "1", "order_type": "market"})
            listing = api.get("/api/trades?limit=5")
            with lock:
                if response.status_code != 201 or listing.status_code != 200:
                    failures.append(f"{response.status_code} {listing.status_code} "
                                    f"{response.text[:200]}")
                else:
                    placed[tenant_id].append(response.json["id"])

    threads = [threading.Thread(target=client, args=(tenant.id, number))
               for tenant in tenants for number in range(CLIENTS_PER_TENANT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    expected = CLIENTS_PER_TENANT * ORDERS_PER_CLIENT
    assert all(len(placed[tenant.id]) == expected for tenant in tenants)

    # Each tenant sees exactly its own orders, through the pooler...
    for tenant in tenants:
        api = ApiClient(pooled_app.test_client(), tokens[tenant.id])
        listed = api.get(f"/api/trades?limit={expected + 10}").json["items"]
        assert {item["id"] for item in listed} == set(placed[tenant.id])
        assert all("tenant_id" not in item for item in listed)
    # ...and the database, read past row-level security, agrees on every row's owner.
    with superuser.connect() as connection:
        owners = dict(connection.execute(
            text("SELECT id::text, tenant_id FROM trades WHERE tenant_id = ANY(:tenants)"),
            {"tenants": [tenant.id for tenant in tenants]}).all())
    assert owners == {trade_id: tenant_id for tenant_id, ids in placed.items()
                      for trade_id in ids}
    # Every order left its audit record, in its own tenant (one transaction each).
    with app.app_context():
        for tenant in tenants:
            with tenancy.tenant_session_scope(tenant.id, admin=True) as db:
                audited = set(db.scalars(select(AuditRecord.target_id)
                                         .where(AuditRecord.action == "order.placed")))
            assert audited == set(placed[tenant.id])


def test_a_transaction_through_the_pooler_sees_no_tenant_left_by_the_previous_one(bouncer):
    # Two server connections, many transactions: whichever one serves the next transaction,
    # the tenant set by the last one is gone and row-level security shows nothing.
    url = bouncer.url_for(pg.APP_ROLE)
    with psycopg.connect(url, prepare_threshold=None, autocommit=True) as first, \
            psycopg.connect(url, prepare_threshold=None, autocommit=True) as second:
        for _ in range(5):
            with first.transaction():
                first.execute("SELECT set_config('app.tenant_id', %s, true)",
                              [str(uuid.uuid4())])
            for connection in (first, second):
                with connection.transaction():
                    assert connection.execute(
                        "SELECT current_setting('app.tenant_id', true)").fetchone()[0] in ("", None)
                    assert connection.execute("SELECT count(*) FROM trades").fetchone()[0] == 0
