"""A verified token is remembered per process (portal.auth.signing.RememberingJWTManager):
does remembering ever let through what a full check would refuse?"""

import time

import jwt as pyjwt
import pytest

from portal.extensions import jwt as jwt_manager
from tests.conftest import mint_token
from tests.helpers import bearer


@pytest.fixture
def decodes(monkeypatch):
    """How many times PyJWT really verified a signature."""
    calls = []
    real = pyjwt.decode

    def counting(*args, **kwargs):
        if (kwargs.get("options") or {}).get("verify_signature", True):
            calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr("flask_jwt_extended.tokens.jwt.decode", counting)
    return calls


def test_a_token_is_verified_once_then_remembered(app, client, decodes):
    token = mint_token(app, "trader@acme.test")
    for _ in range(3):
        assert client.get("/api/alerts", headers=bearer(token)).status_code == 200
    assert decodes == [token]


def test_a_remembered_token_is_refused_once_it_expires(app, client):
    token = mint_token(app, "trader@acme.test")
    claims = pyjwt.decode(token, app.config["JWT_SECRET_KEY"], algorithms=["HS256"])
    short = pyjwt.encode({**claims, "exp": int(time.time()) + 2},
                         app.config["JWT_SECRET_KEY"], algorithm="HS256")
    assert client.get("/api/alerts", headers=bearer(short)).status_code == 200
    time.sleep(3)
    response = client.get("/api/alerts", headers=bearer(short))
    assert response.status_code == 401
    assert "items" not in response.json


def test_a_remembered_token_is_refused_once_its_key_is_retired(app, client):
    token = mint_token(app, "trader@acme.test")
    assert client.get("/api/alerts", headers=bearer(token)).status_code == 200
    original = app.config["JWT_SECRET_KEY"]
    app.config["JWT_SECRET_KEY"] = "a-new-signing-key-" + "k" * 40
    try:
        assert client.get("/api/alerts", headers=bearer(token)).status_code == 401
    finally:
        app.config["JWT_SECRET_KEY"] = original
    assert client.get("/api/alerts", headers=bearer(token)).status_code == 200


def test_a_token_with_another_signature_is_not_taken_for_a_remembered_one(app, client):
    token = mint_token(app, "trader@acme.test")
    assert client.get("/api/alerts", headers=bearer(token)).status_code == 200
    same_claims = pyjwt.decode(token, options={"verify_signature": False})
    forged = pyjwt.encode(same_claims, "not-the-portal-key-" + "x" * 40, algorithm="HS256")
    assert forged != token
    assert client.get("/api/alerts", headers=bearer(forged)).status_code == 401


def test_what_is_remembered_is_bounded(app, client, monkeypatch):
    monkeypatch.setattr(jwt_manager, "MAX_REMEMBERED", 2)
    monkeypatch.setattr(jwt_manager, "_verified", {})
    tokens = [mint_token(app, email) for email in
              ("trader@acme.test", "viewer@acme.test", "admin@acme.test")]
    for token in tokens:
        assert client.get("/api/alerts", headers=bearer(token)).status_code == 200
    assert len(jwt_manager._verified) == 2
    assert {key[0] for key in jwt_manager._verified} == set(tokens[1:])
