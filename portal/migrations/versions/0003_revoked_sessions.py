"""Revoke sign-in sessions instead of single tokens.

Tokens of one sign-in share a `sid` claim; ending the session (logout, tenant switch) puts
one row here and every token of that sign-in, implicitly refreshed ones included, is refused.
`revoked_tokens` (one row per jti) is dropped: tokens issued before this revision carry no
`sid` and are refused anyway, so its rows protect nothing.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

import portal.db
from portal import pgsetup

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('revoked_sessions',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('expires_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_revoked_sessions_tenant_id_tenants')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_revoked_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('tenant_id', 'session_id', name=op.f('pk_revoked_sessions'))
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in pgsetup.tenant_isolation_ddl(bind, "revoked_sessions"):
            op.execute(statement)
    op.drop_table('revoked_tokens')


def downgrade() -> None:
    op.create_table('revoked_tokens',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('expires_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_revoked_tokens_tenant_id_tenants')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_revoked_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('tenant_id', 'jti', name=op.f('pk_revoked_tokens'))
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in pgsetup.tenant_isolation_ddl(bind, "revoked_tokens"):
            op.execute(statement)
    op.drop_table('revoked_sessions')
