"""How a request's transaction ends on PostgreSQL, and what survives it.

A JSON list's ROLLBACK travels with its page (tenancy.tenant_rows(final=True)), so the
request's closing rollback finds nothing left to end; a page that reads more ends its
transaction at the close as before. A sound transaction ends without psycopg forgetting the
statements it prepared (tenancy._roll_back_keeping_prepared), so a worker's repeated
statements are prepared on the server once instead of parsed and planned on every request.
"""

from pathlib import Path

import psycopg
import pytest
from flask import g
from sqlalchemy import event, text

from portal import tenancy
from portal.alerts.queries import list_alerts
from portal.alerts.schemas import AlertFilters

pytestmark = pytest.mark.postgres

INTRANS = psycopg.pq.TransactionStatus.INTRANS


@pytest.fixture
def endings(monkeypatch):
    """The server-side state of each transaction as the session's rollback begins: still
    open (the rollback is one more round trip) or already ended."""
    seen = []
    keep = tenancy._roll_back_keeping_prepared

    def spy(connection):
        if not (connection.invalidated or connection.closed):
            seen.append(connection.connection.driver_connection.info.transaction_status)
        return keep(connection)

    monkeypatch.setattr(tenancy, "_roll_back_keeping_prepared", spy)
    return seen


@pytest.mark.parametrize("path", ["/api/alerts", "/api/trades", "/api/trades/history",
                                  "/api/trades/pending"])
def test_a_json_list_ends_its_transaction_with_its_page(api_as, endings, path):
    client = api_as("trader@acme.test")
    assert client.get(path).status_code == 200  # warm: the token check is remembered
    endings.clear()
    response = client.get(path)
    assert response.status_code == 200 and response.get_json()["items"]
    assert endings and INTRANS not in endings


def test_a_page_that_reads_more_ends_its_transaction_at_the_close(browser_as, endings):
    browser = browser_as("trader@acme.test")
    assert browser.get("/alerts").status_code == 200
    endings.clear()
    assert browser.get("/alerts").status_code == 200
    assert INTRANS in endings


def test_after_a_final_read_the_session_reads_its_own_tenant_again_a_b_a(
        app, tenant_a, tenant_b):
    """The final read ends the transaction; whatever the session runs next begins a new one
    with the tenant set again (row-level security sees it), for each tenant in turn."""
    pages = {}
    for tenant in (tenant_a, tenant_b, tenant_a):
        with app.test_request_context("/api/alerts"):
            g.db = tenancy.tenant_session(tenant.id)
            try:
                first = list_alerts(AlertFilters(), 5, None, final=True)
                assert not g.db.in_transaction()
                again = list_alerts(AlertFilters(), 5, None)
                setting = g.db.execute(text("SELECT current_setting('app.tenant_id')")).scalar()
            finally:
                tenancy.close_session(g.pop("db"))
        assert setting == str(tenant.id)
        assert [row.id for row in first.items] == [row.id for row in again.items]
        pages.setdefault(tenant.slug, []).append({row.id for row in first.items})
    assert pages["acme"][0] == pages["acme"][1]
    assert pages["acme"][0] and pages["globex"][0]
    assert not pages["acme"][0] & pages["globex"][0]


def test_statements_stay_prepared_across_requests(app, api_as):
    """psycopg prepares a statement after its fifth run on a connection; requests that each
    end with a rollback must not start that count again every time. Behind a transaction
    pooler nothing is prepared at all (PORTAL_DATABASE_POOLER=transaction)."""
    client = api_as("viewer@acme.test")
    with app.app_context():
        tenancy.get_engine().dispose()  # one pooled connection: the requests' and the check's
    for _ in range(8):
        assert client.get("/api/trades").status_code == 200
    with app.app_context(), tenancy.get_engine().connect() as connection:
        prepared = connection.execute(
            text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    if app.config["DATABASE_POOLER"] == "transaction":
        assert prepared == []
        return
    assert any("FROM trades" in statement for statement in prepared), prepared
    assert any("set_config" in statement for statement in prepared), prepared


@pytest.fixture
def round_trips(app, tmp_path):
    """How many times the portal's connections have sent the server something and waited for
    its answer: read from libpq's own trace of every protocol message, started on each
    connection as it leaves the pool. A run of messages from the client that asks for an
    answer (Sync, Flush) and is followed by the server's is one round trip."""
    traces = []

    def trace(dbapi_connection, _record, _proxy):
        handle = (tmp_path / f"trace-{len(traces)}.txt").open("w")
        traces.append(handle)
        dbapi_connection.pgconn.trace(handle.fileno())
        dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

    with app.app_context():
        engine = tenancy.get_engine()
    event.listen(engine, "checkout", trace)

    def count() -> int:
        trips = 0
        for handle in traces:
            handle.flush()
            asking = False
            for line in Path(handle.name).read_text().splitlines():
                fields = line.split("\t")
                if len(fields) < 3 or fields[0] not in ("F", "B"):
                    continue  # a statement's text running on over several lines
                direction, message = fields[0], fields[2]
                if direction == "F":
                    asking = asking or message in ("Sync", "Flush")
                elif asking:
                    trips, asking = trips + 1, False
        return trips

    yield count
    event.remove(engine, "checkout", trace)
    with app.app_context():
        engine.dispose()  # the traced connections, whose trace files close below
    for handle in traces:
        handle.close()


def test_a_warm_json_list_is_two_round_trips(api_as, round_trips):
    """BEGIN, the tenant setting and the token check's version read go out together, then
    the page with its ROLLBACK: two round trips. (psycopg on its own waits for a pipelined
    BEGIN's answer before it sends anything else: one more.)"""
    client = api_as("trader@acme.test")
    assert client.get("/api/trades").status_code == 200  # warm: the token check is remembered
    before = round_trips()
    response = client.get("/api/trades")
    assert response.status_code == 200 and response.get_json()["items"]
    assert round_trips() - before == 2


def test_after_a_request_statements_outside_the_tenancy_begin_their_own_transaction(
        app, api_as, tenant_a):
    """The tenancy sends its own BEGIN with the driver in autocommit mode; back in the pool
    the connection begins transactions itself again, so a session with no tenant setting
    still runs its statements in one transaction that a rollback undoes."""
    client = api_as("admin@acme.test")
    with app.app_context():
        tenancy.get_engine().dispose()  # one pooled connection: the request's, then ours
    assert client.get("/api/alerts").status_code == 200
    with app.app_context(), tenancy.get_engine().connect() as connection:
        driver = connection.connection.driver_connection
        assert driver.autocommit is False
        connection.execute(text("CREATE TEMPORARY TABLE autocommit_probe (n int)"))
        connection.execute(text("INSERT INTO autocommit_probe VALUES (1)"))
        connection.rollback()
        exists = connection.execute(
            text("SELECT to_regclass('pg_temp.autocommit_probe') IS NOT NULL")).scalar()
    assert exists is False
