"""Per-tenant retention: how long acknowledged alerts and audit records are kept.

Columns on the shared `tenants` table (read by `flask --app wsgi prune`, set by
`flask --app wsgi set-retention`); defaults 90 and 365 days. Plain ADD/DROP COLUMN on both
backends: no table is rebuilt, so nothing referencing `tenants` is disturbed.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("alert_retention_days", sa.Integer(), nullable=False,
                                       server_default="90"))
    op.add_column("tenants", sa.Column("audit_retention_days", sa.Integer(), nullable=False,
                                       server_default="365"))


def downgrade() -> None:
    op.drop_column("tenants", "audit_retention_days")
    op.drop_column("tenants", "alert_retention_days")
