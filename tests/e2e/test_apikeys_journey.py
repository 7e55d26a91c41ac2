"""Can an operator create an API key on the settings page, copy it, hand it to a script that
calls the live API with it, and stop that script by revoking the key?"""

import json
import urllib.error
import urllib.request

from playwright.sync_api import expect

from tests.helpers import mark_page, still_same_page


def script_call(base_url: str, key: str, path: str, body: dict | None = None):
    """What a user's script does: plain urllib, the key as a bearer header, no cookies."""
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_create_copy_use_from_a_script_and_revoke(page, context, live_server, login):
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    login("trader@acme.test")
    page.click("nav >> text=API keys")
    page.wait_for_url(f"{live_server}/settings/api-keys")

    page.fill("#key-name", "journey script")
    page.select_option("#key-role", "trader")
    page.click("#create-key-form button[type=submit]")
    shown = page.get_by_test_id("new-key-value")
    expect(shown).to_be_visible()
    secret = shown.inner_text().strip()
    assert secret.startswith("ap_")
    page.get_by_test_id("copy-key").click()
    expect(page.get_by_test_id("copy-key")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    row = page.get_by_test_id("key-row").filter(has_text="journey script")
    expect(row.get_by_test_id("key-state")).to_have_text("active")

    status, body = script_call(live_server, secret, "/api/status")
    assert status == 200
    assert body["tenant"]["slug"] == "acme" and body["user"]["email"] == "trader@acme.test"
    status, alert = script_call(live_server, secret, "/api/alerts",
                                {"title": "raised by a key", "severity": "warning"})
    assert status == 201 and "tenant_id" not in alert

    # Reloading never shows the secret again; the list shows it was used.
    page.reload()
    expect(page.get_by_test_id("new-key-value")).to_have_count(0)
    assert secret not in page.content()
    row = page.get_by_test_id("key-row").filter(has_text="journey script")
    expect(row).not_to_contain_text("—")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Revoked the key")
    expect(page.get_by_test_id("key-row").filter(has_text="journey script")
           .get_by_test_id("key-state")).to_have_text("revoked")
    status, body = script_call(live_server, secret, "/api/status")
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_the_api_reference_is_in_the_navigation(page, live_server, login):
    login("viewer@acme.test")
    page.click('nav >> text="API"')
    page.wait_for_url(f"{live_server}/api/docs")
    expect(page.locator("h1")).to_contain_text("AlphaPulse Portal API")
    expect(page.locator("#apikeys_api_create_key")).to_contain_text("/api/keys")
    expect(page.get_by_test_id("current-tenant")).to_have_text("Acme Capital")


def test_a_refused_key_form_shows_its_error_inline_without_a_reload(page, live_server, login):
    """The page loads no script of its own: htmx's responseHandling swaps the 422 form."""
    login("trader@acme.test")
    page.goto(f"{live_server}/settings/api-keys")
    mark_page(page)
    scripts = page.eval_on_selector_all("script[src]", "els => els.map(e => e.src)")
    own = [src.removeprefix(live_server) for src in scripts if src.startswith(live_server)]
    assert own == ["/static/js/portal.js"]

    page.fill("#key-name", "   ")  # passes the browser's `required`, refused by the server
    page.click("#create-key-form button[type=submit]")
    expect(page.get_by_test_id("error-name")).to_have_text("Required.")
    expect(page.locator("#key-name")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("new-key-value")).to_have_count(0)
    assert still_same_page(page)
