import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantScoped, UTCDateTime, new_id, utcnow

INVITATION_LIFETIME = timedelta(hours=72)


def new_invitation_token() -> str:
    """The secret of an invitation link: 256 random bits, shown once, never stored."""
    return secrets.token_urlsafe(32)


def invitation_token_hash(token: str) -> str:
    # A plain SHA-256 is enough for a 256-bit random secret: nothing to brute-force, and
    # the lookup must be a cheap equality on an index.
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(TenantScoped, Base):
    """An offer of membership to an email address, accepted through a one-time link."""

    __tablename__ = "invitations"
    __table_args__ = (
        Index("ix_invitations_tenant_created", "tenant_id", "created_at", "id"),
        # The one index that does not lead with tenant_id: opening a link finds the invitation
        # by its token before anyone knows the tenant (see members.invitation_lookup). Not
        # unique, so the table stays distributable by tenant_id.
        Index("ix_invitations_token_hash", "token_hash"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= utcnow():
            return "expired"
        return "pending"
