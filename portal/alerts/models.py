import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantScoped, UTCDateTime, new_id, utcnow

SEVERITIES = ("info", "warning", "error", "critical")


class Alert(TenantScoped, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # Newest-first keyset pages and the filters all stay inside one tenant's range.
        Index("ix_alerts_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_alerts_tenant_open", "tenant_id", "acknowledged_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(100), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
