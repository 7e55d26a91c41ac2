"""Can every migration be rolled back and re-applied on PostgreSQL? (the runbook's rollback)

Generic on purpose: it walks whatever revisions exist, so a migration added later without a
working downgrade fails here. Each step is checked against a snapshot of the catalog (tables,
columns, indexes, constraints, row-level security and policies): undoing a revision must give
back exactly the schema before it, and redoing it exactly the schema after it.
"""

import pytest
from sqlalchemy import text

from portal import migrate
from portal.db import make_engine
from tests import pg

pytestmark = pytest.mark.postgres

SNAPSHOT_QUERIES = {
    "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default"
               " FROM information_schema.columns WHERE table_schema = current_schema()",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes"
               " WHERE schemaname = current_schema()",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                   " FROM pg_constraint WHERE connamespace = current_schema()::regnamespace",
    "row security": "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
                    " WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'",
    "policies": "SELECT tablename, policyname, cmd, qual, with_check FROM pg_policies"
                " WHERE schemaname = current_schema()",
    "triggers": "SELECT t.tgrelid::regclass::text, t.tgname, pg_get_triggerdef(t.oid)"
                " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal",
    "functions": "SELECT proname, pg_get_functiondef(oid) FROM pg_proc"
                 " WHERE pronamespace = current_schema()::regnamespace",
}


def snapshot(engine) -> dict:
    with engine.connect() as connection:
        state = {
            name: sorted(tuple(map(str, row)) for row in connection.execute(text(query)))
            for name, query in SNAPSHOT_QUERIES.items()
        }
    # Alembic's own bookkeeping table exists once anything ran; it is not the schema.
    return {name: [row for row in rows if row[0] != "alembic_version"]
            for name, rows in state.items()}


@pytest.fixture
def owner_engine():
    name = pg.create_database()
    engine = make_engine(pg.url_for(name, pg.OWNER_ROLE))
    yield engine
    engine.dispose()
    pg.drop_database(name)


def test_every_revision_downgrades_to_the_schema_before_it_and_upgrades_again(owner_engine):
    revisions = migrate.revisions_oldest_first()
    assert revisions, "no migrations found"
    previous, before = "base", snapshot(owner_engine)
    assert before["columns"] == []
    for revision in revisions:
        migrate.upgrade(owner_engine, revision)
        after = snapshot(owner_engine)
        assert after != before, f"migration {revision} changed nothing"
        migrate.downgrade(owner_engine, previous)
        assert migrate.current_revision(owner_engine) == (None if previous == "base" else previous)
        assert snapshot(owner_engine) == before, f"downgrading {revision} left changes behind"
        migrate.upgrade(owner_engine, revision)
        assert snapshot(owner_engine) == after, f"{revision} upgrades differently the second time"
        previous, before = revision, after


def test_upgrade_downgrade_to_base_upgrade_gives_the_same_schema(owner_engine):
    migrate.upgrade(owner_engine)
    at_head = snapshot(owner_engine)
    migrate.downgrade(owner_engine, "base")
    emptied = snapshot(owner_engine)
    assert all(rows == [] for rows in emptied.values()), emptied
    migrate.upgrade(owner_engine)
    assert snapshot(owner_engine) == at_head
    assert migrate.current_revision(owner_engine) == migrate.revisions_oldest_first()[-1]
