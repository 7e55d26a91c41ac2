"""API keys at the request gate: a script's key, on /api only, is bound like a token of the
key's creator in the key's organisation, with the key's role as a ceiling.

Registered ahead of portal.auth's gate, which leaves a request this hook bound alone. It lives
here, not in auth, because keys build on auth's users and roles: auth never imports apikeys.
"""

from flask import Flask, g, request

from portal.apikeys import services as apikeys
from portal.auth.context import (
    active_membership,
    bind_membership,
    checked_session,
    gate_applies,
    refuse,
)
from portal.web import is_api_request


def presented_key() -> str | None:
    """The API key of an `Authorization: Bearer ap_...` header, if that is what was sent.
    Tokens (JWTs) never start with `ap_`, so nothing else is mistaken for a key."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value.startswith(apikeys.KEY_PREFIX):
        return value
    return None


def bind_api_key(raw_key: str) -> None:
    """Checked afresh on every request, so revoking or expiring the key, removing or
    deactivating its creator and suspending the organisation all stop it at once."""
    if not is_api_request():
        refuse("invalid token: an API key outside /api")
    key = apikeys.usable_key(raw_key)
    if key is None:
        refuse("invalid token: unknown, revoked or expired API key")
    with checked_session(key.tenant_id) as db:
        membership = active_membership(db, key.user_id)
        apikeys.note_use(db, key, membership.user)
    bind_membership(membership, apikeys.lower_role(key.role, membership.role))
    g.api_key_id = key.id


def init_app(app: Flask) -> None:
    @app.before_request
    def _bind_presented_key() -> None:
        if not gate_applies():
            return
        raw_key = presented_key()
        if raw_key is not None:
            bind_api_key(raw_key)
