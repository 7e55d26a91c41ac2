"""Is each tenant's newest-first list page one index range scan?

The alert and trade list queries are captured as the app runs them (the real query
functions, the ORM tenant filter and the RLS policy all included) and explained on the same
tenant-bound session. Run with `-s` to print the plans (the README quotes them).
"""

import pytest
from flask import g
from sqlalchemy import event, text

from portal import tenancy
from portal.alerts.queries import list_alerts
from portal.alerts.schemas import AlertFilters
from portal.trades.queries import list_trades
from portal.trades.schemas import TradeFilters

pytestmark = pytest.mark.postgres

LISTS = {
    "alerts": (lambda cursor: list_alerts(AlertFilters(), 50, cursor), "ix_alerts_tenant_created"),
    "trades": (lambda cursor: list_trades(TradeFilters(), 50, cursor), "ix_trades_tenant_created"),
}


@pytest.fixture(scope="module", autouse=True)
def fresh_statistics(superuser):
    with superuser.begin() as connection:
        connection.execute(text("ANALYZE alerts, trades"))


def explain_page(app, tenant_id, table: str, first_page: bool) -> list[str]:
    run_list, _index = LISTS[table]
    captured = []

    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        if f"FROM {table}" in statement and "ORDER BY" in statement:
            captured.append((statement, parameters))

    with app.test_request_context():
        engine = tenancy.get_engine()
        g.db = tenancy.tenant_session(tenant_id)
        try:
            cursor = None if first_page else run_list(None).next_cursor
            event.listen(engine, "before_cursor_execute", capture)
            try:
                run_list(cursor)
            finally:
                event.remove(engine, "before_cursor_execute", capture)
            statement, parameters = captured[-1]
            plan = g.db.connection().exec_driver_sql("EXPLAIN " + statement, parameters)
            return list(plan.scalars())
        finally:
            g.db.close()


@pytest.mark.parametrize("first_page", [True, False], ids=["first page", "next page"])
@pytest.mark.parametrize("table", sorted(LISTS))
def test_a_tenants_newest_first_page_is_a_backward_scan_of_the_tenant_created_index(
    app, tenant_a, table, first_page
):
    plan = explain_page(app, tenant_a.id, table, first_page)
    print(f"\nEXPLAIN {table} list, {'first' if first_page else 'next'} page:\n"
          + "\n".join(plan))
    text_plan = "\n".join(plan)
    _run, index = LISTS[table]
    assert f"Index Scan Backward using {index} on {table}" in text_plan
    index_cond = next(line for line in plan if "Index Cond:" in line)
    assert f"tenant_id = '{tenant_a.id}'::uuid" in index_cond
    if not first_page:  # the range starts at the cursor, not at the tenant's newest row
        assert "ROW(created_at, id) < ROW(" in index_cond
    assert "Sort" not in text_plan
    assert "Seq Scan" not in text_plan
