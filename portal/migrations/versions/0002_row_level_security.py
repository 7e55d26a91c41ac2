"""Row-level security on every tenant-scoped table (PostgreSQL; a no-op on SQLite).

The second, independent wall: even raw SQL run as the app role sees only the rows of the
tenant set for the transaction (`app.tenant_id`), and none when no tenant is set. A migration
that adds a tenant-scoped table must put it behind the wall the same way
(`pgsetup.tenant_isolation_ddl`); tests/postgres fails CI when one is forgotten.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from portal import pgsetup

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen: the tenant-scoped tables as of this revision.
TENANT_TABLES = (
    "alerts",
    "audit_records",
    "fills",
    "idempotency_records",
    "memberships",
    "revoked_tokens",
    "trades",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        for statement in pgsetup.tenant_isolation_ddl(bind, table):
            op.execute(statement)
    for statement in pgsetup.membership_self_read_ddl(bind):
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for statement in pgsetup.drop_membership_self_read_ddl(bind):
        op.execute(statement)
    for table in TENANT_TABLES:
        for statement in pgsetup.drop_tenant_isolation_ddl(bind, table):
            op.execute(statement)
