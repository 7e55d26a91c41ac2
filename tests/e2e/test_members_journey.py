"""Can an admin bring a colleague in by invitation and, later, take them out again, so that the
colleague's open session ends at once?"""

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.conftest import make_fresh_tenant


@pytest.fixture
def org(app):
    return make_fresh_tenant(app)


@pytest.fixture
def colleague_page(browser, app, htmx_source):
    """A second person's browser, with htmx served like the first one's."""
    context = browser.new_context()
    context.route(app.config["HTMX_URL"], lambda route: route.fulfill(
        status=200, body=htmx_source, content_type="application/javascript",
        headers={"Access-Control-Allow-Origin": "*"}))
    yield context.new_page()
    context.close()


def test_admin_invites_a_colleague_who_joins_and_is_later_removed(
    page, colleague_page, live_server, login, org
):
    email = f"colleague-{uuid.uuid4().hex[:6]}@example.test"
    login(org.emails["admin"], org.slug)
    page.click("nav >> text=Members")
    page.wait_for_url(f"{live_server}/admin/members")
    expect(page.get_by_test_id("member-row")).to_have_count(3)

    # Invite: the one-time link appears with a copy button; the pending list updates itself.
    page.fill("#invite-email", email)
    page.select_option("#invite-role", "trader")
    page.click("[data-testid=invite-form] button[type=submit]")
    link = page.get_by_test_id("invite-link")
    expect(link).to_have_value(re.compile("^" + re.escape(f"{live_server}/invite/") + r"\S{40,}$"))
    invite_url = link.input_value()
    page.get_by_test_id("invite-copy").click()
    expect(page.get_by_test_id("invite-copy")).to_have_text("Copied")
    expect(page.get_by_test_id("invitation-row").filter(has_text=email)).to_have_count(1)

    # The colleague opens the link, names themself, chooses a password and is signed in.
    colleague_page.goto(invite_url)
    expect(colleague_page.get_by_test_id("invitation-email")).to_have_text(email)
    colleague_page.fill("#display_name", "Casey Colleague")
    colleague_page.fill("#new_password", "correct horse battery")
    colleague_page.click("[data-testid=new-account-form] button[type=submit]")
    colleague_page.wait_for_url(f"{live_server}/")
    expect(colleague_page.get_by_test_id("current-tenant")).to_have_text(org.name)
    expect(colleague_page.locator(".session .user")).to_contain_text("Casey Colleague")

    # The admin sees them as a member (no longer pending) and changes their role inline.
    page.reload()
    row = page.get_by_test_id("member-row").filter(has_text=email)
    expect(row).to_have_count(1)
    expect(page.get_by_test_id("invitation-row")).to_have_count(0)
    with page.expect_response(lambda response: response.url.endswith("/role")) as changed:
        row.get_by_test_id("member-role").select_option("admin")
    assert changed.value.status == 200
    expect(page.get_by_test_id("member-row").filter(has_text=email)
           .get_by_test_id("member-role")).to_have_value("admin")
    colleague_page.goto(f"{live_server}/admin/members")
    expect(colleague_page.locator("h1")).to_have_text("Members")

    # Removal asks first, then the row goes, and the colleague's open session ends.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("member-row").filter(has_text=email).get_by_test_id(
        "member-remove").click()
    expect(page.get_by_test_id("member-row").filter(has_text=email)).to_have_count(0)
    colleague_page.goto(f"{live_server}/alerts")
    assert colleague_page.url.startswith(f"{live_server}/login")

    # ... and the used link cannot bring them back.
    colleague_page.goto(invite_url)
    expect(colleague_page.locator("h1")).to_have_text("This invitation link is not valid")
