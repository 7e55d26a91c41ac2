"""A version of everything the token check reads, raised by the database itself.

`data_versions['standing']` goes up, in the same transaction, with every change to what the
token check reads of tenants, users, memberships and revoked sessions: a demotion, a removal,
a suspension, a deactivation, a logout. A worker may then keep the token check's answer for
a sign-in and reuse it while the version has not moved, which one primary-key read tells
(portal.auth.queries). Triggers, not application code, raise it, so a change made by any
process, a command or psql counts.

PostgreSQL only: on SQLite, the single-process development database, the token check reads
the rows every time.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The columns the token check reads (portal.auth.queries.read_token_standing), by table: an
# UPDATE of anything else (a membership's last sign-in, a password hash) leaves every
# worker's remembered answers standing. Inserts, deletes and truncates always count.
READ_COLUMNS = {
    "tenants": ("id", "slug", "name", "plan", "status"),
    "users": ("id", "email", "display_name", "is_active"),
    "memberships": ("tenant_id", "user_id", "role", "sessions_valid_after"),
    "revoked_sessions": ("tenant_id", "session_id"),
}


def upgrade() -> None:
    op.execute("INSERT INTO data_versions (name, version) VALUES ('standing', 1)")
    if op.get_bind().dialect.name != "postgresql":
        return
    # SECURITY DEFINER: the app role may only read data_versions, but its logouts and member
    # changes must raise the version. The function does that one thing.
    op.execute("""
        CREATE FUNCTION portal_raise_standing_version() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
        BEGIN
            UPDATE data_versions SET version = version + 1 WHERE name = 'standing';
            RETURN NULL;
        END $$
    """)
    op.execute("REVOKE ALL ON FUNCTION portal_raise_standing_version() FROM PUBLIC")
    for table, columns in READ_COLUMNS.items():
        op.execute(f"""
            CREATE TRIGGER raise_standing_version
            AFTER INSERT OR UPDATE OF {", ".join(columns)} OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION portal_raise_standing_version()
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in READ_COLUMNS:
            op.execute(f"DROP TRIGGER raise_standing_version ON {table}")
        op.execute("DROP FUNCTION portal_raise_standing_version()")
    op.execute("DELETE FROM data_versions WHERE name = 'standing'")
