"""What member and invitation requests may contain, and the JSON shapes they answer with."""

import re
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from werkzeug.datastructures import MultiDict

from portal.auth.models import Membership
from portal.auth.schemas import has_control_character, normalise_email
from portal.members.models import Invitation
from portal.pagination import Page

Role = Literal["viewer", "trader", "admin"]

# Deliberately loose: one @, something on each side, a dot in the domain, no spaces or
# control characters. Whether the address works is proven by the person opening the link.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=254)
    role: Role

    @field_validator("email")
    @classmethod
    def _an_email_address(cls, value: str) -> str:
        if not _EMAIL.match(value) or has_control_character(value):
            raise ValueError("must be an email address such as name@example.com")
        return normalise_email(value)

    @classmethod
    def from_form(cls, form: MultiDict) -> "InvitationCreate":
        return cls.model_validate({"email": form.get("email", ""), "role": form.get("role", "")})


class NewAccount(BaseModel):
    """The invitation page's form for someone without an account."""

    model_config = ConfigDict(extra="ignore")

    display_name: str = Field(min_length=1, max_length=200)
    # Taken exactly as typed (never trimmed); long enough to resist guessing.
    password: str = Field(min_length=10, max_length=1024)

    @field_validator("display_name", mode="before")
    @classmethod
    def _trimmed(cls, value):
        return value.strip() if isinstance(value, str) else value

    @field_validator("display_name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if has_control_character(value):
            raise ValueError("must not contain control characters")
        return value

    @classmethod
    def from_form(cls, form: MultiDict) -> "NewAccount":
        return cls.model_validate({"display_name": form.get("display_name", ""),
                                   "password": form.get("password", "")})


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: str
    created_at: datetime
    last_sign_in_at: datetime | None

    @classmethod
    def of(cls, membership: Membership) -> "MemberOut":
        return cls(
            user_id=membership.user_id,
            email=membership.user.email,
            display_name=membership.user.display_name,
            role=membership.role,
            created_at=membership.created_at,
            last_sign_in_at=membership.last_sign_in_at,
        )


class InvitationOut(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    status: Literal["pending", "accepted", "revoked", "expired"]

    @classmethod
    def of(cls, invitation: Invitation) -> "InvitationOut":
        return cls(id=invitation.id, email=invitation.email, role=invitation.role,
                   created_at=invitation.created_at, expires_at=invitation.expires_at,
                   status=invitation.status)


class InvitationCreated(BaseModel):
    """The answer to an invitation: the same five fields whoever the email belongs to."""

    id: uuid.UUID
    email: str
    role: str
    expires_at: datetime
    invite_url: str


def member_json(membership: Membership) -> dict:
    return MemberOut.of(membership).model_dump(mode="json")


def member_page_json(page: Page) -> dict:
    return {"items": [member_json(m) for m in page.items], "next_cursor": page.next_cursor}


def invitation_json(invitation: Invitation) -> dict:
    return InvitationOut.of(invitation).model_dump(mode="json")


def invitation_page_json(page: Page) -> dict:
    return {"items": [invitation_json(i) for i in page.items], "next_cursor": page.next_cursor}
