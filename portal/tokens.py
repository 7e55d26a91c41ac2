"""flask-jwt-extended, verifying each token once per process.

Outside `portal.auth` so that `portal.extensions` can build the instance without importing the
auth package (which imports the extensions): import-linter keeps the packages acyclic.
"""

import math
import threading
import time
from functools import lru_cache

from flask import current_app
from flask_jwt_extended import JWTManager, view_decorators
from flask_jwt_extended.config import config as jwt_settings
from flask_jwt_extended.utils import get_unverified_jwt_headers


@lru_cache(maxsize=4096)
def _unverified_header(encoded_token: str) -> dict:
    return get_unverified_jwt_headers(encoded_token)


def _remembered_header(encoded_token: str) -> dict:
    return dict(_unverified_header(encoded_token))


def _plain_time(value) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


class RememberingJWTManager(JWTManager):
    """flask-jwt-extended that verifies each token once per process.

    A script or a browser presents the same token on every request until it is refreshed,
    and verifying one (PyJWT parses it twice and checks every character of every segment)
    costs more CPU than the rest of the token check. A token's signature and contents never
    change, so the result is remembered under the exact token string and the keys that may
    verify it; time is what moves, so `exp` is checked again on every use (its `iat` and
    `nbf` were already in the past). Whether the sign-in still stands (revocation,
    membership) is not the token's business: that is read afresh on every request.
    """

    MAX_REMEMBERED = 4096

    def __init__(self, app=None, add_context_processor: bool = False) -> None:
        self._verified: dict[tuple, dict] = {}
        self._lock = threading.Lock()  # for workers that serve requests in threads
        super().__init__(app, add_context_processor)
        # After verifying, flask-jwt-extended parses the token's header once more; that
        # parse depends on the token string alone, so it is remembered the same way.
        view_decorators.get_unverified_jwt_headers = _remembered_header

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value=None,
                                allow_expired: bool = False) -> dict:
        settings = current_app.config
        remembered_as = (encoded_token, csrf_value, settings["JWT_SECRET_KEY"],
                         tuple(settings.get("JWT_PREVIOUS_KEYS", ())))
        with self._lock:
            claims = self._verified.get(remembered_as)
            if claims is not None and claims["exp"] <= time.time() - jwt_settings.leeway:
                # Expired since: forget it, and let the full check below refuse it.
                del self._verified[remembered_as]
                claims = None
        if claims is None:
            claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
            if allow_expired or not _plain_time(claims.get("exp")):
                # Never remember what skipped the expiry check, nor a token whose expiry
                # could not be checked again (the token check refuses those anyway).
                return claims
            with self._lock:
                if len(self._verified) >= self.MAX_REMEMBERED:
                    del self._verified[next(iter(self._verified))]  # the oldest
                self._verified[remembered_as] = claims
        return dict(claims)
