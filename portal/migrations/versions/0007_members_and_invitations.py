"""Members and invitations: when a member last signed in, when their sessions were ended,
and invitations (tenant-scoped, behind the tenant wall, found by token hash when opened).

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa

import portal.db
from portal import pgsetup

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_sign_in_at', portal.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sessions_valid_after', portal.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_memberships_tenant_created', ['tenant_id', 'created_at', 'user_id'], unique=False)

    op.create_table('invitations',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('expires_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accepted_by', sa.Uuid(), nullable=True),
    sa.Column('revoked_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['accepted_by'], ['users.id'], name=op.f('fk_invitations_accepted_by_users')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_invitations_created_by_users')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_invitations_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_invitations'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index('ix_invitations_tenant_created', ['tenant_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_invitations_token_hash', ['token_hash'], unique=False)

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in pgsetup.tenant_isolation_ddl(bind, "invitations"):
            op.execute(statement)
        for statement in pgsetup.invitation_token_read_ddl(bind):
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in pgsetup.drop_invitation_token_read_ddl(bind):
            op.execute(statement)
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_token_hash')
        batch_op.drop_index('ix_invitations_tenant_created')
    op.drop_table('invitations')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index('ix_memberships_tenant_created')
        batch_op.drop_column('sessions_valid_after')
        batch_op.drop_column('last_sign_in_at')
