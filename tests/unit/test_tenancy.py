"""Does the tenant-bound session keep every ORM path inside one tenant?

Two fresh tenants get known rows; each statement shape (plain select, join, union, count,
relationship load, get, bulk update, bulk delete) is run for A, then B, then A again in one
process, and the exact row sets are compared. Alternating catches a statement cache that
replays one tenant's parameters for another.
"""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, delete, event, func, select, union_all, update
from sqlalchemy.orm import aliased, selectinload

from portal import tenancy
from portal.alerts.models import Alert
from portal.audit.models import AuditRecord
from portal.tenancy import TenantContextError, TenantSession, tenant_session_scope
from portal.trades.models import Fill, Trade
from tests.conftest import backend

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def two_tenants(app, fresh_tenant_module):
    """Tenants A and B, each with three alerts, two trades (one with a fill) and an audit row."""
    made = {}
    for label in ("A", "B"):
        tenant = fresh_tenant_module(f"Tenancy {label}")
        with app.app_context(), tenant_session_scope(tenant.id) as db:
            alerts = [
                Alert(title=f"{label}-alert-{i}", severity="info", source=f"src-{label}",
                      created_at=NOW - timedelta(minutes=i))
                for i in range(3)
            ]
            trades = [
                Trade(symbol="AAPL", side="buy", quantity=Decimal(10 + i), order_type="market",
                      status="filled" if i == 0 else "pending", created_at=NOW)
                for i in range(2)
            ]
            trades[0].fills.append(Fill(price=Decimal("100.5"), quantity=Decimal(10)))
            db.add_all(alerts + trades)
            db.add(AuditRecord(action=f"test.{label}"))
            db.flush()
            made[label] = {
                "tenant": tenant,
                "alerts": {a.id for a in alerts},
                "trades": {t.id for t in trades},
                "filled": trades[0].id,
            }
    return made


@pytest.fixture(scope="module")
def fresh_tenant_module(app):
    from tests.conftest import make_fresh_tenant

    return lambda name: make_fresh_tenant(app, name)


def in_tenant(app, tenant, fn):
    with app.app_context(), tenant_session_scope(tenant.id) as db:
        return fn(db)


def alternate(app, two_tenants, fn):
    """Run fn for A, B, A and return the three results."""
    order = ["A", "B", "A"]
    return [(label, in_tenant(app, two_tenants[label]["tenant"], fn)) for label in order]


def test_select_sees_only_own_rows(app, two_tenants):
    for label, ids in alternate(app, two_tenants, lambda db: set(db.scalars(select(Alert.id)))):
        assert ids == two_tenants[label]["alerts"]


# Built once and shared by every session, like the statements the token check and the lists
# keep: the filtered copy the session caches for it must still bind each session's tenant,
# whether the ORM filter or `tenant_rows` narrows it.
SHARED_ALERT_IDS = select(Alert.id).where(Alert.severity == bindparam("severity"))
SHARED_ALERT_COLUMNS = select(Alert.id, Alert.title).where(Alert.severity == bindparam("severity"))
READERS = {
    "orm filter": lambda db, params: set(db.scalars(SHARED_ALERT_IDS, params)),
    "tenant_rows": lambda db, params: {
        row.id for row in tenancy.tenant_rows(db, SHARED_ALERT_COLUMNS, params)},
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_statement_shared_by_every_tenant_binds_each_sessions_own(app, two_tenants, reader):
    def ids(db):
        return READERS[reader](db, {"severity": "info"})

    for _round in range(2):
        for label, seen in alternate(app, two_tenants, ids):
            assert seen == two_tenants[label]["alerts"]


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_callers_parameter_cannot_name_another_tenant(app, two_tenants, reader):
    b = two_tenants["B"]["tenant"]

    def ids(db):
        return READERS[reader](db, {"severity": "info", tenancy.TENANT_PARAM: b.id})

    for label, seen in alternate(app, two_tenants, ids):
        assert seen == two_tenants[label]["alerts"]


@pytest.mark.parametrize("statement", [
    select(Alert.id).join(Trade, Trade.created_by == Alert.created_by),
    select(Alert.id).where(Alert.created_by.in_(select(Trade.created_by))),
    select(Alert.id, Trade.id),
], ids=["join", "subquery", "two tables"])
def test_column_reads_of_more_than_one_table_are_refused(app, two_tenants, statement):
    with pytest.raises(TenantContextError):
        in_tenant(app, two_tenants["A"]["tenant"],
                  lambda db: tenancy.tenant_rows(db, statement, {}))


def test_count_counts_only_own_rows(app, two_tenants):
    count = lambda db: db.scalar(select(func.count()).select_from(Alert))  # noqa: E731
    for _label, value in alternate(app, two_tenants, count):
        assert value == 3


def test_join_filters_both_sides(app, two_tenants):
    def joined(db):
        return set(db.execute(select(Trade.id, Fill.id).join(Fill, Fill.trade_id == Trade.id)))

    for label, rows in alternate(app, two_tenants, joined):
        assert {trade_id for trade_id, _ in rows} == {two_tenants[label]["filled"]}


def test_aliased_self_join_is_filtered(app, two_tenants):
    other = aliased(Alert)

    def pairs(db):
        return set(db.scalars(select(other.id).join(Alert, Alert.source == other.source)))

    for label, ids in alternate(app, two_tenants, pairs):
        assert ids == two_tenants[label]["alerts"]


def test_union_is_filtered_in_every_branch(app, two_tenants):
    def union_ids(db):
        stmt = union_all(select(Alert.id.label("id")), select(Trade.id.label("id")))
        return set(db.scalars(select(stmt.subquery().c.id)))

    for label, ids in alternate(app, two_tenants, union_ids):
        assert ids == two_tenants[label]["alerts"] | two_tenants[label]["trades"]


def test_relationship_loads_are_filtered(app, two_tenants):
    def eager(db):
        trades = db.scalars(select(Trade).options(selectinload(Trade.fills))).all()
        return {t.id: len(t.fills) for t in trades}

    def lazy(db):
        trade = db.scalar(select(Trade).where(Trade.status == "filled"))
        return trade.id, [fill.trade_id for fill in trade.fills]

    for label, counts in alternate(app, two_tenants, eager):
        assert set(counts) == two_tenants[label]["trades"]
        assert counts[two_tenants[label]["filled"]] == 1
    for label, (trade_id, fill_parents) in alternate(app, two_tenants, lazy):
        assert trade_id == two_tenants[label]["filled"]
        assert fill_parents == [trade_id]


def test_get_cannot_reach_another_tenants_row(app, two_tenants):
    a, b = two_tenants["A"], two_tenants["B"]
    b_alert = next(iter(b["alerts"]))

    def get_with_forged_key(db):
        # Even naming B's tenant id in the key does not load B's row.
        return db.get(Alert, (b["tenant"].id, b_alert))

    assert in_tenant(app, a["tenant"], get_with_forged_key) is None
    assert in_tenant(app, b["tenant"], get_with_forged_key).id == b_alert
    assert in_tenant(app, a["tenant"], get_with_forged_key) is None


def test_bulk_update_touches_only_own_rows(app, two_tenants):
    def rename(db):
        return db.execute(
            update(Alert).where(Alert.severity == "info").values(source="bulk-updated")
        ).rowcount

    def sources(db):
        return set(db.scalars(select(Alert.source)))

    assert in_tenant(app, two_tenants["A"]["tenant"], rename) == 3
    assert in_tenant(app, two_tenants["B"]["tenant"], sources) == {"src-B"}
    assert in_tenant(app, two_tenants["A"]["tenant"], sources) == {"bulk-updated"}


def test_bulk_delete_touches_only_own_rows(app, two_tenants):
    def wipe(db):
        return db.execute(delete(AuditRecord).where(AuditRecord.action.like("test.%"))).rowcount

    def actions(db):
        return set(db.scalars(select(AuditRecord.action)))

    assert in_tenant(app, two_tenants["B"]["tenant"], wipe) == 1
    assert in_tenant(app, two_tenants["A"]["tenant"], actions) == {"test.A"}
    assert in_tenant(app, two_tenants["B"]["tenant"], actions) == set()


def test_new_rows_are_stamped_with_the_sessions_tenant(app, two_tenants):
    tenant = two_tenants["A"]["tenant"]
    with app.app_context(), tenant_session_scope(tenant.id) as db:
        alert = Alert(title="stamped", severity="info")
        db.add(alert)
        db.flush()
        assert alert.tenant_id == tenant.id


def test_flushing_another_tenants_object_raises(app, two_tenants):
    a, b = two_tenants["A"]["tenant"], two_tenants["B"]["tenant"]
    with app.app_context(), tenant_session_scope(a.id) as db:
        db.add(Alert(tenant_id=b.id, title="smuggled", severity="info"))
        with pytest.raises(TenantContextError):
            db.flush()
        db.rollback()
    titles = in_tenant(app, b, lambda db: set(db.scalars(select(Alert.title))))
    assert "smuggled" not in titles


def test_moving_a_row_to_another_tenant_raises(app, two_tenants):
    a, b = two_tenants["A"]["tenant"], two_tenants["B"]["tenant"]
    with app.app_context(), tenant_session_scope(a.id) as db:
        alert = db.scalar(select(Alert).limit(1))
        alert.tenant_id = b.id
        with pytest.raises(TenantContextError):
            db.flush()
        db.rollback()


def test_a_session_without_a_tenant_cannot_exist(app):
    with app.app_context(), pytest.raises(TenantContextError):
        tenancy.tenant_session(None)


def test_a_session_that_lost_its_tenant_refuses_tenant_queries(app, two_tenants):
    with app.app_context():
        db = tenancy.tenant_session(two_tenants["A"]["tenant"].id)
        db.info["tenant_id"] = None
        try:
            with pytest.raises(TenantContextError):
                db.scalars(select(Alert)).all()
            with pytest.raises(TenantContextError):
                db.execute(update(Alert).values(source="x"))
        finally:
            db.close()


def test_the_request_session_is_unavailable_without_a_tenant(app):
    with app.test_request_context("/"), pytest.raises(TenantContextError):
        tenancy.session.scalars(select(Alert))


def test_removing_the_filter_registration_makes_isolation_fail(app, two_tenants, orm_filter_off):
    """Proves the isolation tests above can fail: without the listener, A sees B's rows on
    SQLite. On PostgreSQL row-level security still holds, which is the point of the second
    wall."""
    assert not event.contains(TenantSession, "do_orm_execute", tenancy._filter_to_tenant)
    ids = in_tenant(app, two_tenants["A"]["tenant"], lambda db: set(db.scalars(select(Alert.id))))
    if backend() == "sqlite":
        assert ids & two_tenants["B"]["alerts"], "without the filter B's rows should leak"
    else:
        assert two_tenants["A"]["alerts"] <= ids
        assert not ids & two_tenants["B"]["alerts"], "row-level security should still hold"


def test_the_filter_stays_registered(app):
    assert event.contains(TenantSession, "do_orm_execute", tenancy._filter_to_tenant)


def test_ids_are_random_uuids_not_sequences(app, two_tenants):
    ids = sorted(two_tenants["A"]["alerts"])
    assert all(isinstance(i, uuid.UUID) and i.version == 4 for i in ids)
