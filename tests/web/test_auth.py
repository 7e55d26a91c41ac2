"""Who gets in, as which tenant, and who is turned away with a 401 (SPEC §3)."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest
from flask import g
from sqlalchemy import select

from portal import tenancy
from portal.audit.models import AuditRecord
from portal.auth import context
from portal.auth.models import User
from tests.conftest import build_app, mint_token
from tests.helpers import bearer, forge, soup

DEMO_LOGINS = [
    ("admin@acme.test", None, "acme", "admin"),
    ("trader@acme.test", None, "acme", "trader"),
    ("viewer@acme.test", None, "acme", "viewer"),
    ("admin@globex.test", None, "globex", "admin"),
    ("trader@globex.test", None, "globex", "trader"),
    ("ops@example.test", "acme", "acme", "viewer"),
    ("ops@example.test", "globex", "globex", "trader"),
]


def claims_of(app, token: str) -> dict:
    return pyjwt.decode(token, app.config["JWT_SECRET_KEY"], algorithms=["HS256"])




@pytest.mark.parametrize(("email", "tenant", "expected_slug", "role"), DEMO_LOGINS)
def test_every_active_demo_user_gets_a_token(client, app, email, tenant, expected_slug, role):
    body = {"email": email, "password": "demo-password"}
    if tenant:
        body["tenant"] = tenant
    response = client.post("/api/auth/token", json=body)
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "Bearer"
    assert response.json["expires_in"] == 3600
    claims = claims_of(app, response.json["access_token"])
    assert {"sub", "tenant_id", "role", "jti", "iat", "exp"} <= set(claims)
    assert claims["role"] == role
    status = client.get("/api/status", headers=bearer(response.json["access_token"]))
    assert status.json["tenant"]["slug"] == expected_slug
    assert "tenant_id" not in status.text


def test_the_suspended_tenants_user_gets_no_token(client):
    response = client.post(
        "/api/auth/token", json={"email": "user@initech.test", "password": "demo-password"}
    )
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_a_user_of_several_tenants_must_name_one(client):
    response = client.post(
        "/api/auth/token", json={"email": "ops@example.test", "password": "demo-password"}
    )
    assert response.status_code == 400
    assert response.json["error"]["field"] == "tenant"


def test_naming_a_tenant_you_do_not_belong_to_fails(client):
    response = client.post("/api/auth/token", json={
        "email": "trader@acme.test", "password": "demo-password", "tenant": "globex"})
    assert response.status_code == 401


@pytest.mark.parametrize("email", ["trader@acme.test", "nobody@nowhere.test"])
def test_a_wrong_password_and_an_unknown_email_look_the_same(client, email):
    response = client.post("/api/auth/token", json={"email": email, "password": "wrong"})
    assert response.status_code == 401
    assert response.json["error"]["message"] == "Invalid email or password."


@pytest.mark.parametrize(("body", "field"), [
    ({"password": "x"}, "email"),
    ({"email": "trader@acme.test"}, "password"),
    ({"email": "trader@acme.test", "password": "x", "role": "admin"}, "role"),
    ({"email": 5, "password": "x"}, "email"),
])
def test_a_bad_token_request_names_the_field(client, body, field):
    response = client.post("/api/auth/token", json=body)
    assert response.status_code == 400
    assert response.json["error"]["field"] == field


def test_a_non_json_token_request_is_a_400(client):
    response = client.post("/api/auth/token", data="email=x", content_type="text/plain")
    assert response.status_code == 400
    assert response.json["error"]["field"] == "body"


class TestEvery401Case:
    """SPEC §3's list, each answered with 401 (never 500), on the API, pages and htmx."""

    @pytest.fixture
    def cases(self, app, tenant_a, tenant_b):
        with app.app_context(), tenancy.unscoped_session() as db:
            from portal.auth.models import Tenant

            initech = db.scalar(select(Tenant).where(Tenant.slug == "initech"))
        return {
            "malformed token": "not-a-jwt",
            "bad signature": forge(app, tenant_a.id, key="another-key-" + "x" * 40),
            "alg none": forge(app, tenant_a.id, algorithm="none"),
            "expired": forge(app, tenant_a.id, exp=datetime.now(UTC) - timedelta(seconds=5),
                             iat=datetime.now(UTC) - timedelta(hours=2)),
            "missing tenant_id": forge(app, tenant_a.id, tenant_id=None),
            "tenant_id not a uuid": forge(app, "acme"),
            "unknown tenant": forge(app, uuid.uuid4()),
            "suspended tenant": forge(app, initech.id, email="user@initech.test"),
            "not a member of the token's tenant": forge(app, tenant_b.id),
            "missing subject": forge(app, tenant_a.id, sub=None),
            "unknown subject": forge(app, tenant_a.id, sub=str(uuid.uuid4())),
        }

    def test_api_answers_401_json(self, client, cases):
        for name, token in cases.items():
            response = client.get("/api/status", headers=bearer(token))
            assert response.status_code == 401, name
            assert response.json["error"]["code"] == "unauthorized", name
            assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_no_token_at_all(self, client):
        assert client.get("/api/status").status_code == 401
        page = client.get("/status")
        assert page.status_code == 302
        assert page.location.startswith("/login")
        htmx = client.get("/status", headers={"HX-Request": "true"})
        assert htmx.status_code == 401
        assert htmx.headers["HX-Redirect"] == "/login"

    def test_pages_redirect_to_login(self, client, app, cases):
        cookie = app.config["JWT_ACCESS_COOKIE_NAME"]
        for name, token in cases.items():
            client.set_cookie(cookie, token)
            response = client.get("/status")
            assert response.status_code == 302, name
            assert response.location.startswith("/login"), name
            htmx = client.get("/status", headers={"HX-Request": "true"})
            assert htmx.status_code == 401, name
            assert htmx.headers["HX-Redirect"] == "/login", name

    def test_a_deactivated_user_is_refused(self, client, app, fresh_tenant):
        tenant = fresh_tenant()
        token = mint_token(app, tenant.emails["trader"], tenant.slug)
        assert client.get("/api/status", headers=bearer(token)).status_code == 200
        with app.app_context(), tenancy.unscoped_session(admin=True) as db:
            user = db.scalar(select(User).where(User.email == tenant.emails["trader"]))
            user.is_active = False
        assert client.get("/api/status", headers=bearer(token)).status_code == 401

    def test_a_token_after_api_logout_is_refused(self, client, app):
        token = mint_token(app, "trader@acme.test")
        assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 200
        assert client.get("/api/status", headers=bearer(token)).status_code == 401
        # Logging out twice is also just a 401.
        assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 401

    def test_a_suspended_tenants_existing_token_stops_working(self, client, app, fresh_tenant):
        from portal.auth.models import Tenant

        tenant = fresh_tenant()
        token = mint_token(app, tenant.emails["viewer"], tenant.slug)
        assert client.get("/api/status", headers=bearer(token)).status_code == 200
        with app.app_context(), tenancy.unscoped_session(admin=True) as db:
            db.get(Tenant, tenant.id).status = "suspended"
        assert client.get("/api/status", headers=bearer(token)).status_code == 401


class TestBrowserSession:
    def test_login_sets_an_httponly_lax_cookie_and_a_csrf_cookie(self, client):
        response = client.post("/login", data={
            "email": "trader@acme.test", "password": "demo-password"})
        assert response.status_code == 303
        cookies = response.headers.getlist("Set-Cookie")
        access = next(c for c in cookies if c.startswith("portal_access="))
        csrf = next(c for c in cookies if c.startswith("portal_csrf="))
        assert "HttpOnly" in access and "SameSite=Lax" in access
        assert "HttpOnly" not in csrf  # htmx reads it to send the header
        assert "Secure" not in access  # development over plain http

    def test_cookies_are_secure_outside_development(self, database, monkeypatch):
        monkeypatch.setenv("PORTAL_ENV", "production")
        monkeypatch.setenv("PORTAL_SECRET_KEY", "a-production-secret-" + "y" * 32)
        from portal.config import from_environment

        assert from_environment("/tmp")["JWT_COOKIE_SECURE"] is True
        monkeypatch.delenv("PORTAL_SECRET_KEY")
        with pytest.raises(RuntimeError, match="PORTAL_SECRET_KEY"):
            from_environment("/tmp")

    def test_a_failed_login_rerenders_the_form_with_401(self, client):
        response = client.post("/login", data={"email": "trader@acme.test", "password": "no"})
        assert response.status_code == 401
        assert "Invalid email or password." in response.text
        assert "portal_access=" not in " ".join(response.headers.getlist("Set-Cookie"))

    def test_login_redirects_only_to_local_next(self, client):
        data = {"email": "trader@acme.test", "password": "demo-password"}
        local = client.post("/login", data={**data, "next": "/status"})
        assert local.location == "/status"
        for evil in ("https://evil.test/", "//evil.test/x", "/\\evil.test/x"):
            response = client.post("/login", data={**data, "next": evil})
            assert response.location == "/"

    def test_logout_needs_the_csrf_token(self, browser_as):
        browser = browser_as("trader@acme.test")
        no_token = browser.client.post("/logout")
        assert no_token.status_code == 403
        wrong = browser.client.post("/logout", data={"csrf_token": "forged"})
        assert wrong.status_code == 403
        assert browser.get("/status").status_code == 200  # still signed in

    def test_htmx_sends_csrf_in_a_header(self, browser_as):
        browser = browser_as("trader@acme.test")
        response = browser.post("/logout", htmx=True)
        assert response.status_code == 303

    def test_logout_revokes_the_token(self, browser_as, app):
        browser = browser_as("trader@acme.test")
        token = browser.client.get_cookie(app.config["JWT_ACCESS_COOKIE_NAME"]).value
        assert browser.post("/logout").status_code == 303
        # The browser dropped the cookie; a copy of the token kept elsewhere is dead too.
        assert browser.client.get_cookie(app.config["JWT_ACCESS_COOKIE_NAME"]) is None
        again = app.test_client()
        again.set_cookie(app.config["JWT_ACCESS_COOKIE_NAME"], token)
        assert again.get("/status").status_code == 302
        assert again.get("/api/status", headers=bearer(token)).status_code == 401

    def test_a_token_close_to_expiry_is_refreshed_implicitly(self, app, tenant_a):
        client = app.test_client()
        token = forge(app, tenant_a.id, exp=datetime.now(UTC) + timedelta(minutes=5),
                      csrf=str(uuid.uuid4()))
        client.set_cookie(app.config["JWT_ACCESS_COOKIE_NAME"], token)
        response = client.get("/status")
        assert response.status_code == 200
        fresh = client.get_cookie(app.config["JWT_ACCESS_COOKIE_NAME"]).value
        assert fresh != token
        new_claims = claims_of(app, fresh)
        assert new_claims["tenant_id"] == str(tenant_a.id)
        assert new_claims["exp"] > datetime.now(UTC).timestamp() + 30 * 60
        # The page already carries the new token's CSRF value.
        assert new_claims["csrf"] in response.text

    def test_a_fresh_token_is_not_reissued(self, browser_as):
        browser = browser_as("trader@acme.test")
        response = browser.get("/status")
        assert not [c for c in response.headers.getlist("Set-Cookie") if "portal_access" in c]


class TestSessionEnds:
    """Every token of one sign-in shares a session id; ending the session ends them all."""

    def test_tokens_of_one_sign_in_share_a_session_id_and_sign_ins_differ(self, app, client):
        def sign_in():
            response = client.post("/api/auth/token", json={
                "email": "trader@acme.test", "password": "demo-password"})
            return claims_of(app, response.json["access_token"])

        first, second = sign_in(), sign_in()
        assert first["sid"] and second["sid"] and first["sid"] != second["sid"]

    def test_logout_also_ends_the_token_that_an_implicit_refresh_replaced(self, app, tenant_a):
        from tests.conftest import BrowserClient

        client = app.test_client()
        old = forge(app, tenant_a.id, exp=datetime.now(UTC) + timedelta(minutes=5),
                    csrf=str(uuid.uuid4()))
        client.set_cookie(app.config["JWT_ACCESS_COOKIE_NAME"], old)
        assert client.get("/status").status_code == 200
        refreshed = client.get_cookie(app.config["JWT_ACCESS_COOKIE_NAME"]).value
        assert refreshed != old
        assert claims_of(app, refreshed)["sid"] == claims_of(app, old)["sid"]

        assert BrowserClient(client, app).post("/logout").status_code == 303
        for token in (old, refreshed):
            assert app.test_client().get("/api/status", headers=bearer(token)).status_code == 401

    def test_a_switch_ends_the_old_session_but_not_another_sign_in(self, browser_as, app,
                                                                    client):
        other = mint_token(app, "ops@example.test", "acme")
        browser = browser_as("ops@example.test", "acme")
        old = browser.client.get_cookie(app.config["JWT_ACCESS_COOKIE_NAME"]).value
        assert browser.post("/switch-tenant", data={"tenant": "globex"}).status_code == 303
        assert client.get("/api/status", headers=bearer(old)).status_code == 401
        assert client.get("/api/status", headers=bearer(other)).status_code == 200

    def test_two_logouts_racing_with_one_token_both_end_it_without_a_500(
        self, app, client, monkeypatch
    ):
        token = mint_token(app, "trader@acme.test")
        assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 200
        # The second request passed the token check before the first one committed.
        standing = context.token_standing
        monkeypatch.setattr(
            "portal.auth.context.token_standing",
            lambda db, user_id, sid: replace(standing(db, user_id, sid), session_revoked=False),
        )
        racing = client.post("/api/auth/logout", headers=bearer(token))
        assert racing.status_code == 200, racing.text
        monkeypatch.undo()
        assert client.get("/api/status", headers=bearer(token)).status_code == 401

    def test_a_token_without_a_session_id_is_refused(self, app, client, tenant_a):
        for sid in (None, "", "x" * 65, "sid\n", "bad sid", 12):
            token = forge(app, tenant_a.id, sid=sid)
            assert client.get("/api/status", headers=bearer(token)).status_code == 401, sid


class TestTenantSwitch:
    def test_ops_switches_from_acme_to_globex(self, browser_as, app, tenant_b):
        browser = browser_as("ops@example.test", "acme")
        old = browser.client.get_cookie(app.config["JWT_ACCESS_COOKIE_NAME"]).value
        assert "Acme Capital" in browser.get("/").text
        response = browser.post("/switch-tenant", data={"tenant": "globex"})
        assert response.status_code == 303
        page = browser.get("/")
        assert "Globex Trading" in page.text
        new = browser.client.get_cookie(app.config["JWT_ACCESS_COOKIE_NAME"]).value
        assert claims_of(app, new)["tenant_id"] == str(tenant_b.id)
        assert claims_of(app, new)["role"] == "trader"
        # The acme token was revoked by the switch.
        assert app.test_client().get("/api/status", headers=bearer(old)).status_code == 401

    def test_switching_to_a_tenant_without_membership_is_refused(self, browser_as, app,
                                                                   tenant_a):
        browser = browser_as("trader@acme.test")
        response = browser.post("/switch-tenant", data={"tenant": "globex"},
                                follow_redirects=True)
        assert "not a member" in response.text
        token = browser.client.get_cookie(app.config["JWT_ACCESS_COOKIE_NAME"]).value
        assert claims_of(app, token)["tenant_id"] == str(tenant_a.id)

    def test_the_switcher_shows_only_for_several_memberships(self, browser_as):
        assert 'id="tenant-switch"' in browser_as("ops@example.test", "acme").get("/").text
        assert 'id="tenant-switch"' not in browser_as("trader@acme.test").get("/").text


ALICE, BOB = {"REMOTE_ADDR": "127.0.0.2"}, {"REMOTE_ADDR": "127.0.0.3"}


class TestLoginBudget:
    """One budget for /login and /api/auth/token; one client's failures never lock the right
    password out for another client."""

    @pytest.fixture
    def limited_app(self, database):
        return build_app(database, LOGIN_LIMIT_PER_EMAIL_CLIENT="3 per minute",
                         LOGIN_LIMIT_PER_CLIENT="5 per minute",
                         LOGIN_LIMIT_PER_EMAIL="6 per minute")

    @staticmethod
    def api_login(client, email, password, environ, **extra):
        return client.post("/api/auth/token", json={"email": email, "password": password,
                                                    **extra}, environ_base=environ)

    @staticmethod
    def form_login(client, email, password, environ, **extra):
        return client.post("/login", data={"email": email, "password": password, **extra},
                           environ_base=environ)

    def test_both_routes_spend_one_budget_and_a_429_carries_retry_after(self, limited_app):
        client = limited_app.test_client()
        codes = [self.form_login(client, "viewer@acme.test", "wrong", ALICE).status_code,
                 self.api_login(client, "VIEWER@acme.test ", "wrong", ALICE).status_code,
                 self.form_login(client, " viewer@ACME.test", "wrong", ALICE).status_code]
        assert codes == [401, 401, 401]
        blocked = self.api_login(client, "viewer@acme.test", "demo-password", ALICE)
        assert blocked.status_code == 429
        assert int(blocked.headers["Retry-After"]) > 0
        assert blocked.json["error"]["code"] == "rate_limited"
        assert self.form_login(client, "viewer@acme.test", "demo-password",
                               ALICE).status_code == 429

    def test_another_client_still_signs_in_with_the_right_password(self, limited_app):
        client = limited_app.test_client()
        for _ in range(3):
            self.api_login(client, "admin@globex.test", "wrong", ALICE)
        assert self.api_login(client, "admin@globex.test", "demo-password",
                              ALICE).status_code == 429
        assert self.api_login(client, "admin@globex.test", "demo-password",
                              BOB).status_code == 200
        assert self.form_login(client, "admin@globex.test", "demo-password",
                               BOB).status_code == 303

    def test_every_failure_counts_whatever_its_status(self, limited_app, monkeypatch):
        client = limited_app.test_client()
        email = "trader@globex.test"
        too_long = self.api_login(client, email, "x" * 2000, ALICE)
        assert too_long.status_code == 400
        cross_site = client.post("/login", data={"email": email, "password": "x"},
                                 headers={"Sec-Fetch-Site": "cross-site"}, environ_base=ALICE)
        assert cross_site.status_code == 403
        monkeypatch.setattr("portal.auth.services.find_user", _explode)
        assert self.api_login(client, email, "demo-password", ALICE).status_code == 500
        monkeypatch.undo()
        assert self.api_login(client, email, "demo-password", ALICE).status_code == 429

    def test_successful_logins_do_not_count(self, limited_app):
        client = limited_app.test_client()
        codes = [self.api_login(client, "admin@acme.test", "demo-password", ALICE).status_code
                 for _ in range(7)]
        assert codes == [200] * 7

    def test_failures_per_client_are_limited_across_emails(self, limited_app):
        client = limited_app.test_client()
        codes = [self.form_login(client, f"u{i}@x.test", "no", ALICE).status_code
                 for i in range(6)]
        assert codes == [401] * 5 + [429]
        assert self.form_login(client, "u9@x.test", "no", BOB).status_code == 401

    def test_a_distributed_guess_meets_the_per_email_ceiling(self, limited_app):
        client = limited_app.test_client()
        email = "viewer@acme.test"
        for address in ("127.0.0.4", "127.0.0.5"):
            codes = [self.api_login(client, email, "wrong", {"REMOTE_ADDR": address})
                     .status_code for _ in range(3)]
            assert codes == [401] * 3
        assert self.api_login(client, email, "wrong", BOB).status_code == 429
        # The ceiling is per email: other users are untouched.
        assert self.api_login(client, "trader@acme.test", "demo-password",
                              BOB).status_code == 200


def _explode(*_args, **_kwargs):
    raise RuntimeError("the database went away")


class TestOneLoginInput:
    """/login and /api/auth/token read the same normalised input."""

    @pytest.mark.parametrize("email", ["  Trader@ACME.test\t", "trader@acme.test" + " " * 300])
    def test_an_email_is_trimmed_and_lower_cased_on_both_routes(self, client, email):
        token = client.post("/api/auth/token", json={"email": email, "password": "demo-password"})
        assert token.status_code == 200, token.text
        form = client.post("/login", data={"email": email, "password": "demo-password"})
        assert form.status_code == 303
        # A failure with the same email is audited under the normalised email, never a 500.
        wrong = {"email": email, "password": "wrong"}
        assert client.post("/api/auth/token", json=wrong).status_code == 401
        assert client.post("/login", data=wrong).status_code == 401

    @pytest.mark.parametrize(("body", "field"), [
        ({"email": "trader@acme.test\r\nBcc: x@y.test", "password": "x"}, "email"),
        ({"email": "a" * 300 + "@acme.test", "password": "x"}, "email"),
        ({"email": "trader@acme.test", "password": "x" * 1025}, "password"),
        ({"email": "trader@acme.test", "password": "x", "tenant": "acme\x1b"}, "tenant"),
        ({"email": "trader@acme.test", "password": "x", "tenant": "a" * 65}, "tenant"),
    ])
    def test_bad_input_names_the_field_on_both_routes_and_is_never_a_500(self, client, body,
                                                                        field):
        token = client.post("/api/auth/token", json=body)
        assert token.status_code == 400
        assert token.json["error"]["field"] == field
        form = client.post("/login", data=body)
        assert form.status_code == 400
        assert f"{field}:" in form.text
        assert "portal_access=" not in " ".join(form.headers.getlist("Set-Cookie"))


class TestEqualRefusals:
    """Unknown email, wrong password, no membership and a suspended organisation look alike:
    same status, same body, and one password hash verified every time."""

    @pytest.fixture
    def attempts(self, app, fresh_tenant):
        tenant = fresh_tenant()
        inactive = tenant.emails["viewer"]
        with app.app_context(), tenancy.unscoped_session(admin=True) as db:
            db.scalar(select(User).where(User.email == inactive)).is_active = False
        return {
            "unknown email": {"email": "nobody@nowhere.test", "password": "demo-password"},
            "wrong password": {"email": "trader@acme.test", "password": "wrong"},
            "not a member": {"email": "trader@acme.test", "password": "demo-password",
                             "tenant": "globex"},
            "suspended": {"email": "user@initech.test", "password": "demo-password"},
            "deactivated": {"email": inactive, "password": "demo-password"},
        }

    def test_the_api_answers_each_alike(self, client, attempts, monkeypatch):
        from portal.auth import passwords

        verified = []
        real = passwords._hasher

        class CountingHasher:
            def verify(self, *args):
                verified.append(1)
                return real.verify(*args)

        monkeypatch.setattr(passwords, "_hasher", CountingHasher())
        answers = {}
        for name, body in attempts.items():
            verified.clear()
            response = client.post("/api/auth/token", json=body)
            answers[name] = (response.status_code, response.data)
            assert len(verified) == 1, name
        assert len(set(answers.values())) == 1, answers
        assert answers["unknown email"][0] == 401

    def test_the_form_answers_each_alike(self, client, attempts):
        answers = {}
        for name, body in attempts.items():
            response = client.post("/login", data=body)
            error = soup(response).select_one('.form-error[role="alert"]').get_text(strip=True)
            answers[name] = (response.status_code, error)
        assert set(answers.values()) == {(401, "Invalid email or password.")}, answers

    def test_a_failure_to_audit_a_refusal_is_still_a_401(self, client, monkeypatch):
        from portal.audit import services as audit

        real_record = audit.record

        def failing_record(db, action, **kwargs):
            if action == "auth.login_failed":
                raise RuntimeError("audit table unavailable")
            return real_record(db, action, **kwargs)

        monkeypatch.setattr(audit, "record", failing_record)
        body = {"email": "trader@acme.test", "password": "wrong"}
        response = client.post("/api/auth/token", json=body)
        assert response.status_code == 401
        assert client.post("/login", data=body).status_code == 401


class TestLoginCsrf:
    """A cross-site login post is refused; same-origin and plain form posts still work."""

    GOOD = {"email": "trader@acme.test", "password": "demo-password"}

    @pytest.mark.parametrize("headers", [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.test"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.test", "Sec-Fetch-Site": "same-origin"},
    ])
    def test_a_cross_site_post_is_refused(self, client, headers):
        response = client.post("/login", data=self.GOOD, headers=headers)
        assert response.status_code == 403
        assert "portal_access=" not in " ".join(response.headers.getlist("Set-Cookie"))

    @pytest.mark.parametrize("headers", [
        {}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"},
        {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    ])
    def test_same_origin_and_plain_posts_sign_in(self, client, headers):
        assert client.post("/login", data=self.GOOD, headers=headers).status_code == 303

    def test_the_double_submit_check_still_guards_signed_in_posts(self, browser_as):
        browser = browser_as("trader@acme.test")
        response = browser.client.post("/logout", headers={"Sec-Fetch-Site": "same-origin"})
        assert response.status_code == 403


def test_logins_and_failures_are_audited(client, app, fresh_tenant):
    tenant = fresh_tenant()
    client.post("/api/auth/token", json={"email": tenant.emails["admin"], "password": "bad"})
    client.post("/api/auth/token",
                json={"email": tenant.emails["admin"], "password": "demo-password"})
    with app.app_context(), tenancy.tenant_session_scope(tenant.id) as db:
        actions = [r.action for r in db.scalars(
            select(AuditRecord).order_by(AuditRecord.created_at))]
        record = db.scalar(select(AuditRecord).where(AuditRecord.action == "auth.login"))
    assert actions == ["auth.login_failed", "auth.login"]
    assert record.actor_email == tenant.emails["admin"]
    assert record.client_addr == "127.0.0.1"
    assert record.request_id


class TestApiRateLimitPerTenant:
    def test_a_busy_tenant_is_limited_without_touching_another(self, database, tenant_a):
        app = build_app(database, PLAN_RATE_LIMITS={"starter": "3 per minute",
                                                    "pro": "5 per minute"})
        client = app.test_client()
        acme = bearer(mint_token(app, "trader@acme.test"))  # plan pro
        globex = bearer(mint_token(app, "trader@globex.test"))  # plan starter
        answers = [client.get("/api/status", headers=acme) for _ in range(6)]
        assert [answer.status_code for answer in answers] == [200] * 5 + [429]
        # Only a refusal says when to come back; an answered call spends no storage round
        # trips on X-RateLimit headers.
        assert not [name for name, _ in answers[0].headers.items() if "ratelimit" in name.lower()]
        limited = client.get("/api/status", headers=acme)
        assert 0 < int(limited.headers["Retry-After"]) <= 60
        assert limited.json["error"]["code"] == "rate_limited"
        # Another user of the same tenant shares the tenant's allowance...
        admin = bearer(mint_token(app, "admin@acme.test"))
        assert client.get("/api/status", headers=admin).status_code == 429
        # ...while the other tenant still has all of its own.
        codes = [client.get("/api/status", headers=globex).status_code for _ in range(4)]
        assert codes == [200] * 3 + [429]
        # Pages are not part of the API allowance.
        assert client.get("/health").status_code == 200


def test_options_on_a_protected_api_route_answers_allow_without_data(app, client):
    """Found by schemathesis: OPTIONS reached the token check, which flask-jwt-extended skips
    for OPTIONS, and answered 500."""
    token = mint_token(app, "trader@acme.test")
    for headers in ({}, bearer(token)):
        response = client.options("/api/alerts", headers=headers)
        assert response.status_code == 200
        assert "GET" in response.headers["Allow"] and "POST" in response.headers["Allow"]
        assert response.data == b""


@pytest.mark.parametrize("path", ["/no-such-page", "/api/docs"])
def test_a_refused_sign_in_leaves_no_session_of_its_tenant_behind(database, tenant_b, path):
    """A page that keeps a signed-in browser's navigation (404, the API reference) still
    answers when the cookie's token is refused; nothing it renders may reach that tenant."""
    app = build_app(database)
    seen = []

    @app.after_request
    def _what_the_page_could_reach(response):
        seen.append({name for name in ("db", "user", "tenant_id") if name in g})
        return response

    token = forge(app, tenant_b.id, email="trader@acme.test")  # no membership in globex
    browser = app.test_client()
    browser.set_cookie(app.config["JWT_ACCESS_COOKIE_NAME"], token)
    page = browser.get(path)
    assert page.status_code == (404 if path == "/no-such-page" else 200)
    assert seen == [set()]
