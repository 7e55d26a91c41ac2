"""/api/members and the /admin/members page: an organisation's admins see and change their own
members, and nobody else's; the last admin stays; a demotion or removal ends sessions at once."""

import time
import uuid

import pytest
from sqlalchemy import select

from portal import tenancy
from portal.auth.models import Membership, User
from tests.conftest import mint_token
from tests.helpers import (
    audit_of,
    bearer,
    fragment_root,
    is_full_page,
    role_in,
    user_id_of,
    walk_pages,
)

ITEM_FIELDS = {"user_id", "email", "display_name", "role", "created_at", "last_sign_in_at"}


def add_member(app, tenant_id, email: str, role: str) -> None:
    """Give an existing user a membership in another tenant (as the owner, like the seeder)."""
    with app.app_context():
        with tenancy.unscoped_session() as db:
            user_id = db.scalar(select(User.id).where(User.email == email))
        with tenancy.tenant_session_scope(tenant_id, admin=True) as db:
            db.add(Membership(user_id=user_id, role=role))








@pytest.fixture
def org(fresh_tenant):
    return fresh_tenant()


# --- the list ---


def test_an_admin_lists_exactly_their_members_with_the_contract_fields(api_as, org):
    items = walk_pages(api_as(org.emails["admin"], org.slug), "/api/members", 50)
    assert {item["email"] for item in items} == set(org.emails.values())
    for item in items:
        assert set(item) == ITEM_FIELDS
        assert item["role"] in ("admin", "trader", "viewer")
        assert item["created_at"].endswith("Z")


def test_the_list_pages_newest_first_without_gaps_or_repeats(api_as, org, app, fresh_tenant):
    # Users of other fresh tenants join as well (never the demo users, which other tests use).
    for other in (fresh_tenant(), fresh_tenant()):
        for email in (other.emails["trader"], other.emails["viewer"]):
            add_member(app, org.id, email, "viewer")
    api = api_as(org.emails["admin"], org.slug)
    whole = walk_pages(api, "/api/members", 50)
    paged = walk_pages(api, "/api/members", 2)
    assert [item["user_id"] for item in paged] == [item["user_id"] for item in whole]
    assert len({item["user_id"] for item in paged}) == 7
    stamps = [item["created_at"] for item in whole]
    assert stamps == sorted(stamps, reverse=True)


def test_a_b_a_each_admin_sees_only_their_own_organisations_members(api_as, app):
    def emails(email, slug):
        return {item["email"] for item in walk_pages(api_as(email, slug), "/api/members", 200)}

    first_a = emails("admin@acme.test", "acme")
    b = emails("admin@globex.test", "globex")
    second_a = emails("admin@acme.test", "acme")
    assert first_a == second_a
    assert {"admin@acme.test", "trader@acme.test", "viewer@acme.test"} <= first_a
    assert {"admin@globex.test", "trader@globex.test"} <= b
    assert not {"admin@globex.test", "trader@globex.test"} & first_a
    assert not {"admin@acme.test", "trader@acme.test", "viewer@acme.test"} & b
    # ops@example.test belongs to both, and so appears in both: with each one's own role.
    assert "ops@example.test" in first_a and "ops@example.test" in b


def test_the_json_never_carries_a_tenant_id(api_as, org, tenant_a):
    body = api_as(org.emails["admin"], org.slug).get("/api/members").get_data(as_text=True)
    assert "tenant_id" not in body
    assert str(org.id) not in body


@pytest.mark.parametrize("role", ["trader", "viewer"])
def test_only_admins_may_manage_members(api_as, org, role):
    api = api_as(org.emails[role], org.slug)
    target = f"/api/members/{uuid.uuid4()}"
    assert api.get("/api/members").status_code == 403
    assert api.patch(target, json={"role": "viewer"}).status_code == 403
    assert api.delete(target).status_code == 403
    assert api.post("/api/invitations", json={"email": "x@example.test",
                                              "role": "viewer"}).status_code == 403
    assert api.get("/api/invitations").status_code == 403
    assert api.post(f"/api/invitations/{uuid.uuid4()}/revoke").status_code == 403


def test_bad_list_arguments_name_the_field(api_as, org):
    api = api_as(org.emails["admin"], org.slug)
    for params, field in (({"limit": "0"}, "limit"), ({"cursor": "%%%"}, "cursor")):
        response = api.get("/api/members", query_string=params)
        assert response.status_code == 400
        assert response.json["error"]["field"] == field


def test_signing_in_records_last_sign_in_at_for_that_organisation_only(
    app, api_as, browser_as, fresh_tenant
):
    one, other = fresh_tenant(), fresh_tenant()
    add_member(app, other.id, one.emails["viewer"], "viewer")

    def last_sign_in(tenant):
        items = walk_pages(api_as(tenant.emails["admin"], tenant.slug), "/api/members", 50)
        return next(i for i in items if i["email"] == one.emails["viewer"])["last_sign_in_at"]

    assert last_sign_in(one) is None
    browser_as(one.emails["viewer"], one.slug)
    stamp = last_sign_in(one)
    assert stamp is not None and stamp.endswith("Z")
    assert last_sign_in(other) is None


# --- changing a role ---


def test_an_admin_changes_a_role_and_the_change_is_audited(app, api_as, org):
    api = api_as(org.emails["admin"], org.slug)
    trader_id = user_id_of(app, org.emails["trader"])
    response = api.patch(f"/api/members/{trader_id}", json={"role": "viewer"})
    assert response.status_code == 200
    assert set(response.json) == ITEM_FIELDS
    assert response.json["role"] == "viewer"
    assert role_in(app, org.id, org.emails["trader"]) == "viewer"
    [entry] = audit_of(app, org.id, "member.role_changed")
    assert entry.actor_email == org.emails["admin"]
    assert entry.target_type == "user" and entry.target_id == trader_id
    assert entry.details["before"] == {"role": "trader"}
    assert entry.details["after"] == {"role": "viewer"}


def test_setting_the_same_role_changes_and_audits_nothing(app, api_as, org):
    api = api_as(org.emails["admin"], org.slug)
    viewer_id = user_id_of(app, org.emails["viewer"])
    response = api.patch(f"/api/members/{viewer_id}", json={"role": "viewer"})
    assert response.status_code == 200
    assert audit_of(app, org.id, "member.role_changed") == []


@pytest.mark.parametrize("body, field", [
    ({"role": "owner"}, "role"),
    ({}, "role"),
    ({"role": "viewer", "tenant_id": "x"}, "tenant_id"),
    ([], "body"),
])
def test_a_bad_role_change_names_the_field_and_changes_nothing(app, api_as, org, body, field):
    api = api_as(org.emails["admin"], org.slug)
    trader_id = user_id_of(app, org.emails["trader"])
    response = api.patch(f"/api/members/{trader_id}", json=body)
    assert response.status_code == 400
    assert response.json["error"]["field"] == field
    assert role_in(app, org.id, org.emails["trader"]) == "trader"


def test_another_organisations_user_answers_404_like_a_random_id(app, api_as, org):
    api = api_as(org.emails["admin"], org.slug)
    stranger = user_id_of(app, "admin@globex.test")
    for method in ("patch", "delete"):
        call = getattr(api, method)
        kwargs = {"json": {"role": "viewer"}} if method == "patch" else {}
        foreign = call(f"/api/members/{stranger}", **kwargs)
        random = call(f"/api/members/{uuid.uuid4()}", **kwargs)
        malformed = call("/api/members/not-a-uuid", **kwargs)
        assert foreign.status_code == random.status_code == malformed.status_code == 404
        assert foreign.get_data() == random.get_data() == malformed.get_data()
    assert role_in(app, org.id, "admin@globex.test") is None


def test_a_member_of_both_organisations_is_still_404_to_an_admin_of_neither(
    app, api_as, fresh_tenant
):
    one, two, three = fresh_tenant(), fresh_tenant(), fresh_tenant()
    add_member(app, two.id, one.emails["trader"], "trader")
    shared = user_id_of(app, one.emails["trader"])
    api = api_as(three.emails["admin"], three.slug)
    assert api.patch(f"/api/members/{shared}", json={"role": "admin"}).status_code == 404
    assert api.delete(f"/api/members/{shared}").status_code == 404
    assert role_in(app, one.id, one.emails["trader"]) == "trader"
    assert role_in(app, two.id, one.emails["trader"]) == "trader"


def test_a_user_in_two_organisations_demoted_in_one_keeps_the_other_role(
    app, api_as, fresh_tenant
):
    one, two = fresh_tenant(), fresh_tenant()
    add_member(app, two.id, one.emails["trader"], "admin")
    member = user_id_of(app, one.emails["trader"])
    other_token = api_as(one.emails["trader"], two.slug)
    response = api_as(one.emails["admin"], one.slug).patch(f"/api/members/{member}",
                                                           json={"role": "viewer"})
    assert response.status_code == 200
    assert role_in(app, one.id, one.emails["trader"]) == "viewer"
    assert role_in(app, two.id, one.emails["trader"]) == "admin"
    # ... and their session in the other organisation goes on.
    assert other_token.get("/api/members").status_code == 200


def test_a_demotion_ends_the_members_sessions_in_that_organisation_at_once(
    app, api_as, org
):
    trader = api_as(org.emails["trader"], org.slug)
    assert trader.get("/api/status").status_code == 200
    time.sleep(1)  # tokens carry whole seconds; this one is clearly older than the demotion
    api_as(org.emails["admin"], org.slug).patch(
        f"/api/members/{user_id_of(app, org.emails['trader'])}", json={"role": "viewer"})
    assert trader.get("/api/status").status_code == 401
    time.sleep(1)
    again = api_as(org.emails["trader"], org.slug)
    assert again.get("/api/status").json["role"] == "viewer"


def test_a_promotion_keeps_the_members_sessions(app, api_as, org):
    viewer = api_as(org.emails["viewer"], org.slug)
    api_as(org.emails["admin"], org.slug).patch(
        f"/api/members/{user_id_of(app, org.emails['viewer'])}", json={"role": "trader"})
    status = viewer.get("/api/status")
    assert status.status_code == 200
    assert status.json["role"] == "trader"


# --- the last admin ---


def test_the_last_admin_can_be_neither_demoted_nor_removed(app, api_as, org):
    api = api_as(org.emails["admin"], org.slug)
    admin_id = user_id_of(app, org.emails["admin"])
    demote = api.patch(f"/api/members/{admin_id}", json={"role": "trader"})
    assert demote.status_code == 409
    assert demote.json["error"]["code"] == "last_admin"
    remove = api.delete(f"/api/members/{admin_id}")
    assert remove.status_code == 409
    assert role_in(app, org.id, org.emails["admin"]) == "admin"
    assert audit_of(app, org.id, "member.role_changed") == []
    assert audit_of(app, org.id, "member.removed") == []


def test_with_a_second_admin_the_first_may_step_down(app, api_as, org):
    api = api_as(org.emails["admin"], org.slug)
    trader_id = user_id_of(app, org.emails["trader"])
    admin_id = user_id_of(app, org.emails["admin"])
    assert api.patch(f"/api/members/{trader_id}", json={"role": "admin"}).status_code == 200
    assert api.patch(f"/api/members/{admin_id}", json={"role": "viewer"}).status_code == 200
    # The new admin is now the last one.
    second = api_as(org.emails["trader"], org.slug)
    assert second.delete(f"/api/members/{trader_id}").status_code == 409


def test_another_organisations_admins_do_not_count(app, api_as, fresh_tenant):
    one, two = fresh_tenant(), fresh_tenant()
    add_member(app, two.id, one.emails["trader"], "admin")
    admin_id = user_id_of(app, one.emails["admin"])
    response = api_as(one.emails["admin"], one.slug).delete(f"/api/members/{admin_id}")
    assert response.status_code == 409


# --- removal ---


def test_removal_ends_the_membership_and_its_sessions_but_not_other_memberships(
    app, api_as, fresh_tenant
):
    one, two = fresh_tenant(), fresh_tenant()
    add_member(app, two.id, one.emails["trader"], "trader")
    here = api_as(one.emails["trader"], one.slug)
    there = api_as(one.emails["trader"], two.slug)
    trader_id = user_id_of(app, one.emails["trader"])
    response = api_as(one.emails["admin"], one.slug).delete(f"/api/members/{trader_id}")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert role_in(app, one.id, one.emails["trader"]) is None
    assert role_in(app, two.id, one.emails["trader"]) == "trader"
    assert here.get("/api/status").status_code == 401
    assert there.get("/api/status").status_code == 200
    [entry] = audit_of(app, one.id, "member.removed")
    assert entry.target_id == trader_id
    assert entry.details["before"] == {"role": "trader"} and entry.details["after"] is None
    assert audit_of(app, two.id, "member.removed") == []
    # Removing again: the member is gone, like any unknown id.
    again = api_as(one.emails["admin"], one.slug).delete(f"/api/members/{trader_id}")
    assert again.status_code == 404


def key_for(api) -> str:
    response = api.post("/api/keys", json={"name": "script"})
    assert response.status_code == 201, response.json
    return response.json["key"]


def test_a_demotion_or_removal_revokes_the_members_api_keys_here_only(
    app, api_as, fresh_tenant
):
    one, two = fresh_tenant(), fresh_tenant()
    add_member(app, two.id, one.emails["trader"], "trader")
    demoted_key = key_for(api_as(one.emails["trader"], one.slug))
    elsewhere_key = key_for(api_as(one.emails["trader"], two.slug))
    admin = api_as(one.emails["admin"], one.slug)
    # Viewers may not hold keys: promote the one to be removed first (a promotion revokes none).
    admin.patch(f"/api/members/{user_id_of(app, one.emails['viewer'])}", json={"role": "trader"})
    removed_key = key_for(api_as(one.emails["viewer"], one.slug))

    def status_with(key) -> int:
        return app.test_client().get("/api/status", headers=bearer(key)).status_code

    assert status_with(demoted_key) == 200 and status_with(removed_key) == 200
    admin.patch(f"/api/members/{user_id_of(app, one.emails['trader'])}", json={"role": "viewer"})
    admin.delete(f"/api/members/{user_id_of(app, one.emails['viewer'])}")
    assert status_with(demoted_key) == 401
    assert status_with(removed_key) == 401
    assert status_with(elsewhere_key) == 200
    reasons = sorted(entry.details["reason"] for entry in audit_of(app, one.id, "api_key.revoked"))
    assert reasons == ["demoted", "removed"]
    assert audit_of(app, two.id, "api_key.revoked") == []


def test_a_token_from_before_a_removal_stays_dead_after_the_member_is_added_back(
    app, api_as, org
):
    old = mint_token(app, org.emails["viewer"], org.slug)
    time.sleep(1)
    viewer_id = user_id_of(app, org.emails["viewer"])
    admin = api_as(org.emails["admin"], org.slug)
    assert admin.delete(f"/api/members/{viewer_id}").status_code == 204
    invite = admin.post("/api/invitations", json={"email": org.emails["viewer"],
                                                  "role": "viewer"})
    token = invite.json["invite_url"].rsplit("/", 1)[1]
    accepted = app.test_client().post(f"/invite/{token}", data={
        "account": "existing", "password": "demo-password"})
    assert accepted.status_code == 303
    stale = app.test_client().get("/api/status", headers=bearer(old))
    assert stale.status_code == 401


# --- the page ---


def test_the_page_lists_members_and_pending_invitations_of_this_organisation_only(
    app, browser_as, api_as, org
):
    api_as("admin@globex.test", "globex").post(
        "/api/invitations", json={"email": "globex-guest@example.test", "role": "viewer"})
    api_as(org.emails["admin"], org.slug).post(
        "/api/invitations", json={"email": "org-guest@example.test", "role": "trader"})
    browser = browser_as(org.emails["admin"], org.slug)
    page = browser.get("/admin/members")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert is_full_page(html)
    for email in org.emails.values():
        assert email in html
    assert "org-guest@example.test" in html
    assert "globex-guest@example.test" not in html
    assert "admin@globex.test" not in html
    assert str(org.id) not in html
    fragment = browser.get("/admin/members", htmx=True).get_data(as_text=True)
    assert not is_full_page(fragment) and 'id="members"' in fragment
    assert org.emails["viewer"] in fragment and "admin@globex.test" not in fragment
    pending = browser.get("/admin/members/invitations", htmx=True).get_data(as_text=True)
    assert "org-guest@example.test" in pending and "globex-guest" not in pending


def test_the_navigation_shows_members_only_to_admins(browser_as, org):
    assert 'href="/admin/members"' in browser_as(org.emails["admin"], org.slug).get(
        "/").get_data(as_text=True)
    trader = browser_as(org.emails["trader"], org.slug)
    assert 'href="/admin/members"' not in trader.get("/").get_data(as_text=True)
    assert trader.get("/admin/members").status_code == 403


def test_an_inline_role_change_answers_with_the_row(app, browser_as, org):
    browser = browser_as(org.emails["admin"], org.slug)
    trader_id = user_id_of(app, org.emails["trader"])
    response = browser.post(f"/admin/members/{trader_id}/role", data={"role": "viewer"},
                            htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    row = fragment_root(html)
    assert row.name == "tr" and row["data-user-id"] == trader_id
    assert '<option value="viewer" selected>' in html
    assert role_in(app, org.id, org.emails["trader"]) == "viewer"


def test_an_inline_change_of_the_last_admin_answers_409_with_the_reason(app, browser_as, org):
    browser = browser_as(org.emails["admin"], org.slug)
    admin_id = user_id_of(app, org.emails["admin"])
    response = browser.post(f"/admin/members/{admin_id}/role", data={"role": "viewer"},
                            htmx=True)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "last admin" in html and '<option value="admin" selected>' in html
    plain = browser.post(f"/admin/members/{admin_id}/remove", data={"confirm": "yes"})
    assert plain.status_code == 303
    assert "last admin" in browser.get("/admin/members").get_data(as_text=True)
    assert role_in(app, org.id, org.emails["admin"]) == "admin"


def test_removal_from_the_page_asks_first_without_javascript(app, browser_as, org):
    browser = browser_as(org.emails["admin"], org.slug)
    viewer_id = user_id_of(app, org.emails["viewer"])
    ask = browser.post(f"/admin/members/{viewer_id}/remove")
    assert ask.status_code == 200
    assert 'name="confirm" value="yes"' in ask.get_data(as_text=True)
    assert role_in(app, org.id, org.emails["viewer"]) == "viewer"
    done = browser.post(f"/admin/members/{viewer_id}/remove", data={"confirm": "yes"})
    assert done.status_code == 303
    assert role_in(app, org.id, org.emails["viewer"]) is None


def test_removal_with_htmx_empties_the_row(app, browser_as, org):
    browser = browser_as(org.emails["admin"], org.slug)
    viewer_id = user_id_of(app, org.emails["viewer"])
    response = browser.post(f"/admin/members/{viewer_id}/remove", data={"confirm": "yes"},
                            htmx=True)
    assert response.status_code == 200 and response.get_data() == b""
    assert role_in(app, org.id, org.emails["viewer"]) is None


def test_page_controls_for_another_organisations_member_answer_404(app, browser_as, org):
    browser = browser_as(org.emails["admin"], org.slug)
    stranger = user_id_of(app, "admin@globex.test")
    assert browser.post(f"/admin/members/{stranger}/role", data={"role": "viewer"},
                        htmx=True).status_code == 404
    assert browser.post(f"/admin/members/{stranger}/remove",
                        data={"confirm": "yes"}).status_code == 404
    assert role_in(app, org.id, "admin@globex.test") is None
