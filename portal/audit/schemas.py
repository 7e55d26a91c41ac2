"""Audit log filters (query parameters) and the JSON shape of a record."""

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from portal.pagination import PageOut
from portal.times import TimeRange, UtcText


class AuditFilter(TimeRange):
    """The audit log's filters; the range is every list's (portal.times)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    action: str | None = Field(default=None, max_length=64)

    @classmethod
    def from_args(cls, args) -> "AuditFilter":
        # An empty form field ("all actions") means no filter, as when it is absent.
        return cls.model_validate({key: value for key, value in args.items() if value != ""})


class AuditRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: UtcText
    actor_id: uuid.UUID | None
    actor_email: str
    action: str
    target_type: str
    target_id: str
    client_addr: str
    request_id: str
    details: dict[str, Any]

    @classmethod
    def of(cls, record) -> "AuditRecordOut":
        return cls.model_validate(record)

    @field_validator("details", mode="before")
    @classmethod
    def _without_tenant(cls, details: dict | None) -> dict:
        # The tenant is implied by the token; responses never name it.
        return {k: v for k, v in (details or {}).items() if k != "tenant_id"}


AuditPageOut = PageOut[AuditRecordOut]
