"""Invitations: an admin invites by email without learning whether the email has an account
anywhere; the one-time link makes the membership only when it is accepted."""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from portal import tenancy
from portal.members.models import Invitation
from tests.helpers import audit_of, is_full_page, role_in, walk_pages

CREATED_FIELDS = {"id", "email", "role", "expires_at", "invite_url"}


def invite(api, email: str, role: str = "viewer"):
    return api.post("/api/invitations", json={"email": email, "role": role})


def token_of(response) -> str:
    return response.json["invite_url"].rsplit("/invite/", 1)[1]


def stored(app, tenant_id, invitation_id) -> Invitation:
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        return db.get(Invitation, (tenant_id, uuid.UUID(invitation_id)))


def pending_emails(api) -> set[str]:
    response = api.get("/api/invitations")
    assert response.status_code == 200
    return {item["email"] for item in response.json["items"]}


@pytest.fixture
def org(fresh_tenant):
    return fresh_tenant()


@pytest.fixture
def admin(api_as, org):
    return api_as(org.emails["admin"], org.slug)


# --- creating ---


def test_an_invitation_answers_201_with_exactly_the_contract_fields(app, admin, org):
    before = datetime.now(UTC)
    response = invite(admin, "  New.Person@Example.TEST ", "trader")
    assert response.status_code == 201
    body = response.json
    assert set(body) == CREATED_FIELDS
    assert body["email"] == "new.person@example.test"
    assert body["role"] == "trader"
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(hours=71, minutes=59) < expires - before <= timedelta(hours=72, seconds=5)
    assert body["expires_at"].endswith("Z")
    assert body["invite_url"].startswith("http://localhost/invite/")
    assert "tenant_id" not in response.get_data(as_text=True)


def test_the_invitation_page_is_never_cached_though_it_is_public(app, admin):
    token = token_of(invite(admin, "cache-check@example.test"))
    for answer in (app.test_client().get(f"/invite/{token}"), app.test_client().get(
            f"/invite/{'x' * 43}")):
        assert answer.headers["Cache-Control"] == "no-store"
    assert "no-store" not in (app.test_client().get("/login").headers.get("Cache-Control") or "")


def test_the_link_is_stored_only_as_a_hash(app, admin, org):
    response = invite(admin, "hashed@example.test")
    token = token_of(response)
    row = stored(app, org.id, response.json["id"])
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {row.token_hash, row.email, str(row.id)}
    assert len(token) >= 40


def test_an_unknown_email_and_one_with_an_account_elsewhere_get_the_same_answer(admin):
    unknown = invite(admin, f"nobody-{uuid.uuid4().hex[:6]}@example.test")
    elsewhere = invite(admin, "admin@globex.test")
    assert unknown.status_code == elsewhere.status_code == 201
    assert set(unknown.json) == set(elsewhere.json) == CREATED_FIELDS
    assert unknown.headers.get("Content-Type") == elsewhere.headers.get("Content-Type")
    for key in CREATED_FIELDS:
        assert type(unknown.json[key]) is type(elsewhere.json[key])
    assert len(token_of(unknown)) == len(token_of(elsewhere))


def test_inviting_an_existing_member_is_a_409(app, admin, org):
    response = invite(admin, org.emails["viewer"].upper(), "admin")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "already_member"
    assert response.json["error"]["field"] == "email"
    assert pending_emails(admin) == set()
    assert role_in(app, org.id, org.emails["viewer"]) == "viewer"


@pytest.mark.parametrize("body, field", [
    ({"email": "not-an-email", "role": "viewer"}, "email"),
    ({"email": "a b@example.test", "role": "viewer"}, "email"),
    # A C1 control character, as the login input refuses one.
    ({"email": "a\x9fb@example.test", "role": "viewer"}, "email"),
    ({"email": "x@example.test", "role": "owner"}, "role"),
    ({"email": "x@example.test"}, "role"),
    ({"role": "viewer"}, "email"),
    ({"email": "x@example.test", "role": "viewer", "tenant": "globex"}, "tenant"),
    ("x@example.test", "body"),
])
def test_bad_invitations_name_the_field_and_store_nothing(admin, body, field):
    response = admin.post("/api/invitations", json=body)
    assert response.status_code == 400
    assert response.json["error"]["field"] == field
    assert pending_emails(admin) == set()


def test_inviting_again_replaces_the_earlier_link(app, admin, org):
    first = invite(admin, "twice@example.test")
    second = invite(admin, "twice@example.test", "trader")
    assert [i["id"] for i in admin.get("/api/invitations").json["items"]] == [second.json["id"]]
    page = app.test_client().get(f"/invite/{token_of(first)}")
    assert page.status_code == 404


def test_creating_and_revoking_are_audited_with_before_and_after(app, admin, org):
    created = invite(admin, "audited@example.test", "trader")
    admin.post(f"/api/invitations/{created.json['id']}/revoke")
    [made] = audit_of(app, org.id, "invitation.created")
    assert made.actor_email == org.emails["admin"]
    assert made.target_type == "invitation" and made.target_id == created.json["id"]
    assert made.details["before"] is None
    assert made.details["after"]["role"] == "trader"
    [revoked] = audit_of(app, org.id, "invitation.revoked")
    assert revoked.details["before"] == {"status": "pending"}
    assert revoked.details["after"] == {"status": "revoked"}


# --- listing and revoking ---


def test_a_b_a_each_organisation_lists_only_its_own_pending_invitations(api_as, fresh_tenant):
    a, b = fresh_tenant(), fresh_tenant()
    api_a, api_b = api_as(a.emails["admin"], a.slug), api_as(b.emails["admin"], b.slug)
    invite(api_a, "for-a@example.test")
    invite(api_b, "for-b@example.test")
    first = pending_emails(api_a)
    other = pending_emails(api_b)
    again = pending_emails(api_a)
    assert first == again == {"for-a@example.test"}
    assert other == {"for-b@example.test"}


def test_the_pending_list_pages_and_leaves_out_used_revoked_and_expired(app, admin, org):
    ids = [invite(admin, f"p{n}@example.test").json["id"] for n in range(5)]
    admin.post(f"/api/invitations/{ids[0]}/revoke")
    with app.app_context(), tenancy.tenant_session_scope(org.id, admin=True) as db:
        db.execute(update(Invitation).where(Invitation.id == uuid.UUID(ids[1]))
                   .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    items, cursor = [], None
    for _ in range(5):
        body = admin.get("/api/invitations", query_string={
            "limit": 2, **({"cursor": cursor} if cursor else {})}).json
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [item["id"] for item in items] == list(reversed(ids[2:]))
    assert set(items[0]) == {"id", "email", "role", "created_at", "expires_at", "status"}


def test_revoking_is_harmless_twice_and_kills_the_link(app, admin, org):
    response = invite(admin, "revoked@example.test")
    url = f"/api/invitations/{response.json['id']}/revoke"
    first = admin.post(url)
    assert first.status_code == 200 and first.json["status"] == "revoked"
    assert admin.post(url).status_code == 200
    assert len(audit_of(app, org.id, "invitation.revoked")) == 1
    assert app.test_client().get(f"/invite/{token_of(response)}").status_code == 404


def test_another_organisations_invitation_answers_404_like_a_random_id(app, api_as, admin, org):
    foreign = invite(api_as("admin@globex.test", "globex"), "foreign@example.test")
    foreign_id = foreign.json["id"]
    theirs = admin.post(f"/api/invitations/{foreign_id}/revoke")
    random = admin.post(f"/api/invitations/{uuid.uuid4()}/revoke")
    malformed = admin.post("/api/invitations/nope/revoke")
    assert theirs.status_code == random.status_code == malformed.status_code == 404
    assert theirs.get_data() == random.get_data() == malformed.get_data()
    tenant_b = api_as("admin@globex.test", "globex")
    assert foreign_id in {i["id"] for i in tenant_b.get("/api/invitations").json["items"]}
    tenant_b.post(f"/api/invitations/{foreign_id}/revoke")


# --- accepting ---


def test_the_link_shows_the_organisation_and_email_but_not_whether_an_account_exists(
    app, admin, org
):
    known = app.test_client().get(f"/invite/{token_of(invite(admin, 'ops@example.test'))}")
    unknown = app.test_client().get(f"/invite/{token_of(invite(admin, 'fresh@example.test'))}")
    assert known.status_code == unknown.status_code == 200
    known_html = known.get_data(as_text=True).replace("ops@example.test", "EMAIL")
    unknown_html = unknown.get_data(as_text=True).replace("fresh@example.test", "EMAIL")
    strip = [line for line in known_html.splitlines() if "/invite/" not in line]
    assert strip == [line for line in unknown_html.splitlines() if "/invite/" not in line]
    assert org.name in known_html


def test_there_is_no_membership_until_the_invitation_is_accepted(app, admin, org):
    response = invite(admin, "later@example.test", "trader")
    assert "later@example.test" not in {m["email"] for m in walk_pages(admin, "/api/members")}
    app.test_client().get(f"/invite/{token_of(response)}")
    assert "later@example.test" not in {m["email"] for m in walk_pages(admin, "/api/members")}


def test_someone_new_sets_a_name_and_password_and_is_signed_in(app, admin, org):
    email = f"newcomer-{uuid.uuid4().hex[:6]}@example.test"
    response = invite(admin, email, "trader")
    client = app.test_client()
    accepted = client.post(f"/invite/{token_of(response)}", data={
        "account": "new", "display_name": "  Nia Newcomer ", "password": "a long passphrase"})
    assert accepted.status_code == 303
    status = client.get("/api/status")
    assert status.status_code == 200
    assert status.json["role"] == "trader"
    assert status.json["tenant"]["slug"] == org.slug
    members = {m["email"]: m for m in walk_pages(admin, "/api/members")}
    assert members[email]["display_name"] == "Nia Newcomer"
    assert members[email]["role"] == "trader"
    assert members[email]["last_sign_in_at"] is not None
    # The new password works at the login form too.
    again = app.test_client().post("/login", data={"email": email,
                                                   "password": "a long passphrase"})
    assert again.status_code == 303
    assert [e.action for e in audit_of(app, org.id, "member.added")] == ["member.added"]
    [accepted_entry] = audit_of(app, org.id, "invitation.accepted")
    assert accepted_entry.actor_email == email
    assert accepted_entry.details["after"] == {"status": "accepted"}


def test_the_link_works_once(app, admin, org):
    token = token_of(invite(admin, f"once-{uuid.uuid4().hex[:6]}@example.test"))
    form = {"account": "new", "display_name": "Once", "password": "a long passphrase"}
    assert app.test_client().post(f"/invite/{token}", data=form).status_code == 303
    second = app.test_client().post(f"/invite/{token}", data=form)
    assert second.status_code == 404
    assert app.test_client().get(f"/invite/{token}").status_code == 404
    assert admin.post(f"/api/invitations/{stored_id(app, org, token)}/revoke").status_code \
        == 409


def stored_id(app, org, token) -> str:
    digest = hashlib.sha256(token.encode()).hexdigest()
    with app.app_context(), tenancy.tenant_session_scope(org.id, admin=True) as db:
        return str(db.scalar(select(Invitation.id).where(Invitation.token_hash == digest)))


def test_an_expired_link_is_refused(app, admin, org):
    response = invite(admin, "late@example.test")
    with app.app_context(), tenancy.tenant_session_scope(org.id, admin=True) as db:
        db.execute(update(Invitation).where(Invitation.id == uuid.UUID(response.json["id"]))
                   .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    client = app.test_client()
    assert client.get(f"/invite/{token_of(response)}").status_code == 404
    posted = client.post(f"/invite/{token_of(response)}", data={
        "account": "new", "display_name": "Late", "password": "a long passphrase"})
    assert posted.status_code == 404
    assert role_in(app, org.id, "late@example.test") is None


@pytest.mark.parametrize("token", ["x", "0" * 43, "a" * 500])
def test_an_unknown_link_is_a_404_page(app, token):
    response = app.test_client().get(f"/invite/{token}")
    assert response.status_code == 404
    assert "not valid" in response.get_data(as_text=True)


def test_someone_with_an_account_signs_in_with_it_and_joins(app, api_as, admin, org,
                                                           fresh_tenant):
    # A fresh user, not a demo one: the demo users' memberships are other tests' fixtures.
    home = fresh_tenant()
    email = home.emails["viewer"]
    response = invite(admin, email, "trader")
    client = app.test_client()
    wrong = client.post(f"/invite/{token_of(response)}", data={
        "account": "existing", "password": "not-the-password"})
    assert wrong.status_code == 401
    assert role_in(app, org.id, email) is None
    accepted = client.post(f"/invite/{token_of(response)}", data={
        "account": "existing", "password": "demo-password"})
    assert accepted.status_code == 303
    assert client.get("/api/status").json["role"] == "trader"
    assert role_in(app, org.id, email) == "trader"
    # Their other memberships are as they were.
    assert api_as(email, home.slug).get("/api/status").json["role"] == "viewer"


def test_new_account_for_an_email_with_an_account_creates_nothing(app, admin, org):
    response = invite(admin, "trader@globex.test")
    refused = app.test_client().post(f"/invite/{token_of(response)}", data={
        "account": "new", "display_name": "Impostor", "password": "a long passphrase"})
    assert refused.status_code == 409
    assert role_in(app, org.id, "trader@globex.test") is None
    # The link still works for the real owner.
    assert app.test_client().get(f"/invite/{token_of(response)}").status_code == 200


@pytest.mark.parametrize("form, field", [
    ({"display_name": "", "password": "a long passphrase"}, "display_name"),
    ({"display_name": "Short", "password": "short"}, "password"),
    ({"display_name": "Bad\nName", "password": "a long passphrase"}, "display_name"),
])
def test_a_bad_new_account_form_names_the_field_and_keeps_the_link(app, admin, org, form, field):
    email = f"typo-{uuid.uuid4().hex[:6]}@example.test"
    token = token_of(invite(admin, email))
    response = app.test_client().post(f"/invite/{token}", data={"account": "new", **form})
    assert response.status_code == 422
    assert f'data-testid="error-{field}' in response.get_data(as_text=True).replace(
        "error-new-password", "error-password")
    assert role_in(app, org.id, email) is None
    assert app.test_client().get(f"/invite/{token}").status_code == 200


def test_a_suspended_organisations_link_is_not_open(app, admin, org):
    from portal.auth.models import Tenant

    token = token_of(invite(admin, "suspended@example.test"))
    with app.app_context(), tenancy.unscoped_session(admin=True) as db:
        db.execute(update(Tenant).where(Tenant.id == org.id).values(status="suspended"))
    try:
        assert app.test_client().get(f"/invite/{token}").status_code == 404
    finally:
        with app.app_context(), tenancy.unscoped_session(admin=True) as db:
            db.execute(update(Tenant).where(Tenant.id == org.id).values(status="active"))


# --- the page ---


def test_the_invite_form_shows_the_link_once_with_a_copy_button(app, browser_as, org):
    browser = browser_as(org.emails["admin"], org.slug)
    response = browser.post("/admin/members/invitations",
                            data={"email": "page-guest@example.test", "role": "trader"},
                            htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not is_full_page(html)
    assert 'data-testid="invite-link"' in html and "/invite/" in html
    assert 'data-copy-target="#invite-link"' in html
    assert response.headers["HX-Trigger"] == "invitations-changed"
    page = browser.get("/admin/members").get_data(as_text=True)
    assert "page-guest@example.test" in page and "/invite/" not in page


def test_the_invite_form_shows_problems_next_to_the_field(app, browser_as, org):
    browser = browser_as(org.emails["admin"], org.slug)
    bad = browser.post("/admin/members/invitations", data={"email": "nope", "role": "viewer"},
                       htmx=True)
    assert bad.status_code == 422 and 'data-testid="error-email"' in bad.get_data(as_text=True)
    member = browser.post("/admin/members/invitations",
                          data={"email": org.emails["trader"], "role": "viewer"}, htmx=True)
    assert member.status_code == 409
    assert "already a member" in member.get_data(as_text=True)


def test_revoking_from_the_page_refreshes_the_pending_list(app, browser_as, api_as, org):
    created = invite(api_as(org.emails["admin"], org.slug), "page-revoke@example.test")
    browser = browser_as(org.emails["admin"], org.slug)
    response = browser.post(f"/admin/members/invitations/{created.json['id']}/revoke",
                            htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="invitations"' in html and "page-revoke@example.test" not in html
    foreign = invite(api_as("admin@globex.test", "globex"), "page-foreign@example.test")
    assert browser.post(f"/admin/members/invitations/{foreign.json['id']}/revoke",
                        htmx=True).status_code == 404


def test_a_cross_site_post_cannot_accept_an_invitation(app, admin, org):
    email = f"csrf-{uuid.uuid4().hex[:6]}@example.test"
    token = token_of(invite(admin, email))
    form = {"account": "new", "display_name": "Mallory", "password": "a long passphrase"}
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        refused = app.test_client().post(f"/invite/{token}", data=form, headers=headers)
        assert refused.status_code == 403
        assert "portal_access" not in refused.headers.get("Set-Cookie", "")
    assert role_in(app, org.id, email) is None
    same_site = app.test_client().post(f"/invite/{token}", data=form, headers={
        "Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"})
    assert same_site.status_code == 303
