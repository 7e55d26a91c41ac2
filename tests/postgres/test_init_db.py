"""`init-db`, `seed-demo` and `import-prices` on a scratch PostgreSQL database.

Each test gets its own empty database (owned by the test owner role, a non-superuser, so FORCE
ROW LEVEL SECURITY binds the seeder) and an app role that does not exist yet, whose password
is full of quotes: init-db must create the role safely, with nothing more than it needs.
"""

import uuid

import pytest
from alembic import command
from sqlalchemy import text

from portal import migrate, pgsetup, tenancy
from portal.db import make_engine
from tests import pg
from tests.conftest import build_app
from tests.helpers import bearer

pytestmark = pytest.mark.postgres

NASTY_PASSWORD = "it's a \"pass\"word'); DROP ROLE postgres; --"


@pytest.fixture
def scratch():
    """An empty database, an app role name nobody has used, and a superuser engine on it."""
    name = pg.create_database()
    role = f"portal_test_app_{uuid.uuid4().hex[:10]}"
    superuser = make_engine(pg.superuser_url(name))
    apps = []

    def make_app(**overrides):
        database = {
            "DATABASE_URL": pg.url_for(name, (role, NASTY_PASSWORD)),
            "ADMIN_DATABASE_URL": pg.url_for(name, pg.OWNER_ROLE),
        }
        made = build_app({**database, **overrides})
        apps.append(made)
        return made

    yield make_app, role, superuser
    for made in apps:
        with made.app_context():
            tenancy.get_engine().dispose()
            tenancy.get_engine(admin=True).dispose()
    superuser.dispose()
    pg.drop_database(name)
    with pg.superuser_connection() as connection:
        connection.execute(f'DROP ROLE IF EXISTS "{role}"')


def init_db(app):
    return app.test_cli_runner().invoke(args=["init-db"])


def test_init_db_creates_a_restricted_app_role_and_can_run_twice(scratch):
    make_app, role, superuser = scratch
    app = make_app()
    first, second = init_db(app), init_db(app)
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "WARNING" not in first.output + second.output
    with superuser.connect() as connection:
        attributes = connection.execute(text(
            "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolinherit,"
            " rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = :r"
        ), {"r": role}).one()
        owned = connection.scalar(text(
            "SELECT count(*) FROM pg_class WHERE pg_get_userbyid(relowner) = :r"), {"r": role})
    assert tuple(attributes) == (True, False, False, False, False, False, True)
    assert owned == 0


def test_init_db_grants_the_app_role_exactly_what_it_needs(scratch):
    make_app, role, superuser = scratch
    assert init_db(make_app()).exit_code == 0
    with superuser.connect() as connection:
        def can(function: str, *args) -> bool:
            placeholders = ", ".join(f":a{i}" for i in range(len(args)))
            return connection.scalar(
                text(f"SELECT {function}(:role, {placeholders})"),
                {"role": role, **{f"a{i}": arg for i, arg in enumerate(args)}},
            )

        assert can("has_database_privilege", connection.scalar(text("SELECT current_database()")),
                   "CONNECT")
        assert can("has_schema_privilege", "public", "USAGE")
        assert not can("has_schema_privilege", "public", "CREATE")
        tenant_tables = {"alerts", "audit_records", "fills", "idempotency_records",
                         "invitations", "memberships", "revoked_sessions", "trades"}
        for table in ("tenants", "users", "instruments", "prices", "data_versions",
                      "alembic_version"):
            assert can("has_table_privilege", table, "SELECT"), table
            for write in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
                assert not can("has_table_privilege", table, write), (table, write)
        # Accepting an invitation may add a new user: INSERT on exactly these columns.
        for column in pgsetup.USER_INSERT_COLUMNS:
            assert can("has_column_privilege", "users", column, "INSERT"), column
            assert not can("has_column_privilege", "users", column, "UPDATE"), column
        for table in tenant_tables:
            for needed in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                assert can("has_table_privilege", table, needed), (table, needed)
            for extra in ("TRUNCATE", "REFERENCES", "TRIGGER"):
                assert not can("has_table_privilege", table, extra), (table, extra)


def test_seed_demo_and_import_prices_work_on_postgresql_and_the_app_serves_them(
    scratch, tmp_path
):
    make_app, _role, superuser = scratch
    app = make_app()
    runner = app.test_cli_runner()
    assert init_db(app).exit_code == 0
    first = runner.invoke(args=["seed-demo"])
    again = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "acme.alerts: 320 created" in first.output
    assert again.exit_code == 0, again.output
    assert "acme.alerts: 0 created" in again.output
    prices = tmp_path / "closes.csv"
    prices.write_text("date,symbol,close\n2024-01-02,ZZPG,12.5\n2024-01-03,ZZPG,12.75\n")
    imported = runner.invoke(args=["import-prices", str(prices)])
    assert imported.exit_code == 0, imported.output
    with superuser.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM prices WHERE symbol = 'ZZPG'")) == 2
        per_tenant = dict(connection.execute(text(
            "SELECT t.slug, count(*) FROM alerts a JOIN tenants t ON t.id = a.tenant_id"
            " GROUP BY t.slug")).all())
    assert per_tenant == {"acme": 320, "globex": 210}

    client = app.test_client()
    token = client.post("/api/auth/token", json={
        "email": "admin@acme.test", "password": "demo-password", "tenant": "acme"})
    assert token.status_code == 200, token.text
    status = client.get("/api/status",
                        headers=bearer(token.json['access_token']))
    assert status.status_code == 200
    assert status.json["database"] == "postgresql"
    assert status.json["tenant"]["slug"] == "acme"


def test_init_db_warns_when_the_app_would_connect_as_the_owner(scratch):
    make_app, _role, _superuser = scratch
    app = make_app()
    same = make_app(DATABASE_URL=app.config["ADMIN_DATABASE_URL"])
    result = init_db(same)
    assert result.exit_code == 0, result.output
    assert "WARNING" in result.output
    assert "bypass row-level security" in result.output


def test_init_db_refuses_in_production_when_the_app_would_connect_as_the_owner(scratch):
    make_app, _role, superuser = scratch
    app = make_app()
    production = make_app(DATABASE_URL=app.config["ADMIN_DATABASE_URL"], PORTAL_ENV="production")
    result = init_db(production)
    assert result.exit_code != 0
    assert "refusing" in result.output
    with superuser.connect() as connection:
        assert connection.scalar(text("SELECT to_regclass('alerts')")) is None


def test_downgrading_0002_removes_the_wall_and_upgrading_puts_it_back(scratch):
    make_app, _role, superuser = scratch
    app = make_app()
    assert init_db(app).exit_code == 0

    def walled_tables() -> dict:
        with superuser.connect() as connection:
            return dict(connection.execute(text(
                "SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity"
                " AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)"
                " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
                " AND a.attname = 'tenant_id' WHERE c.relkind = 'r'"
                " AND c.relnamespace = 'public'::regnamespace")).all())

    assert set(walled_tables().values()) == {True}
    with app.app_context(), tenancy.get_engine(admin=True).begin() as connection:
        command.downgrade(migrate.alembic_config(connection), "0001")
    assert set(walled_tables().values()) == {False}
    with app.app_context():
        migrate.upgrade(tenancy.get_engine(admin=True))
    assert set(walled_tables().values()) == {True}


def test_an_owner_without_createrole_gets_one_line_that_says_what_to_do(scratch):
    make_app, role, superuser = scratch
    app = make_app()
    owner = pg.OWNER_ROLE[0]
    with pg.superuser_connection() as connection:
        connection.execute(f'ALTER ROLE "{owner}" NOCREATEROLE')
    try:
        result = init_db(app)
    finally:
        with pg.superuser_connection() as connection:
            connection.execute(f'ALTER ROLE "{owner}" CREATEROLE')
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert f"ALTER ROLE {owner} CREATEROLE" in result.output
    assert role in result.output
    with superuser.connect() as connection:
        assert connection.scalar(text("SELECT to_regclass('alerts')")) is None
