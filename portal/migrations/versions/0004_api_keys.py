"""API keys for scripts (tenant-scoped, behind the tenant wall).

Besides `tenant_isolation`, one SELECT-only policy, `api_key_lookup`, admits the single row
whose hash the transaction names in `app.api_key_hash`: the request gate must find a key's
tenant from its secret before any tenant is set. Writing a key still needs the tenant rule.

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa

import portal.db
from portal import pgsetup

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_api_keys_tenant_id_tenants')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_keys_user_id_users')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('tenant_id', 'key_hash', name=op.f('uq_api_keys_tenant_id_key_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index('ix_api_keys_tenant_created', ['tenant_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_api_keys_tenant_user', ['tenant_id', 'user_id'], unique=False)
        batch_op.create_index('ix_api_keys_key_hash', ['key_hash'], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in pgsetup.tenant_isolation_ddl(bind, "api_keys"):
            op.execute(statement)
        for statement in pgsetup.api_key_lookup_ddl(bind):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table('api_keys')
