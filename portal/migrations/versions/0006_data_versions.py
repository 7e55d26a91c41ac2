"""A version counter per kind of shared data, starting with prices.

Every write to `prices` raises `data_versions['prices']` in the same transaction, so a
process that caches closes (shared by every tenant) sees any change, made by any process,
with one primary-key read. A shared table: no tenant, no row-level security; the app role
may only read it.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('data_versions',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_data_versions'))
    )
    op.bulk_insert(table, [{"name": "prices", "version": 1}])


def downgrade() -> None:
    op.drop_table('data_versions')
