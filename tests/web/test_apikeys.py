"""API keys: can a script act with a key exactly like its creator's token, within the key's
role, in the key's organisation only, and does every reason to stop a key stop it at once?"""

import hashlib
import hmac
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import tenancy
from portal.apikeys.models import ApiKey
from portal.auth.models import Membership, Tenant, User
from portal.db import utcnow
from tests.conftest import build_app, mint_token
from tests.helpers import audit_actions, bearer, is_full_page, root_selector, soup


def create_key(api, status=201, **body):
    response = api.post("/api/keys", json={"name": "nightly export", **body})
    assert response.status_code == status, response.text
    return response.get_json()


def stored_key(app, tenant_id, key_id) -> ApiKey:
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        key = db.get(ApiKey, (tenant_id, uuid.UUID(key_id)))
        db.expunge(key)
        return key


class TestCreating:
    def test_a_trader_gets_the_secret_once_and_only_its_hmac_is_stored(
            self, app, api_as, tenant_a):
        created = create_key(api_as("trader@acme.test"))
        assert set(created) >= {"id", "name", "prefix", "role", "created_at", "expires_at",
                                "key"}
        assert "tenant_id" not in created and "key_hash" not in created
        assert created["role"] == "trader" and created["expires_at"] is None
        assert created["key"].startswith("ap_") and len(created["key"]) >= 40
        assert created["key"].startswith(created["prefix"])
        assert created["created_at"].endswith("Z")
        row = stored_key(app, tenant_a.id, created["id"])
        secret = app.config["SECRET_KEY"].encode()
        assert row.key_hash == hmac.new(secret, created["key"].encode(),
                                        hashlib.sha256).hexdigest()
        assert created["key"] not in (row.key_hash, row.prefix, row.name)
        listed = api_as("trader@acme.test").get("/api/keys")
        assert created["key"] not in listed.text and row.key_hash not in listed.text

    def test_the_answers_carrying_the_secret_are_never_cached(self, api_as, browser_as):
        response = api_as("trader@acme.test").post("/api/keys", json={"name": "cache"})
        assert response.status_code == 201
        assert response.headers["Cache-Control"] == "no-store"
        page = browser_as("trader@acme.test").post("/settings/api-keys", data={"name": "c"})
        assert page.status_code == 201 and page.headers["Cache-Control"] == "no-store"

    def test_expiry_in_days(self, api_as):
        created = create_key(api_as("trader@acme.test"), expires_in_days=30, role="viewer")
        assert created["role"] == "viewer" and created["expires_at"].endswith("Z")

    def test_the_role_may_not_exceed_the_creators(self, app, api_as, tenant_a):
        trader = api_as("trader@acme.test")
        before = len(trader.get("/api/keys?limit=200").get_json()["items"])
        refused = trader.post("/api/keys", json={"name": "too strong", "role": "admin"})
        assert refused.status_code == 403
        assert refused.get_json()["error"]["field"] == "role"
        assert len(trader.get("/api/keys?limit=200").get_json()["items"]) == before
        assert create_key(api_as("admin@acme.test"), role="admin")["role"] == "admin"

    def test_a_viewer_may_not_create_keys(self, api_as):
        response = api_as("viewer@acme.test").post("/api/keys", json={"name": "x"})
        assert response.status_code == 403

    @pytest.mark.parametrize(("body", "field"), [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "role": "root"}, "role"),
        ({"name": "ok", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "ok", "expires_in_days": 99999}, "expires_in_days"),
        ({"name": "ok", "tenant_id": str(uuid.uuid4())}, "tenant_id"),
        ({}, "name"),
    ])
    def test_bad_input_names_the_field_and_stores_nothing(self, api_as, body, field):
        trader = api_as("trader@acme.test")
        before = len(trader.get("/api/keys?limit=200").get_json()["items"])
        response = trader.post("/api/keys", json=body)
        assert response.status_code == 400, response.text
        assert response.get_json()["error"]["field"] == field
        assert len(trader.get("/api/keys?limit=200").get_json()["items"]) == before

    def test_a_body_that_is_not_an_object_is_a_400(self, api_as):
        response = api_as("trader@acme.test").post("/api/keys", data="[]",
                                                   content_type="application/json")
        assert response.status_code == 400


class TestUsing:
    def test_a_key_acts_as_its_creator_in_its_organisation(self, client, api_as, tenant_a):
        created = create_key(api_as("trader@acme.test"))
        status = client.get("/api/status", headers=bearer(created["key"]))
        assert status.status_code == 200
        body = status.get_json()
        assert body["tenant"]["slug"] == "acme" and body["user"]["email"] == "trader@acme.test"
        assert body["role"] == "trader"
        placed = client.post("/api/alerts", headers=bearer(created["key"]),
                             json={"title": "from a script", "severity": "info"})
        assert placed.status_code == 201
        assert "tenant_id" not in placed.text

    def test_the_keys_role_is_a_ceiling(self, client, api_as):
        viewer_key = create_key(api_as("trader@acme.test"), role="viewer")["key"]
        assert client.get("/api/alerts", headers=bearer(viewer_key)).status_code == 200
        refused = client.post("/api/alerts", headers=bearer(viewer_key),
                              json={"title": "no", "severity": "info"})
        assert refused.status_code == 403
        assert client.post("/api/keys", headers=bearer(viewer_key),
                           json={"name": "child"}).status_code == 403

    def test_a_demoted_creator_drags_the_key_down_at_once(self, app, client, api_as,
                                                         fresh_tenant):
        tenant = fresh_tenant()
        key = create_key(api_as(tenant.emails["admin"], tenant.slug), role="admin")["key"]
        assert client.get("/api/audit", headers=bearer(key)).status_code == 200
        with app.app_context():
            with tenancy.unscoped_session(admin=True) as db:
                user_id = db.scalar(select(User.id).where(User.email == tenant.emails["admin"]))
            with tenancy.tenant_session_scope(tenant.id, admin=True) as db:
                db.get(Membership, (tenant.id, user_id)).role = "viewer"
        assert client.get("/api/audit", headers=bearer(key)).status_code == 403
        assert client.get("/api/status", headers=bearer(key)).get_json()["role"] == "viewer"

    def test_first_use_is_audited_once_and_last_used_is_recorded(self, app, client, api_as,
                                                                 tenant_a):
        trader = api_as("trader@acme.test")
        created = create_key(trader)
        assert created["last_used_at"] is None
        for _ in range(3):
            assert client.get("/api/status", headers=bearer(created["key"])).status_code == 200
        assert audit_actions(app, tenant_a.id, created["id"]) == [
            "api_key.created", "api_key.first_used"]
        listed = {k["id"]: k for k in trader.get("/api/keys?limit=200").get_json()["items"]}
        assert listed[created["id"]]["last_used_at"].endswith("Z")

    def test_keys_count_towards_the_organisations_api_limit(self, database, fresh_tenant):
        limited = build_app(database, PLAN_RATE_LIMITS={"starter": "4 per minute",
                                                        "pro": "4 per minute"})
        tenant = fresh_tenant()
        client = limited.test_client()
        token = bearer(mint_token(limited, tenant.emails["trader"], tenant.slug))
        key = client.post("/api/keys", headers=token, json={"name": "busy"}).get_json()["key"]
        codes = [client.get("/api/status", headers=bearer(key)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        # One allowance for the organisation: the token is limited too.
        assert client.get("/api/status", headers=token).status_code == 429


class TestRefusals:
    """Every reason a key stops, each at once (the next request)."""

    def _working_key(self, client, api_as, tenant, role="trader"):
        key = create_key(api_as(tenant.emails[role], tenant.slug))
        assert client.get("/api/status", headers=bearer(key["key"])).status_code == 200
        return key

    def _refused(self, client, key):
        response = client.get("/api/status", headers=bearer(key["key"]))
        assert response.status_code == 401, response.text
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_revoked(self, client, api_as, fresh_tenant):
        tenant = fresh_tenant()
        key = self._working_key(client, api_as, tenant)
        revoked = api_as(tenant.emails["trader"], tenant.slug).post(
            f"/api/keys/{key['id']}/revoke")
        assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
        self._refused(client, key)

    def test_expired(self, app, client, api_as, fresh_tenant):
        tenant = fresh_tenant()
        key = self._working_key(client, api_as, tenant)
        with app.app_context(), tenancy.tenant_session_scope(tenant.id, admin=True) as db:
            db.get(ApiKey, (tenant.id, uuid.UUID(key["id"]))).expires_at = (
                utcnow() - timedelta(seconds=1))
        self._refused(client, key)

    def test_creator_loses_the_membership(self, app, client, api_as, fresh_tenant):
        tenant = fresh_tenant()
        key = self._working_key(client, api_as, tenant)
        with app.app_context():
            with tenancy.unscoped_session(admin=True) as db:
                user_id = db.scalar(select(User.id).where(User.email == tenant.emails["trader"]))
            with tenancy.tenant_session_scope(tenant.id, admin=True) as db:
                db.delete(db.get(Membership, (tenant.id, user_id)))
        self._refused(client, key)

    def test_creator_deactivated(self, app, client, api_as, fresh_tenant):
        tenant = fresh_tenant()
        key = self._working_key(client, api_as, tenant)
        with app.app_context(), tenancy.unscoped_session(admin=True) as db:
            db.scalar(select(User).where(User.email == tenant.emails["trader"])).is_active = False
        self._refused(client, key)

    def test_organisation_suspended(self, app, client, api_as, fresh_tenant):
        tenant = fresh_tenant()
        key = self._working_key(client, api_as, tenant)
        with app.app_context(), tenancy.unscoped_session(admin=True) as db:
            db.get(Tenant, tenant.id).status = "suspended"
        self._refused(client, key)

    def test_unknown_and_tampered_keys(self, client, api_as):
        key = create_key(api_as("trader@acme.test"))
        self._refused(client, {"key": "ap_" + "x" * 43})
        self._refused(client, {"key": key["key"][:-1] + ("A" if key["key"][-1] != "A" else "B")})

    def test_never_on_pages(self, client, api_as):
        key = create_key(api_as("trader@acme.test"))["key"]
        page = client.get("/alerts", headers=bearer(key))
        assert page.status_code == 302 and page.location.startswith("/login")
        assert client.get("/status", headers={**bearer(key), "HX-Request": "true"}
                          ).status_code == 401

    def test_never_as_a_cookie(self, app, client, api_as):
        key = create_key(api_as("trader@acme.test"))["key"]
        client.set_cookie(app.config["JWT_ACCESS_COOKIE_NAME"], key)
        assert client.get("/api/status").status_code == 401

    def test_a_key_cannot_log_out(self, client, api_as):
        key = create_key(api_as("trader@acme.test"))["key"]
        response = client.post("/api/auth/logout", headers=bearer(key))
        assert response.status_code == 400
        assert client.get("/api/status", headers=bearer(key)).status_code == 200


class TestListingAndRevoking:
    def test_members_see_their_own_keys_and_admins_every_key(self, api_as, fresh_tenant):
        tenant = fresh_tenant()
        trader = api_as(tenant.emails["trader"], tenant.slug)
        admin = api_as(tenant.emails["admin"], tenant.slug)
        mine = create_key(trader, name="trader's")
        theirs = create_key(admin, name="admin's")
        trader_ids = [k["id"] for k in trader.get("/api/keys").get_json()["items"]]
        assert trader_ids == [mine["id"]]
        admin_ids = [k["id"] for k in admin.get("/api/keys").get_json()["items"]]
        assert admin_ids == [theirs["id"], mine["id"]]  # newest first
        # Another member's key is a 404 to a non-admin, like any unknown id...
        assert trader.post(f"/api/keys/{theirs['id']}/revoke").status_code == 404
        # ...but an admin may revoke any key of the organisation.
        assert admin.post(f"/api/keys/{mine['id']}/revoke").status_code == 200
        viewer = api_as(tenant.emails["viewer"], tenant.slug)
        assert viewer.get("/api/keys").get_json() == {"items": [], "next_cursor": None}

    def test_keyset_pages(self, api_as, fresh_tenant):
        tenant = fresh_tenant()
        trader = api_as(tenant.emails["trader"], tenant.slug)
        ids = [create_key(trader, name=f"k{i}")["id"] for i in range(3)]
        first = trader.get("/api/keys?limit=2").get_json()
        second = trader.get(f"/api/keys?limit=2&cursor={first['next_cursor']}").get_json()
        assert [k["id"] for k in first["items"] + second["items"]] == ids[::-1]
        assert second["next_cursor"] is None

    def test_revoking_twice_is_harmless_and_audited_once(self, app, api_as, tenant_a):
        trader = api_as("trader@acme.test")
        key = create_key(trader)
        first = trader.post(f"/api/keys/{key['id']}/revoke").get_json()
        second = trader.post(f"/api/keys/{key['id']}/revoke")
        assert second.status_code == 200
        assert second.get_json()["revoked_at"] == first["revoked_at"]
        assert audit_actions(app, tenant_a.id, key["id"]) == ["api_key.created",
                                                               "api_key.revoked"]


class TestIsolation:
    def test_a_b_a_keys_ids_and_counts_stay_in_their_organisation(
            self, app, client, api_as, tenant_a, tenant_b):
        acme_admin, globex_admin = api_as("admin@acme.test"), api_as("admin@globex.test")
        acme_key = create_key(acme_admin, name="acme only")
        globex_key = create_key(globex_admin, name="globex only")
        acme_list = acme_admin.get("/api/keys?limit=200")
        globex_list = globex_admin.get("/api/keys?limit=200")
        assert acme_key["id"] in acme_list.text and globex_key["id"] not in acme_list.text
        assert globex_key["id"] in globex_list.text and acme_key["id"] not in globex_list.text
        assert "tenant_id" not in acme_list.text + globex_list.text
        # B asking for A's key id gets exactly what a random id gets.
        foreign = globex_admin.post(f"/api/keys/{acme_key['id']}/revoke")
        random = globex_admin.post(f"/api/keys/{uuid.uuid4()}/revoke")
        assert foreign.status_code == random.status_code == 404
        assert foreign.data == random.data
        # A again: the key is untouched and still works, in A only.
        again = stored_key(app, tenant_a.id, acme_key["id"])
        assert again.revoked_at is None
        status = client.get("/api/status", headers=bearer(acme_key["key"])).get_json()
        assert status["tenant"]["slug"] == "acme"
        globex_view = client.get("/api/alerts?limit=200", headers=bearer(globex_key["key"]))
        acme_view = client.get("/api/alerts?limit=200", headers=bearer(acme_key["key"]))
        assert not {a["id"] for a in globex_view.get_json()["items"]} & {
            a["id"] for a in acme_view.get_json()["items"]}
        with app.app_context(), tenancy.tenant_session_scope(tenant_b.id, admin=True) as db:
            assert db.scalar(select(func.count()).select_from(ApiKey).where(
                ApiKey.id == uuid.UUID(acme_key["id"]))) == 0


class TestPage:
    def test_create_shows_the_key_once_with_a_copy_button(self, browser_as):
        browser = browser_as("trader@acme.test")
        page = browser.get("/settings/api-keys")
        assert page.status_code == 200 and 'id="create-key-form"' in page.text
        created = browser.post("/settings/api-keys", data={"name": "page key",
                                                           "role": "viewer"})
        assert created.status_code == 201
        html = soup(created)
        assert html.select_one('[data-testid="copy-key"]') is not None
        secret = html.select_one('[data-testid="new-key-value"]').get_text(strip=True)
        assert secret.startswith("ap_")
        again = browser.get("/settings/api-keys")
        assert "page key" in again.text and secret not in again.text
        assert secret[:11] in again.text  # the prefix identifies it

    def test_htmx_create_and_revoke_swap_the_keys_block(self, browser_as):
        browser = browser_as("trader@acme.test")
        created = browser.post("/settings/api-keys", data={"name": "htmx key"}, htmx=True)
        assert created.status_code == 201
        assert root_selector(created) == "div#api-keys"
        key_id = soup(created).select_one("[data-key-id]")["data-key-id"]
        revoked = browser.post(f"/settings/api-keys/{key_id}/revoke", htmx=True)
        assert revoked.status_code == 200 and "Revoked the key" in revoked.text

    def test_a_bad_form_is_shown_again_with_the_error(self, browser_as):
        browser = browser_as("trader@acme.test")
        response = browser.post("/settings/api-keys", data={"name": "", "role": "admin"})
        assert response.status_code == 422
        assert 'data-testid="error-name"' in response.text

    def test_a_viewer_sees_no_form_and_may_not_post(self, browser_as):
        browser = browser_as("viewer@acme.test")
        page = browser.get("/settings/api-keys")
        assert page.status_code == 200 and 'data-testid="no-create"' in page.text
        assert browser.post("/settings/api-keys", data={"name": "x"}).status_code == 403

    def test_another_organisations_keys_are_absent_from_page_and_fragment(self, browser_as,
                                                                          api_as):
        acme = create_key(api_as("admin@acme.test"), name="acme-secret-name")
        globex = create_key(api_as("admin@globex.test"), name="globex-secret-name")
        for email, mine, theirs in (("admin@acme.test", acme, globex),
                                    ("admin@globex.test", globex, acme),
                                    ("admin@acme.test", acme, globex)):
            browser = browser_as(email)
            for answer in (browser.get("/settings/api-keys"),
                           browser.get("/settings/api-keys", htmx=True)):
                assert answer.status_code == 200
                assert mine["id"] in answer.text and mine["name"] in answer.text
                assert theirs["id"] not in answer.text and theirs["name"] not in answer.text
                assert "tenant_id" not in answer.text
            assert not is_full_page(browser.get("/settings/api-keys", htmx=True))


def test_the_readme_shows_a_curl_example_against_documented_routes(client):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    curls = [line for line in readme.splitlines() if "curl " in line and "http" in line]
    keyed = [line for line in curls if 'Authorization: Bearer $KEY' in line]
    assert keyed, "the README needs a curl example that uses an API key"
    paths = set(client.get("/api/openapi.json").get_json()["paths"])
    for line in curls:
        url = line.split("http://127.0.0.1:5000", 1)[1].split()[0].split("?")[0]
        assert url in paths, url
