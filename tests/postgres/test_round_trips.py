"""How a request's transaction ends on PostgreSQL, and what survives it.

A JSON list's ROLLBACK travels with its page (tenancy.tenant_rows(final=True)), so the
request's closing rollback finds nothing left to end; a page that reads more ends its
transaction at the close as before. A sound transaction ends without psycopg forgetting the
statements it prepared (tenancy._roll_back_keeping_prepared), so a worker's repeated
statements are prepared on the server once instead of parsed and planned on every request.
"""

import psycopg
import pytest
from flask import g
from sqlalchemy import text

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
