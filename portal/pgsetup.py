"""PostgreSQL only: the second wall between tenants, and the restricted role the app uses.

Row-level security (installed by migrations through `tenant_isolation_ddl`) compares each
row's `tenant_id` with the transaction-local setting `app.tenant_id`, which the tenant-bound
session sets whenever a transaction begins (see `portal.tenancy`). An unset or empty setting
matches nothing, so a query without a tenant sees zero rows instead of raising a cast error.

The policies only bind a role that cannot step around them: not a superuser, no BYPASSRLS,
owning no table (an owner could switch RLS off). `ensure_app_role` creates such a role from
`PORTAL_DATABASE_URL` and `grant_app_role` gives it exactly what it needs; both run as the
owner connection (`PORTAL_ADMIN_DATABASE_URL`) from `flask --app wsgi init-db`.
On SQLite nothing here runs.
"""

from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url

TENANT_SETTING = "nullif(current_setting('app.tenant_id', true), '')::uuid"
USER_SETTING = "nullif(current_setting('app.user_id', true), '')::uuid"

TENANT_POLICY = "tenant_isolation"
# Login reads the signing-in user's own memberships before any tenant is chosen. SELECT only:
# writing a membership still needs the tenant rule.
MEMBERSHIP_SELF_READ_POLICY = "membership_self_read"
# Opening an invitation link finds the invitation whose token hash the transaction names,
# before any tenant is known. SELECT only: accepting it writes through the tenant rule.
INVITATION_TOKEN_SETTING = "nullif(current_setting('app.invitation_token_hash', true), '')"
INVITATION_TOKEN_READ_POLICY = "invitation_token_read"
# The one write the app role may make to a shared table: accepting an invitation creates a
# new identity. Column INSERT only, so no existing user can be changed or removed.
USER_INSERT_COLUMNS = ("id", "email", "display_name", "password_hash", "is_active", "created_at")


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def tenant_isolation_ddl(connection: Connection, table: str) -> list[str]:
    """Statements that put `table` behind the tenant wall; for migrations."""
    quoted = _quote(connection, table)
    match = f"tenant_id = {TENANT_SETTING}"
    return [
        f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY",
        # FORCE: the table owner (the seeder's connection) is bound by the policy too.
        f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {TENANT_POLICY} ON {quoted} USING ({match}) WITH CHECK ({match})",
    ]


def drop_tenant_isolation_ddl(connection: Connection, table: str) -> list[str]:
    quoted = _quote(connection, table)
    return [
        f"DROP POLICY IF EXISTS {TENANT_POLICY} ON {quoted}",
        f"ALTER TABLE {quoted} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {quoted} DISABLE ROW LEVEL SECURITY",
    ]


def _read_one_row_ddl(connection: Connection, policy: str, table: str, column: str,
                      setting: str) -> list[str]:
    """A SELECT-only policy admitting the rows whose `column` the transaction's `setting`
    names: the lookups made before any tenant is known."""
    return [f"CREATE POLICY {policy} ON {_quote(connection, table)} FOR SELECT "
            f"USING ({column} = {setting})"]


def _drop_policy_ddl(connection: Connection, policy: str, table: str) -> list[str]:
    return [f"DROP POLICY IF EXISTS {policy} ON {_quote(connection, table)}"]


def membership_self_read_ddl(connection: Connection) -> list[str]:
    return _read_one_row_ddl(connection, MEMBERSHIP_SELF_READ_POLICY, "memberships", "user_id",
                             USER_SETTING)


API_KEY_LOOKUP_POLICY = "api_key_lookup"
API_KEY_HASH_SETTING = "nullif(current_setting('app.api_key_hash', true), '')"


def api_key_lookup_ddl(connection: Connection) -> list[str]:
    """The API-key gate reads the one key whose hash it names, before any tenant is known.
    SELECT only: creating or revoking a key still needs the tenant rule."""
    return _read_one_row_ddl(connection, API_KEY_LOOKUP_POLICY, "api_keys", "key_hash",
                             API_KEY_HASH_SETTING)


def drop_membership_self_read_ddl(connection: Connection) -> list[str]:
    return _drop_policy_ddl(connection, MEMBERSHIP_SELF_READ_POLICY, "memberships")


def invitation_token_read_ddl(connection: Connection) -> list[str]:
    return _read_one_row_ddl(connection, INVITATION_TOKEN_READ_POLICY, "invitations",
                             "token_hash", INVITATION_TOKEN_SETTING)


def drop_invitation_token_read_ddl(connection: Connection) -> list[str]:
    return _drop_policy_ddl(connection, INVITATION_TOKEN_READ_POLICY, "invitations")


def tenant_tables(connection: Connection) -> list[str]:
    """Every table of the current schema with a `tenant_id` column, from the catalog."""
    return list(connection.scalars(text(
        "SELECT c.relname FROM pg_class c"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
        "  AND NOT a.attisdropped"
        " WHERE c.relkind IN ('r', 'p') AND c.relnamespace = current_schema()::regnamespace"
        " ORDER BY c.relname"
    )))


def shared_tables(connection: Connection) -> list[str]:
    """Every other table of the current schema (tenants, users, prices, alembic_version, ...)."""
    tenant = set(tenant_tables(connection))
    every = connection.scalars(text(
        "SELECT c.relname FROM pg_class c"
        " WHERE c.relkind IN ('r', 'p') AND c.relnamespace = current_schema()::regnamespace"
        " ORDER BY c.relname"
    ))
    return [name for name in every if name not in tenant]


def app_role_name(app_url: str) -> str:
    name = make_url(app_url).username
    if not name:
        raise ValueError("PORTAL_DATABASE_URL must name the app role (postgresql://ROLE:...@...)")
    return name


def _execute(connection: Connection, statement: sql.Composable) -> None:
    """Run DDL composed with psycopg.sql, which quotes identifiers and literals itself
    (CREATE ROLE ... PASSWORD cannot take a bind parameter)."""
    with connection.connection.driver_connection.cursor() as cursor:
        cursor.execute(statement)


def ensure_app_role(engine: Engine, app_url: str) -> None:
    """Create the app role named in `app_url`, with its password, when it does not exist."""
    url = make_url(app_url)
    name = app_role_name(app_url)
    with engine.begin() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": name}
        )
        if exists:
            return
        statement = sql.SQL(
            "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT"
        ).format(sql.Identifier(name))
        if url.password:
            statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(url.password))
        _execute(connection, statement)


def grant_app_role(engine: Engine, app_url: str) -> None:
    """Grant the app role exactly what it needs, and nothing left over from earlier runs.

    CONNECT, USAGE on the schema, SELECT on shared tables (it never changes them: the owner
    connection loads tenants, users and prices; accepting an invitation may only add a new
    user, through a column INSERT grant), and SELECT/INSERT/UPDATE/DELETE on tenant-scoped
    tables, where the policies decide which rows. Ids are UUIDs, so no sequences.
    """
    name = app_role_name(app_url)
    role = sql.Identifier(name)
    with engine.begin() as connection:
        if name == connection.scalar(text("SELECT current_user")):
            return  # the owner already has everything; `rls_bypass_warnings` says why it's bad
        database = sql.Identifier(connection.scalar(text("SELECT current_database()")))
        schema = sql.Identifier(connection.scalar(text("SELECT current_schema()")))
        _execute(connection, sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}")
                 .format(schema, role))
        _execute(connection, sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, role))
        _execute(connection, sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
        for tables, privileges in (
            (shared_tables(connection), "SELECT"),
            (tenant_tables(connection), "SELECT, INSERT, UPDATE, DELETE"),
        ):
            if tables:
                _execute(connection, sql.SQL("GRANT {} ON {} TO {}").format(
                    sql.SQL(privileges),
                    sql.SQL(", ").join(sql.Identifier(table) for table in tables),
                    role,
                ))
        if "users" in shared_tables(connection):
            _execute(connection, sql.SQL("GRANT INSERT ({}) ON users TO {}").format(
                sql.SQL(", ").join(sql.Identifier(column) for column in USER_INSERT_COLUMNS),
                role,
            ))


def rls_bypass_warnings(engine: Engine, app_url: str) -> list[str]:
    """Why row-level security would not bind the app role, if it would not (empty: fine)."""
    name = app_role_name(app_url)
    with engine.connect() as connection:
        if name == connection.scalar(text("SELECT current_user")):
            return [
                f"the app connects as {name!r}, the same role as the admin connection, which "
                "owns the tables: an owner or superuser can bypass row-level security. Set "
                "PORTAL_DATABASE_URL to a separate role."
            ]
        role = connection.execute(
            text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :name"),
            {"name": name},
        ).first()
        owned = connection.scalar(
            text("SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
                 " WHERE r.rolname = :name"),
            {"name": name},
        )
    warnings = []
    if role is not None and role.rolsuper:
        warnings.append(f"the app role {name!r} is a superuser: row-level security is bypassed")
    if role is not None and role.rolbypassrls:
        warnings.append(f"the app role {name!r} has BYPASSRLS: row-level security is bypassed")
    if owned:
        warnings.append(
            f"the app role {name!r} owns {owned} relation(s) in this database: an owner can "
            "switch row-level security off"
        )
    return warnings
