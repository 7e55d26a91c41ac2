"""Can the JWT signing key be rotated without signing everyone out? (PORTAL_JWT_PREVIOUS_KEYS)

Three apps share the test database: one on the old key, one rotated to a new key that still
accepts the old one, one on the new key alone. A token travels between them as it would
between deployments.
"""

import base64
import hashlib
import hmac
import json

import jwt as pyjwt
import pytest

from portal.auth.signing import key_id
from portal.config import from_environment
from tests.conftest import build_app, mint_token
from tests.helpers import bearer, forge

OLD_KEY = "old-signing-key-0123456789-0123456789-0123456789"
NEW_KEY = "new-signing-key-9876543210-9876543210-9876543210"


@pytest.fixture(scope="module")
def apps(database, app):  # `app` prepared the shared database
    return {
        "old": build_app(database, JWT_SECRET_KEY=OLD_KEY),
        "rotated": build_app(database, JWT_SECRET_KEY=NEW_KEY, JWT_PREVIOUS_KEYS=[OLD_KEY]),
        "new only": build_app(database, JWT_SECRET_KEY=NEW_KEY),
    }


def status_as(app, token: str) -> int:
    return app.test_client().get("/api/status", headers=bearer(token)).status_code


def test_a_token_signed_with_the_previous_key_still_works_after_rotation(apps):
    token = mint_token(apps["old"], "trader@acme.test")
    assert status_as(apps["rotated"], token) == 200
    # Without the old key on the list, the same token is refused.
    assert status_as(apps["new only"], token) == 401


def test_new_tokens_are_signed_with_the_current_key_and_name_it(apps):
    token = mint_token(apps["rotated"], "trader@acme.test")
    header = pyjwt.get_unverified_header(token)
    assert header["kid"] == key_id(NEW_KEY)
    pyjwt.decode(token, NEW_KEY, algorithms=["HS256"])  # raises if another key signed it
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(token, OLD_KEY, algorithms=["HS256"])
    assert status_as(apps["new only"], token) == 200
    assert status_as(apps["old"], token) == 401


def test_the_kid_names_a_key_but_never_carries_it(apps):
    token = mint_token(apps["rotated"], "trader@acme.test")
    header = pyjwt.get_unverified_header(token)
    assert NEW_KEY not in str(header) and OLD_KEY not in str(header)


def test_a_token_claiming_the_previous_kid_but_signed_with_another_key_is_refused(apps, tenant_a):
    token = forge(apps["rotated"], tenant_a.id, key="attacker-key-" + "x" * 40)
    forged = pyjwt.encode(pyjwt.decode(token, options={"verify_signature": False}),
                          "attacker-key-" + "x" * 40, algorithm="HS256",
                          headers={"kid": key_id(OLD_KEY)})
    assert status_as(apps["rotated"], forged) == 401


def test_an_expired_token_of_the_previous_key_is_refused(apps, tenant_a):
    expired = pyjwt.encode(
        pyjwt.decode(forge(apps["old"], tenant_a.id, key=OLD_KEY),
                     options={"verify_signature": False}) | {"exp": 1, "iat": 0, "nbf": 0},
        OLD_KEY, algorithm="HS256", headers={"kid": key_id(OLD_KEY)})
    assert status_as(apps["rotated"], expired) == 401


def sign_by_hand(header: dict, claims: dict, key: str) -> str:
    """HS256 without PyJWT's checks, so the header can hold what an attacker likes."""
    def part(value) -> str:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(claims)}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


@pytest.mark.parametrize("kid", [["not", "a", "string"], 7, None, "0" * 16])
def test_an_odd_kid_is_checked_against_the_current_key(apps, tenant_a, kid):
    claims = pyjwt.decode(forge(apps["rotated"], tenant_a.id, key=NEW_KEY),
                          options={"verify_signature": False})
    header = {"alg": "HS256", "typ": "JWT"} | ({} if kid is None else {"kid": kid})
    signed_now = sign_by_hand(header, claims, NEW_KEY)
    signed_before = sign_by_hand(header, claims, OLD_KEY)
    # PyJWT itself refuses a kid that is not a string; a string kid of no known key falls
    # back to the current key.
    assert status_as(apps["rotated"], signed_now) == (200 if kid is None or isinstance(kid, str)
                                                      else 401)
    assert status_as(apps["rotated"], signed_before) == 401


def test_previous_keys_come_from_a_comma_separated_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_JWT_PREVIOUS_KEYS", " first-key , second-key,, ")
    assert from_environment(str(tmp_path))["JWT_PREVIOUS_KEYS"] == ["first-key", "second-key"]
    monkeypatch.delenv("PORTAL_JWT_PREVIOUS_KEYS")
    assert from_environment(str(tmp_path))["JWT_PREVIOUS_KEYS"] == []
