import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, TenantScoped, UTCDateTime, new_id, utcnow

DEFAULT_ALERT_RETENTION_DAYS = 90
DEFAULT_AUDIT_RETENTION_DAYS = 365


class Tenant(Base):
    """A customer organisation. Shared reference table: the tenant list itself."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(String(32), default="starter")
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Days kept by `flask --app wsgi prune` (SPEC §7): acknowledged alerts, audit records.
    alert_retention_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_ALERT_RETENTION_DAYS,
        server_default=str(DEFAULT_ALERT_RETENTION_DAYS))
    audit_retention_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_AUDIT_RETENTION_DAYS,
        server_default=str(DEFAULT_AUDIT_RETENTION_DAYS))

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class User(Base):
    """A global identity; what it may do in a tenant comes from its membership there."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(TenantScoped, Base):
    __tablename__ = "memberships"
    __table_args__ = (
        # The members list: newest first, keyset pages inside one tenant's range.
        Index("ix_memberships_tenant_created", "tenant_id", "created_at", "user_id"),
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Tokens of this membership issued before this instant are refused (a demotion or a
    # re-admission ends every earlier session in this tenant at once; see auth.context).
    sessions_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")
    tenant: Mapped[Tenant] = relationship(lazy="joined")


class RevokedSession(TenantScoped, Base):
    """A sign-in that has ended (logout, tenant switch): every token carrying its `sid` claim
    is refused, including the ones an implicit refresh issued. Kept until the last token the
    session could have issued has expired (`expires_at`), then `prune` drops it."""

    __tablename__ = "revoked_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
