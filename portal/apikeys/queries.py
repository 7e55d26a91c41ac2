"""Reading keys: the request gate's lookup by secret, and the lists people see."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import g
from sqlalchemy import select

from portal.apikeys.models import ApiKey
from portal.auth.models import User
from portal.pagination import Page, paginate
from portal.tenancy import get_or_404, session, unscoped_session


@dataclass(frozen=True)
class KeyRecord:
    """What the gate needs to know about a presented key, read before any tenant is known."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def find_by_hash(key_hash: str) -> KeyRecord | None:
    """The key whose secret hashes to `key_hash`, in whichever tenant it belongs to.

    The one read of api_keys that crosses tenants, so it goes through the named unscoped
    session; on PostgreSQL the `api_key_lookup` policy admits exactly the row whose hash the
    transaction names (`app.api_key_hash`), and nothing else of any tenant.
    """
    with unscoped_session(api_key_hash=key_hash) as db:
        row = db.execute(
            select(ApiKey.id, ApiKey.tenant_id, ApiKey.user_id, ApiKey.role, ApiKey.expires_at,
                   ApiKey.revoked_at, ApiKey.last_used_at)
            .where(ApiKey.key_hash == key_hash)
        ).one_or_none()
    return KeyRecord(*row) if row else None


def _visible():
    """Admins (`manage_users`) see every key of the organisation; others their own."""
    stmt = select(ApiKey)
    if "manage_users" not in g.permissions:
        stmt = stmt.where(ApiKey.user_id == g.user.id)
    return stmt


def list_keys(limit: int, cursor: str | None) -> Page:
    return paginate(_visible(), ApiKey, limit, cursor)


def get_key(raw_id) -> ApiKey:
    """A key this member may see, else the 404 every other id gets (another organisation's,
    another member's for a non-admin, malformed, unknown)."""
    return get_or_404(ApiKey, raw_id, stmt=_visible())


def owner_emails(keys) -> dict[uuid.UUID, str]:
    ids = {key.user_id for key in keys}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())
