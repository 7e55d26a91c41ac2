"""What a key request may contain, and the JSON shape of a key (never its secret, except once
in the answer that creates it)."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["viewer", "trader", "admin"]
MAX_EXPIRY_DAYS = 3650


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="What the key is for.")
    role: Role | None = Field(
        default=None, description="At most your own role; your role when absent.")
    expires_in_days: int | None = Field(
        default=None, ge=1, le=MAX_EXPIRY_DAYS, description="Never expires when absent.")

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must not contain control characters")
        return value

    @classmethod
    def from_form(cls, form) -> "ApiKeyCreate":
        """The page's form: empty fields mean "absent"."""
        return cls.model_validate({
            "name": form.get("name", ""),
            "role": form.get("role") or None,
            "expires_in_days": form.get("expires_in_days") or None,
        })


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True)

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it by.")
    role: Role
    created_by: uuid.UUID = Field(validation_alias="user_id")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The secret: shown in this answer only, never again.")


def key_json(key) -> dict:
    return ApiKeyOut.model_validate(key).model_dump(mode="json")


def created_key_json(key, secret: str) -> dict:
    out = ApiKeyCreatedOut(**ApiKeyOut.model_validate(key).model_dump(), key=secret)
    return out.model_dump(mode="json")
