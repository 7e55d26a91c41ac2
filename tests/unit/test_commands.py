"""The flask commands: init-db, seed-demo, import-prices."""

import uuid

from sqlalchemy import func, select

from portal import tenancy
from portal.alerts.models import Alert
from portal.auth.models import Membership, Tenant, User
from portal.market.models import Instrument, Price
from portal.market.queries import latest_close
from portal.seed import USERS
from tests.helpers import run_command


def counts(app) -> dict:
    with app.app_context(), tenancy.unscoped_session(admin=True) as db:
        return {
            model.__name__: db.scalar(select(func.count()).select_from(model))
            for model in (Tenant, User, Instrument, Price)
        }


def test_init_db_is_idempotent(app):
    result = run_command(app, "init-db")
    assert result.exit_code == 0, result.output
    assert "newest migration" in result.output


def test_seed_demo_is_idempotent_and_complete(app, tenant_a, tenant_b):
    before = counts(app)
    result = run_command(app, "seed-demo")
    assert result.exit_code == 0, result.output
    assert counts(app) == before
    with app.app_context():
        with tenancy.unscoped_session(admin=True) as db:
            slugs = {t.slug: t.status for t in db.scalars(select(Tenant))}
            emails = set(db.scalars(select(User.email)))
        assert {"acme": "active", "globex": "active", "initech": "suspended"}.items() <= (
            slugs.items())
        assert {email for email, _n, _m in USERS} <= emails
        for tenant in (tenant_a, tenant_b):
            with tenancy.tenant_session_scope(tenant.id, admin=True) as db:
                assert db.scalar(select(func.count()).select_from(Alert)) >= 100
                roles = {m.user.email: m.role for m in db.scalars(select(Membership))}
            expected = {email: role for email, _n, ms in USERS
                        for slug, role in ms if slug == tenant.slug}
            assert expected.items() <= roles.items()


def test_demo_prices_cover_three_years_for_a_dozen_instruments(app):
    with app.app_context(), tenancy.unscoped_session() as db:
        stmt = select(Price.symbol, func.count()).group_by(Price.symbol)
        per_symbol = dict(db.execute(stmt).all())
    demo = {symbol: n for symbol, n in per_symbol.items() if n >= 700}
    assert len(demo) >= 12


def test_import_prices_loads_new_symbols(app, tmp_path):
    symbol = "IMP" + uuid.uuid4().hex[:4].upper()
    csv = tmp_path / "prices.csv"
    csv.write_text(f"date,symbol,close\n2026-01-05,{symbol},10.5\n2026-01-06,{symbol},11.25\n")
    result = run_command(app, "import-prices", str(csv))
    assert result.exit_code == 0, result.output
    assert symbol in result.output
    with app.app_context(), tenancy.unscoped_session() as db:
        assert db.get(Instrument, symbol) is not None
        day, close = latest_close(db, symbol)
    assert str(day) == "2026-01-06"
    assert str(close) == "11.25"


def test_import_prices_updates_an_existing_close(app, tmp_path):
    symbol = "UPD" + uuid.uuid4().hex[:4].upper()
    csv = tmp_path / "prices.csv"
    csv.write_text(f"date,symbol,close\n2026-01-05,{symbol},10\n")
    assert run_command(app, "import-prices", str(csv)).exit_code == 0
    csv.write_text(f"date,symbol,close\n2026-01-05,{symbol},12.5\n")
    assert run_command(app, "import-prices", str(csv)).exit_code == 0
    with app.app_context(), tenancy.unscoped_session() as db:
        assert str(latest_close(db, symbol)[1]) == "12.5"


def test_a_bad_row_is_reported_by_line_and_nothing_is_imported(app, tmp_path):
    symbol = "BAD" + uuid.uuid4().hex[:4].upper()
    cases = [
        (f"2026-01-05,{symbol},10\n2026-01-06,{symbol},-3\n", "line 3", "positive"),
        (f"2026-01-05,{symbol},10\n2026-13-06,{symbol},3\n", "line 3", "date"),
        (f"2026-01-05,{symbol},ten\n", "line 2", "not a number"),
        (f"2026-01-05,{symbol},10,extra\n", "line 2", "3 fields"),
        (f"2026-01-05,{symbol},10\n2026-01-05,{symbol},11\n", "line 3", "twice"),
        (f"2026-01-05,{symbol};DROP TABLE prices,10\n", "line 2", "ticker"),
    ]
    before = counts(app)
    for body, line, reason in cases:
        csv = tmp_path / "bad.csv"
        csv.write_text("date,symbol,close\n" + body)
        result = run_command(app, "import-prices", str(csv))
        assert result.exit_code == 1
        assert line in result.output and reason in result.output
        assert "has 1 bad line; nothing was imported" in result.output
    csv.write_text("when,what,price\n2026-01-05,X,1\n")
    assert "line 1" in run_command(app, "import-prices", str(csv)).output
    assert counts(app) == before


def test_prune_drops_only_expired_revocations_and_old_idempotency_records(app, fresh_tenant):
    from datetime import UTC, datetime, timedelta

    from portal.auth.models import RevokedSession
    from portal.idempotency.models import IdempotencyRecord

    tenant = fresh_tenant()
    now = datetime.now(UTC)
    with app.app_context(), tenancy.tenant_session_scope(tenant.id) as db:
        user_id = db.scalar(select(Membership.user_id).limit(1))
        db.add_all([
            RevokedSession(session_id="expired", user_id=user_id,
                           expires_at=now - timedelta(minutes=1)),
            RevokedSession(session_id="live", user_id=user_id,
                           expires_at=now + timedelta(minutes=30)),
            IdempotencyRecord(scope="s", key="old", request_hash="h", status_code=201,
                              response_body={}, created_at=now - timedelta(hours=30)),
            IdempotencyRecord(scope="s", key="new", request_hash="h", status_code=201,
                              response_body={}, created_at=now - timedelta(hours=1)),
        ])
    result = run_command(app, "prune")
    assert result.exit_code == 0, result.output
    assert "Pruned" in result.output
    with app.app_context(), tenancy.tenant_session_scope(tenant.id) as db:
        assert set(db.scalars(select(RevokedSession.session_id))) == {"live"}
        assert set(db.scalars(select(IdempotencyRecord.key))) == {"new"}


def test_downgrade_db_rolls_the_schema_back_and_init_db_brings_it_forward(tmp_path):
    from portal import migrate
    from tests.conftest import build_app

    url = f"sqlite:///{tmp_path / 'rollback.sqlite3'}"
    scratch = build_app({"DATABASE_URL": url, "ADMIN_DATABASE_URL": url})
    newest = migrate.revisions_oldest_first()[-1]
    assert run_command(scratch, "init-db").exit_code == 0
    result = run_command(scratch, "downgrade-db", "0001")
    assert result.exit_code == 0, result.output
    assert f"from {newest} to 0001" in result.output
    with scratch.app_context():
        assert migrate.current_revision(tenancy.get_engine(admin=True)) == "0001"
    assert run_command(scratch, "init-db").exit_code == 0
    with scratch.app_context():
        assert migrate.current_revision(tenancy.get_engine(admin=True)) == newest
