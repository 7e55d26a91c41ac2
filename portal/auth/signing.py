"""Which key signs a token and which keys verify one: rotation without signing anyone out.

The current key (`PORTAL_JWT_SECRET_KEY`, else `PORTAL_SECRET_KEY`) signs every new token and
names itself in the token's `kid` header by a fingerprint (a hash, never the key). Keys listed
in `PORTAL_JWT_PREVIOUS_KEYS` only verify: a token a previous key signed keeps working until it
expires, then the key can be dropped from the list. A token whose `kid` names no known key is
checked against the current key, and so fails unless the current key signed it (tokens issued
before key ids existed).
"""

import hashlib

from flask import current_app
from flask_jwt_extended import JWTManager


def key_id(key: str | bytes) -> str:
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(raw).hexdigest()[:16]


def _current_key() -> str:
    return current_app.config["JWT_SECRET_KEY"]


def verification_key(kid) -> str:
    """The key a token with header `kid` must be signed with."""
    current = _current_key()
    if isinstance(kid, str):
        for key in (current, *current_app.config.get("JWT_PREVIOUS_KEYS", ())):
            if kid == key_id(key):
                return key
    return current


def init_app(jwt: JWTManager) -> None:
    @jwt.additional_headers_loader
    def _name_the_signing_key(_identity) -> dict:
        return {"kid": key_id(_current_key())}

    @jwt.decode_key_loader
    def _key_for_token(headers: dict, _claims: dict) -> str:
        return verification_key(headers.get("kid"))
