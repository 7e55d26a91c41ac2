"""Values come back from PostgreSQL in the form the portal answers with, without Python
reworking each one: times in UTC itself (the session's time zone, portal.db.make_engine) and
decimals without the storage scale's padding zeros (Money's trim_scale)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import func, select, text

from portal import tenancy
from portal.alerts.models import Alert
from portal.trades.models import Trade
from tests.conftest import make_fresh_tenant

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def tenant(app):
    return make_fresh_tenant(app)


def test_the_session_time_zone_is_utc_whatever_the_server_default(app, tenant):
    with app.app_context(), tenancy.tenant_session_scope(tenant.id) as db:
        assert db.execute(text("SHOW TimeZone")).scalar() == "UTC"
        stored = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
        db.add(Alert(title="tz", severity="info", source="tz", created_at=stored))
        db.flush()
        read = db.scalar(select(Alert.created_at).where(Alert.source == "tz"))
    assert read == stored
    assert read.tzinfo is UTC  # psycopg's own UTC: no conversion per value


STORED = ["1.50", "100", "0.1000000000", "0.0000001", "123456789012345678.9", "0"]
AS_READ = ["1.5", "100", "0.1", "1E-7", "123456789012345678.9", "0"]


def test_money_is_read_without_padding_zeros(app, tenant):
    now = datetime.now(UTC)
    with app.app_context(), tenancy.tenant_session_scope(tenant.id) as db:
        for index, fee in enumerate(STORED):
            db.add(Trade(symbol="KO", side="buy", quantity=Decimal(1), order_type="market",
                         status="filled", fill_price=Decimal(fee), fee=Decimal(fee),
                         created_at=now + timedelta(seconds=index)))
        db.flush()
        db.expire_all()
        by_columns = db.scalars(select(Trade.fee).order_by(Trade.created_at)).all()
        by_objects = [trade.fill_price for trade in
                      db.scalars(select(Trade).order_by(Trade.created_at))]
        total = db.scalar(select(func.sum(Trade.quantity)))
        raw = db.execute(text("SELECT fee FROM trades ORDER BY created_at")).scalars().all()
    assert [str(value) for value in by_columns] == AS_READ
    assert [str(value) for value in by_objects] == AS_READ
    assert str(total) == str(len(STORED))
    # What the column holds is padded to its scale: the trimming is the select's.
    assert str(raw[0]) == "1.5000000000"


def test_pgbouncer_keeps_each_clients_time_zone(behind_pgbouncer, tenant):
    """Transaction pooling: another client of the same PgBouncer sets its own time zone on
    the two server connections the portal's transactions share; each client still reads in
    its own (PgBouncer tracks TimeZone per client)."""
    from tests import pg

    bouncer, pooled = behind_pgbouncer()
    with psycopg.connect(bouncer.url_for(pg.APP_ROLE), autocommit=True) as other:
        other.execute("SET TIME ZONE 'America/New_York'")
        for _ in range(6):
            with pooled.app_context(), tenancy.tenant_session_scope(tenant.id) as db:
                assert db.execute(text("SHOW TimeZone")).scalar() == "UTC"
                assert db.execute(text("SELECT now()")).scalar().tzinfo is UTC
            assert other.execute("SHOW TimeZone").fetchone()[0] == "America/New_York"
