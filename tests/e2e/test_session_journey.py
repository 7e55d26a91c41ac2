"""Can an operator sign in, see their organisation, switch to another and sign out?"""

from playwright.sync_api import expect


def test_ops_user_signs_in_switches_tenant_and_logs_out(page, live_server, login):
    login("ops@example.test", "acme")
    expect(page.get_by_test_id("current-tenant")).to_have_text("Acme Capital")
    expect(page.locator("h1")).to_have_text("Dashboard")

    page.select_option("#tenant-switch", "globex")
    page.click(".switcher button")
    expect(page.get_by_test_id("current-tenant")).to_have_text("Globex Trading")
    expect(page.locator(".session .user")).to_contain_text("trader")

    page.click("text=Log out")
    page.wait_for_url(f"{live_server}/login")
    # The revoked session no longer opens pages.
    page.goto(f"{live_server}/status")
    assert page.url.startswith(f"{live_server}/login")


def test_htmx_loads_from_the_pinned_copy(page, live_server, login):
    login("trader@acme.test")
    assert page.evaluate("typeof htmx !== 'undefined' && htmx.version") == "2.0.8"
