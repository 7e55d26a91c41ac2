"""The one login input, shared by `POST /login` and `POST /api/auth/token`."""

import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_EMAIL_LENGTH = 254  # users.email
MAX_PASSWORD_LENGTH = 1024
MAX_TENANT_LENGTH = 64  # tenants.slug


def normalise_email(raw: object) -> str:
    """An email as stored: trimmed and lower-case. Also the login limiter's key, capped so a
    huge field cannot make a huge key."""
    return str(raw).strip().lower()[: MAX_EMAIL_LENGTH + 1]


def has_control_character(value: str) -> bool:
    """Any C0 or C1 control character (Unicode category Cc)."""
    return any(unicodedata.category(char) == "Cc" for char in value)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=MAX_EMAIL_LENGTH)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    tenant: str | None = Field(default=None, max_length=MAX_TENANT_LENGTH)

    @field_validator("email", mode="before")
    @classmethod
    def _normalise_email(cls, value):
        return normalise_email(value) if isinstance(value, str) else value

    @field_validator("tenant", mode="before")
    @classmethod
    def _normalise_tenant(cls, value):
        if isinstance(value, str):
            return value.strip().lower() or None
        return value

    @field_validator("email", "tenant")
    @classmethod
    def _no_control_characters(cls, value):
        if value is not None and has_control_character(value):
            raise ValueError("must not contain control characters")
        return value


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class RevokedOut(BaseModel):
    revoked: bool
