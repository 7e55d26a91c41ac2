"""A throwaway PostgreSQL database per test run (PORTAL_TEST_DATABASE=postgresql).

The cluster is reached as a superuser (`PORTAL_TEST_PG_URL`, default the local `postgres` at
127.0.0.1:5432). Each run gets a database with a unique name, owned by a non-superuser owner
role (so FORCE ROW LEVEL SECURITY binds the seeder as it binds production's owner). Roles are
cluster-wide, so each run's owner and app roles carry the run's unique suffix too: runs on one
cluster never share or alter each other's roles. At exit the run drops its databases, then its
roles; only a killed run (SIGKILL, a crash) leaves `portal_test_*` behind, and
`DROP DATABASE … WITH (FORCE)` / `DROP ROLE` by hand removes them. The app role's grants are
made per database by init-db's own code (`portal.pgsetup.grant_app_role`, from
tests/conftest.py).
"""

import atexit
import os
import uuid

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

SUPERUSER_URL = os.environ.get(
    "PORTAL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RUN = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"
OWNER_ROLE = (f"portal_test_owner_{RUN}", "portal-test-owner-password")
APP_ROLE = (f"portal_test_app_{RUN}", "portal-test-app-password")

OWNER_OPTIONS = "LOGIN NOSUPERUSER NOBYPASSRLS CREATEROLE"
APP_OPTIONS = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT"


def superuser_connection() -> psycopg.Connection:
    return psycopg.connect(SUPERUSER_URL, autocommit=True)


_created_databases: list[str] = []
_created_roles: list[str] = []


def _drop_what_this_run_created() -> None:
    """Databases first: a role that still owns one cannot be dropped."""
    for name in reversed(_created_databases):
        drop_database(name)
    with superuser_connection() as connection:
        for role in reversed(_created_roles):
            connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


atexit.register(_drop_what_this_run_created)


def ensure_role(connection: psycopg.Connection, name: str, password: str, options: str) -> None:
    exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
    verb = "ALTER" if exists else "CREATE"
    connection.execute(
        sql.SQL(verb + " ROLE {} " + options + " PASSWORD {}").format(
            sql.Identifier(name), sql.Literal(password)
        )
    )
    if not exists:
        _created_roles.append(name)


def url_for(database: str, role: tuple[str, str]) -> str:
    base = make_url(SUPERUSER_URL)
    return base.set(username=role[0], password=role[1], database=database).render_as_string(
        hide_password=False
    )


def superuser_url(database: str) -> str:
    return make_url(SUPERUSER_URL).set(database=database).render_as_string(hide_password=False)


def create_database(owner: tuple[str, str] = OWNER_ROLE) -> str:
    """A new empty database owned by `owner`; dropped at exit. Returns its name."""
    name = f"portal_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with superuser_connection() as connection:
        ensure_role(connection, *owner, OWNER_OPTIONS)
        connection.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(owner[0])
        ))
    _created_databases.append(name)
    return name


def drop_database(name: str) -> None:
    # WITH (FORCE) ends the app's pooled connections that are still open at exit.
    with superuser_connection() as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def create_throwaway_database() -> dict:
    with superuser_connection() as connection:
        ensure_role(connection, *APP_ROLE, APP_OPTIONS)
    name = create_database()
    return {
        "DATABASE_URL": url_for(name, APP_ROLE),
        "ADMIN_DATABASE_URL": url_for(name, OWNER_ROLE),
    }
