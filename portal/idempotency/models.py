"""The stored first answer to a POST sent with an Idempotency-Key (table idempotency_records,
migration 0001): per tenant, scope (such as `trades.create`) and key."""

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantScoped, UTCDateTime, utcnow


class IdempotencyRecord(TenantScoped, Base):
    __tablename__ = "idempotency_records"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
