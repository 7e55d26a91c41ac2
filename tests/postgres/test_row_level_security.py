"""Does row-level security keep tenants apart on its own, whatever the code above it does?

Each test goes through the app's own engine (the tenant-bound session) or raw SQL as the app
role, and checks the truth with a superuser connection, which RLS does not bind. Tenants A and
B are fresh tenants with a row in every tenant-scoped table (see conftest.py).
"""

import uuid

import psycopg
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import sessionmaker

from portal import pgsetup, tenancy
from portal.alerts.models import Alert
from portal.auth.models import Membership, User
from portal.db import TenantScoped
from portal.models import Base
from portal.tenancy import TenantSession
from portal.trades.models import Fill, Trade
from tests.postgres.conftest import app_engine, rejected_by_policy, set_tenant

pytestmark = pytest.mark.postgres


def tenant_counts(connection, table: str, tenant_id: uuid.UUID) -> tuple[int, int]:
    """(rows of `tenant_id`, rows of anyone else) that `connection` can see in `table`."""
    row = connection.execute(
        text(f'SELECT count(*) FILTER (WHERE tenant_id = :t), '
             f'count(*) FILTER (WHERE tenant_id <> :t) FROM "{table}"'),
        {"t": tenant_id},
    ).one()
    return row[0], row[1]


def setting(connection, name: str = "app.tenant_id") -> str | None:
    return connection.scalar(text("SELECT current_setting(:name, true)"), {"name": name})




# An alert written by hand as the app role, for the tenant given: the writes RLS must refuse.
INSERT_ALERT = text(
    "INSERT INTO alerts (tenant_id, id, title, message, severity, source, tags, created_at)"
    " VALUES (:tenant, gen_random_uuid(), :title, '', 'info', 'x', '[]', now())")


@pytest.fixture(scope="module")
def tables(superuser) -> list[str]:
    with superuser.connect() as connection:
        return pgsetup.tenant_tables(connection)


# --- the catalog: every tenant table walled, the app role unable to step around the wall ---


def test_every_table_with_a_tenant_id_has_rls_enabled_forced_and_a_policy(app, superuser):
    with superuser.connect() as connection:
        rows = connection.execute(text(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
            " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies"
            " FROM pg_class c"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
            "  AND NOT a.attisdropped"
            " WHERE c.relkind IN ('r', 'p') AND c.relnamespace = 'public'::regnamespace"
        )).all()
    assert rows, "no table with a tenant_id column found"
    unwalled = [
        row.relname for row in rows
        if not (row.relrowsecurity and row.relforcerowsecurity and row.policies)
    ]
    assert unwalled == [], f"tables without forced row-level security and a policy: {unwalled}"


def test_the_tenant_tables_in_the_database_are_exactly_the_tenant_scoped_models(tables):
    models = {
        mapper.class_.__table__.name
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantScoped)
    }
    assert set(tables) == models


def test_every_tenant_policy_compares_tenant_id_with_the_transaction_setting(superuser, tables):
    with superuser.connect() as connection:
        rows = connection.execute(text(
            "SELECT tablename, cmd, qual, with_check FROM pg_policies"
            " WHERE schemaname = 'public' AND policyname = :name"
        ), {"name": pgsetup.TENANT_POLICY}).all()
    by_table = {row.tablename: row for row in rows}
    assert set(by_table) == set(tables)
    for row in rows:
        assert row.cmd == "ALL"
        for clause in (row.qual, row.with_check):
            assert "current_setting('app.tenant_id'::text, true)" in clause
            assert "nullif" in clause.lower()


def test_the_app_role_is_no_superuser_has_no_bypassrls_and_owns_nothing(app, superuser):
    with app.app_context():
        engine, admin_engine = tenancy.get_engine(), tenancy.get_engine(admin=True)
    with engine.connect() as connection:
        role = connection.scalar(text("SELECT current_user"))
    with superuser.connect() as connection:
        attributes = connection.execute(
            text("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolinherit"
                 " FROM pg_roles WHERE rolname = :r"), {"r": role},
        ).one()
        owned = connection.scalar(
            text("SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
                 " WHERE r.rolname = :r"), {"r": role},
        )
        owns_database = connection.scalar(
            text("SELECT pg_get_userbyid(datdba) = :r FROM pg_database"
                 " WHERE datname = current_database()"), {"r": role},
        )
    assert tuple(attributes) == (False, False, False, False, False)
    assert owned == 0
    assert not owns_database
    assert pgsetup.rls_bypass_warnings(admin_engine, app.config["DATABASE_URL"]) == []


def test_the_app_role_can_read_but_never_write_the_shared_tables(app, app_role_engine):
    with app_role_engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM instruments")) > 0
        with pytest.raises(ProgrammingError) as refused:
            connection.execute(text(
                "INSERT INTO tenants (id, slug, name, plan, status, created_at)"
                " VALUES (gen_random_uuid(), 'sneaky', 'Sneaky', 'pro', 'active', now())"
            ))
        assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)


# --- reading: only the tenant that is set, and nothing without one ---


def test_with_tenant_a_set_raw_sql_sees_only_a_in_every_tenant_table(
    app_role_engine, walled_tenants, tables
):
    for label in ("A", "B", "A"):
        tenant_id = walled_tenants[label]
        with app_role_engine.begin() as connection:
            set_tenant(connection, tenant_id)
            counts = {table: tenant_counts(connection, table, tenant_id) for table in tables}
        assert {table: other for table, (_own, other) in counts.items()} == dict.fromkeys(
            tables, 0)
        assert all(own > 0 for own, _other in counts.values()), counts


def test_a_tenant_session_sees_only_its_own_rows_even_through_raw_sql(
    app, walled_tenants, tables
):
    with app.app_context():
        for label in ("A", "B", "A"):
            tenant_id = walled_tenants[label]
            db = tenancy.tenant_session(tenant_id)
            try:
                counts = {table: tenant_counts(db, table, tenant_id) for table in tables}
            finally:
                db.close()
            assert all(own > 0 and other == 0 for own, other in counts.values()), counts


def test_with_no_tenant_set_every_tenant_table_has_zero_rows(
    app, app_role_engine, walled_tenants, tables
):
    with app_role_engine.connect() as connection:
        assert setting(connection) in (None, "")
        for table in tables:
            assert connection.scalar(text(f'SELECT count(*) FROM "{table}"')) == 0, table
    with app.app_context(), tenancy.unscoped_session() as db:
        assert db.scalar(select(func.count()).select_from(Alert)) == 0
        assert db.scalar(select(func.count()).select_from(Trade)) == 0


def test_an_empty_tenant_setting_means_zero_rows_not_a_cast_error(app_role_engine, tables):
    with app_role_engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.tenant_id', '', true)"))
        for table in tables:
            assert connection.scalar(text(f'SELECT count(*) FROM "{table}"')) == 0, table


def test_a_tenant_session_with_the_orm_filter_switched_off_still_sees_only_its_own_rows(
    app, walled_tenants, orm_filter_off, superuser
):
    """The wall holds on its own: the companion SQLite test shows the same code leaking."""
    with superuser.connect() as connection:
        b_alert = connection.scalar(
            text("SELECT id FROM alerts WHERE tenant_id = :t"), {"t": walled_tenants["B"]}
        )
    with app.app_context():
        for label in ("A", "B", "A"):
            tenant_id = walled_tenants[label]
            db = tenancy.tenant_session(tenant_id)
            try:
                alerts = db.scalars(select(Alert)).all()
                trades = db.scalars(select(Trade).join(Fill, Fill.trade_id == Trade.id)).all()
                memberships = db.scalars(select(Membership)).all()
                stranger = db.get(Alert, (walled_tenants["B"], b_alert))
            finally:
                db.close()
            assert alerts and trades and memberships
            assert {row.tenant_id for row in alerts + trades + memberships} == {tenant_id}
            assert (stranger is None) == (label == "A")


def test_bulk_update_with_the_orm_filter_switched_off_touches_only_the_tenants_rows(
    app, walled_tenants, orm_filter_off, superuser
):
    marker = f"bulk {uuid.uuid4().hex[:8]}"
    with app.app_context(), tenancy.tenant_session_scope(walled_tenants["A"]) as db:
        db.execute(update(Alert).where(Alert.source == "rls-B").values(title=marker))
        db.execute(update(Alert).where(Alert.source == "rls-A").values(title=marker))
    with superuser.connect() as connection:
        touched = connection.execute(
            text("SELECT DISTINCT tenant_id FROM alerts WHERE title = :m"), {"m": marker}
        ).scalars().all()
    assert touched == [walled_tenants["A"]]


# --- writing: WITH CHECK refuses rows of another tenant ---


def test_inserting_a_row_for_tenant_b_while_a_is_set_is_rejected(
    app_role_engine, walled_tenants
):
    with pytest.raises(ProgrammingError) as refused, app_role_engine.begin() as connection:
        set_tenant(connection, walled_tenants["A"])
        connection.execute(INSERT_ALERT, {"tenant": walled_tenants["B"], "title": "smuggled"})
    assert rejected_by_policy(refused.value)


def test_moving_a_row_of_tenant_a_to_tenant_b_is_rejected(
    app_role_engine, walled_tenants, superuser
):
    with pytest.raises(ProgrammingError) as refused, app_role_engine.begin() as connection:
        set_tenant(connection, walled_tenants["A"])
        connection.execute(
            text("UPDATE alerts SET tenant_id = :b WHERE source = 'rls-A'"),
            {"b": walled_tenants["B"]},
        )
    assert rejected_by_policy(refused.value)
    with superuser.connect() as connection:
        assert connection.scalar(
            text("SELECT count(*) FROM alerts WHERE source = 'rls-A' AND tenant_id = :a"),
            {"a": walled_tenants["A"]},
        ) == 1


def test_updating_or_deleting_tenant_b_rows_while_a_is_set_changes_nothing(
    app_role_engine, walled_tenants, superuser, tables
):
    with app_role_engine.begin() as connection:
        set_tenant(connection, walled_tenants["A"])
        updated = connection.execute(
            text("UPDATE alerts SET title = 'hijacked' WHERE tenant_id = :b"),
            {"b": walled_tenants["B"]},
        ).rowcount
        deleted = {
            table: connection.execute(
                text(f'DELETE FROM "{table}" WHERE tenant_id = :b'), {"b": walled_tenants["B"]}
            ).rowcount
            for table in tables
        }
    assert updated == 0
    assert deleted == dict.fromkeys(tables, 0)
    with superuser.connect() as connection:
        for table in tables:
            own, _other = tenant_counts(connection, table, walled_tenants["B"])
            assert own > 0, table
        assert connection.scalar(
            text("SELECT count(*) FROM alerts WHERE title = 'hijacked'")) == 0


def test_writing_a_row_with_no_tenant_set_is_rejected(app_role_engine, walled_tenants):
    with pytest.raises(ProgrammingError) as refused, app_role_engine.begin() as connection:
        connection.execute(INSERT_ALERT, {"tenant": walled_tenants["A"], "title": "orphan"})
    assert rejected_by_policy(refused.value)


# --- the setting lives for one transaction, on whichever pooled connection serves it ---


@pytest.fixture
def pool_of_one(app):
    engine = app_engine(app, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def test_a_pool_of_one_connection_serving_a_b_a_shows_each_only_its_own_rows(
    pool_of_one, walled_tenants
):
    sessions = sessionmaker(pool_of_one, class_=TenantSession)
    backends = set()
    for label in ("A", "B", "A"):
        tenant_id = walled_tenants[label]
        with sessions(tenant_id=tenant_id) as db:
            backends.add(db.scalar(text("SELECT pg_backend_pid()")))
            seen = set(db.scalars(text("SELECT DISTINCT tenant_id FROM alerts")))
            sources = set(db.scalars(select(Alert.source)))
        assert seen == {tenant_id}
        assert sources == {f"rls-{label}"}
    assert len(backends) == 1, "the three sessions should have shared one pooled connection"


def test_the_tenant_setting_does_not_outlive_commit_or_rollback(pool_of_one, walled_tenants):
    sessions = sessionmaker(pool_of_one, class_=TenantSession)
    tenant_id = str(walled_tenants["A"])
    db = sessions(tenant_id=walled_tenants["A"])
    try:
        assert setting(db) == tenant_id
        db.commit()
        with pool_of_one.connect() as connection:  # the same, only, pooled connection
            assert setting(connection) in (None, "")
        # A new transaction in the same session sets it again (after_begin fires per begin).
        assert setting(db) == tenant_id
        db.rollback()
        with pool_of_one.connect() as connection:
            assert setting(connection) in (None, "")
            assert connection.scalar(text("SELECT count(*) FROM alerts")) == 0
    finally:
        db.close()


def test_the_tenant_setting_is_transaction_local_even_inside_one_connection(
    pool_of_one, walled_tenants
):
    with pool_of_one.connect() as connection:
        set_tenant(connection, walled_tenants["A"])
        assert setting(connection) == str(walled_tenants["A"])
        connection.commit()
        assert setting(connection) in (None, "")
        set_tenant(connection, walled_tenants["B"])
        connection.rollback()
        assert setting(connection) in (None, "")


def test_a_request_leaves_nothing_behind_on_the_pooled_connections(app, api_as, walled_tenants):
    response = api_as("admin@acme.test", "acme").get("/api/status")
    assert response.status_code == 200
    with app.app_context():
        engine = tenancy.get_engine()
        pooled = [engine.connect() for _ in range(engine.pool.checkedin() or 1)]
        try:
            assert {setting(connection) for connection in pooled} <= {None, ""}
        finally:
            for connection in pooled:
                connection.close()


# --- login reads the user's own memberships across tenants, and nothing else ---


def test_the_memberships_self_read_policy_shows_only_the_users_own_memberships(
    app, tenant_a, tenant_b
):
    with app.app_context():
        with tenancy.unscoped_session() as db:
            ops = db.scalar(select(User.id).where(User.email == "ops@example.test"))
        with tenancy.unscoped_session(user_id=ops) as db:
            memberships = db.scalars(select(Membership)).all()
            alerts = db.scalar(select(func.count()).select_from(Alert))
    assert {m.tenant_id for m in memberships} == {tenant_a.id, tenant_b.id}
    assert {m.user_id for m in memberships} == {ops}
    assert alerts == 0


def test_the_user_setting_never_lets_a_membership_be_written(app_role_engine, walled_tenants):
    with app_role_engine.connect() as connection:
        user_id = connection.scalar(text("SELECT id FROM users WHERE email = 'ops@example.test'"))
    with pytest.raises(ProgrammingError) as refused, app_role_engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.user_id', :u, true)"),
                           {"u": str(user_id)})
        connection.execute(
            text("INSERT INTO memberships (tenant_id, user_id, role, created_at)"
                 " VALUES (:t, :u, 'admin', now())"),
            {"t": walled_tenants["A"], "u": user_id},
        )
    assert rejected_by_policy(refused.value)


# --- opening an invitation link reads that one invitation across tenants, and nothing else ---


def test_the_invitation_token_read_policy_shows_only_the_invitation_of_that_token(
    app, walled_tenants
):
    from portal.members.invitation_lookup import open_invitation
    from portal.members.models import Invitation, invitation_token_hash
    from tests.postgres.conftest import sample_invitation_token

    token = sample_invitation_token("A")
    with app.app_context():
        with tenancy.unscoped_session(invitation_token_hash=invitation_token_hash(token)) as db:
            invitations = db.scalars(select(Invitation)).all()
            memberships = db.scalar(select(func.count()).select_from(Membership))
            alerts = db.scalar(select(func.count()).select_from(Alert))
        with tenancy.unscoped_session() as db:
            without_hash = db.scalar(select(func.count()).select_from(Invitation))
        ticket = open_invitation(token)
    assert [(i.tenant_id, i.email) for i in invitations] == [
        (walled_tenants["A"], "rls-a@example.test")]
    assert memberships == alerts == without_hash == 0
    assert ticket is not None and ticket.tenant_id == walled_tenants["A"]


def test_the_invitation_token_setting_never_lets_an_invitation_be_written(
    app_role_engine, walled_tenants
):
    from portal.members.models import invitation_token_hash
    from tests.postgres.conftest import sample_invitation_token

    digest = invitation_token_hash(sample_invitation_token("B"))
    with app_role_engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.invitation_token_hash', :h, true)"),
                           {"h": digest})
        changed = connection.execute(text(
            "UPDATE invitations SET role = 'admin' WHERE token_hash = :h"), {"h": digest})
        assert changed.rowcount == 0
        gone = connection.execute(text("DELETE FROM invitations WHERE token_hash = :h"),
                                  {"h": digest})
        assert gone.rowcount == 0
    with pytest.raises(ProgrammingError) as refused, app_role_engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.invitation_token_hash', :h, true)"),
                           {"h": digest})
        connection.execute(text(
            "INSERT INTO invitations (tenant_id, id, email, role, token_hash, created_at,"
            " expires_at) VALUES (:t, gen_random_uuid(), 'x@example.test', 'admin', :h, now(),"
            " now() + interval '1 day')"), {"t": walled_tenants["B"], "h": digest})
    assert rejected_by_policy(refused.value)


def test_the_app_role_may_add_a_user_but_never_change_or_remove_one(app_role_engine):
    email = f"grant-{uuid.uuid4().hex[:8]}@example.test"
    with app_role_engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO users (id, email, display_name, password_hash, is_active, created_at)"
            " VALUES (gen_random_uuid(), :e, 'Grant', 'x', true, now())"), {"e": email})
    for statement in ("UPDATE users SET password_hash = 'stolen' WHERE email = :e",
                      "DELETE FROM users WHERE email = :e"):
        with pytest.raises(ProgrammingError) as refused, app_role_engine.begin() as connection:
            connection.execute(text(statement), {"e": email})
        assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
