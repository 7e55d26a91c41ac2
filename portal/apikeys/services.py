"""Creating, revoking and checking API keys: the only apikeys code that writes.

A key is `ap_` + 43 URL-safe characters (256 random bits). It is stored only as an
HMAC-SHA256 under the app's secret: a fast keyed hash is right for a long random secret (no
dictionary to slow down), and the table alone is useless without the secret. Rotating
`PORTAL_SECRET_KEY` therefore retires every key.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, g
from sqlalchemy import select, update

from portal.apikeys import queries
from portal.apikeys.models import ApiKey
from portal.apikeys.schemas import ApiKeyCreate
from portal.audit import services as audit
from portal.db import utcnow
from portal.errors import Forbidden
from portal.permissions import ROLES
from portal.tenancy import session

KEY_PREFIX = "ap_"
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 8
# last_used_at is written at most this often per key, so a busy script is not a write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def key_hash(raw_key: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, raw_key.encode(), hashlib.sha256).hexdigest()


def lower_role(first: str, second: str) -> str:
    return min(first, second, key=ROLES.index)


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str


def create_key(data: ApiKeyCreate) -> CreatedKey:
    role = data.role or g.role
    if ROLES.index(role) > ROLES.index(g.role):
        raise Forbidden(f"role: a key's role may not exceed your own ({g.role})",
                        code="role_above_yours", field="role")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    key = ApiKey(
        user_id=g.user.id, name=data.name, prefix=secret[:SHOWN_PREFIX_LENGTH],
        key_hash=key_hash(secret), role=role, created_at=now,
        expires_at=now + timedelta(days=data.expires_in_days) if data.expires_in_days else None,
    )
    session.add(key)
    session.flush()
    audit.record(session, "api_key.created", target_type="api_key", target_id=key.id,
                 details=_audit_details(key))
    session.commit()
    return CreatedKey(key, secret)


def revoke(key_id) -> ApiKey:
    """Revoke a key the member may see; revoking again changes nothing (first time kept)."""
    key = queries.get_key(key_id)
    result = session.execute(
        update(ApiKey).where(ApiKey.id == key.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        audit.record(session, "api_key.revoked", target_type="api_key", target_id=key.id,
                     details=_audit_details(key))
    session.commit()
    session.refresh(key)
    return key


def revoke_member_keys(user_id, reason: str) -> None:
    """Revoke every live key of this member in the organisation, audited, in the caller's
    transaction (members.services: a removal or demotion ends the member's access at once;
    their keys in other organisations are untouched)."""
    now = utcnow()
    for key in session.scalars(select(ApiKey).where(ApiKey.user_id == user_id,
                                                    ApiKey.revoked_at.is_(None))):
        key.revoked_at = now
        audit.record(session, "api_key.revoked", target_type="api_key", target_id=key.id,
                     details={**_audit_details(key), "reason": reason})


def usable_key(raw_key: str) -> queries.KeyRecord | None:
    """The key behind this secret if it may be used now: known, not revoked, not expired.
    Whether its creator may still act in its organisation is the request gate's check."""
    record = queries.find_by_hash(key_hash(raw_key))
    if record is None or record.revoked_at is not None:
        return None
    if record.expires_at is not None and record.expires_at <= utcnow():
        return None
    return record


def note_use(db, record: queries.KeyRecord, user) -> None:
    """Stamp `last_used_at` (at most once a minute) and audit the key's first use, in `db`,
    the request's tenant session (committed here)."""
    now = utcnow()
    if record.last_used_at is None:
        first = db.execute(
            update(ApiKey).where(ApiKey.id == record.id, ApiKey.last_used_at.is_(None))
            .values(last_used_at=now).execution_options(synchronize_session=False)
        )
        if first.rowcount == 1:
            audit.record(db, "api_key.first_used", target_type="api_key", target_id=record.id,
                         actor_id=user.id, actor_email=user.email)
    elif now - record.last_used_at >= LAST_USED_RESOLUTION:
        db.execute(
            update(ApiKey).where(ApiKey.id == record.id)
            .values(last_used_at=now).execution_options(synchronize_session=False)
        )
    else:
        # Used within the minute: nothing to write, and the view carries on in the same
        # transaction (a commit here would make it begin and set its tenant again).
        return
    db.commit()


def _audit_details(key: ApiKey) -> dict:
    return {"name": key.name, "prefix": key.prefix, "role": key.role}
