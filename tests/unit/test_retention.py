"""Does `prune` apply each tenant's retention, and only to what may go? (SPEC §7 Retention)

Acknowledged alerts go 90 days after acknowledgement and audit records after 365 days by
default; each tenant can have its own (`set-retention`). Open alerts, trades and fills stay
however old. Runs on SQLite and PostgreSQL (through the owner connection and the tenant wall).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from portal import tenancy
from portal.alerts.models import Alert
from portal.audit.models import AuditRecord
from portal.auth.models import Tenant
from portal.trades.models import Fill, Trade


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def run(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def add_aged_rows(app, tenant_id, expired_alerts: int = 1) -> None:
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        for number in range(expired_alerts):
            db.add(Alert(title=f"acknowledged 91 days ago #{number}", severity="info",
                         created_at=days_ago(100), acknowledged_at=days_ago(91)))
        db.add_all([
            Alert(title="created long ago, acknowledged 89 days ago", severity="info",
                  created_at=days_ago(300), acknowledged_at=days_ago(89)),
            Alert(title="open for 1000 days", severity="critical", created_at=days_ago(1000)),
            AuditRecord(action="aged.366", created_at=days_ago(366)),
            AuditRecord(action="aged.364", created_at=days_ago(364)),
        ])
        trade = Trade(symbol="KO", side="buy", quantity=Decimal(1), order_type="market",
                      status="filled", fill_price=Decimal(50), created_at=days_ago(2000),
                      filled_at=days_ago(2000))
        trade.fills.append(Fill(price=Decimal(50), quantity=Decimal(1),
                                executed_at=days_ago(2000)))
        db.add(trade)


def contents(app, tenant_id) -> dict:
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        return {
            "alerts": sorted(db.scalars(select(Alert.title))),
            "audit": sorted(db.scalars(select(AuditRecord.action))),
            "trades": len(db.scalars(select(Trade.id)).all()),
            "fills": len(db.scalars(select(Fill.id)).all()),
        }


@pytest.fixture
def deletes(app):
    """The DELETE statements the owner connection runs, by table."""
    seen = []

    def count(_conn, _cursor, statement, *_rest):
        if statement.lstrip().upper().startswith("DELETE FROM"):
            seen.append(statement.split()[2].strip('"'))

    with app.app_context():
        engine = tenancy.get_engine(admin=True)
    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_a_new_tenant_keeps_alerts_90_days_and_audit_365(app, fresh_tenant):
    tenant = fresh_tenant()
    with app.app_context(), tenancy.unscoped_session() as db:
        stored = db.get(Tenant, tenant.id)
        assert (stored.alert_retention_days, stored.audit_retention_days) == (90, 365)


def test_prune_applies_each_tenants_retention_in_batches_and_spares_the_other_tenant(
        app, fresh_tenant, deletes):
    pruned, other = fresh_tenant(), fresh_tenant()
    add_aged_rows(app, pruned.id, expired_alerts=5)
    add_aged_rows(app, other.id, expired_alerts=5)
    assert "400 days" in run(app, "set-retention", other.slug, "--alerts-days", "400",
                             "--audit-days", "800")
    other_before = contents(app, other.id)

    output = run(app, "prune", "--batch-size", "2")

    assert contents(app, pruned.id) == {
        "alerts": ["created long ago, acknowledged 89 days ago", "open for 1000 days"],
        "audit": ["aged.364"],
        "trades": 1,
        "fills": 1,
    }
    # The other tenant's rows are exactly as they were: its retention is longer.
    assert contents(app, other.id) == other_before
    assert len(other_before["alerts"]) == 7 and "aged.366" in other_before["audit"]
    # Five expired alerts, two per transaction: three batches, never one big delete.
    assert deletes.count("alerts") >= 3
    assert "pruned 5 acknowledged alerts and 1 audit record." in output


def test_open_alerts_trades_and_fills_survive_the_shortest_retention(app, fresh_tenant):
    tenant = fresh_tenant()
    add_aged_rows(app, tenant.id)
    run(app, "set-retention", tenant.slug, "--alerts-days", "1", "--audit-days", "1")
    run(app, "prune")
    assert contents(app, tenant.id) == {
        "alerts": ["open for 1000 days"], "audit": [], "trades": 1, "fills": 1,
    }


@pytest.mark.parametrize("args", [
    ("set-retention", "no-such-org", "--alerts-days", "30"),
    ("set-retention", "acme", "--alerts-days", "0"),
    ("set-retention", "acme", "--audit-days", "-5"),
    ("prune", "--batch-size", "0"),
])
def test_bad_retention_input_is_refused_and_changes_nothing(app, args):
    with app.app_context(), tenancy.unscoped_session() as db:
        before = db.execute(select(Tenant.slug, Tenant.alert_retention_days,
                                   Tenant.audit_retention_days)).all()
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 2
    assert "Invalid value" in result.output
    with app.app_context(), tenancy.unscoped_session() as db:
        after = db.execute(select(Tenant.slug, Tenant.alert_retention_days,
                                  Tenant.audit_retention_days)).all()
    assert sorted(after) == sorted(before)
