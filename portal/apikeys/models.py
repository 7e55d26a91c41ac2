import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantScoped, UTCDateTime, new_id, utcnow


class ApiKey(TenantScoped, Base):
    """A key acts as its creator in this organisation, with `role` as a ceiling. Only an HMAC
    of the secret is stored; `prefix` is the part that may be shown again."""

    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ix_api_keys_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_api_keys_tenant_user", "tenant_id", "user_id"),
        # Unique within the tenant, like every key of a tenant table (shardable by tenant_id);
        # the gate's lookup by hash alone, before the tenant is known, uses the second index.
        UniqueConstraint("tenant_id", "key_hash"),
        Index("ix_api_keys_key_hash", "key_hash"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    # HMAC-SHA256 of the whole key under the app's secret; 256 random bits make two equal
    # hashes impossible, so the request gate finds a key (and its tenant) from it alone.
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
