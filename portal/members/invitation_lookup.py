"""The one cross-tenant read of the members domain: opening an invitation link.

Whoever opens `/invite/<token>` has no token for the inviting organisation yet, so the
invitation must be found by its token alone. This module does exactly that and nothing
else: it hashes the token and reads the single invitation with that hash (and its
organisation's name). On PostgreSQL the session names the hash in the transaction setting
`app.invitation_token_hash`, and the SELECT-only policy `invitation_token_read` admits that
one row to the app role; every other tenant row stays invisible. Accepting the invitation
then writes through a tenant-bound session of the invitation's own tenant
(`members.services.accept_invitation`). Listed in tests/unit/test_layering.py.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portal.auth.models import Tenant
from portal.members.models import Invitation, invitation_token_hash
from portal.tenancy import unscoped_session

MAX_TOKEN_LENGTH = 128


@dataclass(frozen=True)
class OpenInvitation:
    """A pending invitation as its link shows it: plain values, no live database object."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_name: str
    email: str
    role: str
    expires_at: datetime
    token_hash: str


def open_invitation(token: str) -> OpenInvitation | None:
    """The pending invitation behind this link, or None: unknown, used, revoked and expired
    links, and links of suspended organisations, are all simply not open."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    token_hash = invitation_token_hash(token)
    with unscoped_session(invitation_token_hash=token_hash) as db:
        row = db.execute(
            select(Invitation, Tenant.name, Tenant.status)
            .join(Tenant, Tenant.id == Invitation.tenant_id)
            .where(Invitation.token_hash == token_hash)
        ).first()
    if row is None:
        return None
    invitation, tenant_name, tenant_status = row
    if invitation.status != "pending" or tenant_status != "active":
        return None
    return OpenInvitation(
        id=invitation.id, tenant_id=invitation.tenant_id, tenant_name=tenant_name,
        email=invitation.email, role=invitation.role, expires_at=invitation.expires_at,
        token_hash=token_hash,
    )
