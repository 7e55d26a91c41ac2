"""Can an operator filter the alert list, acknowledge an alert in place and see new alerts
arrive, all without the page reloading?"""

import re
import uuid

from playwright.sync_api import expect

from tests.helpers import htmx_settled, mark_page, still_same_page


def raise_alert(api_as, **fields) -> dict:
    body = {"title": f"Journey {uuid.uuid4().hex[:8]}", "severity": "critical",
            "source": "e2e", **fields}
    response = api_as("trader@acme.test").post("/api/alerts", json=body)
    assert response.status_code == 201, response.text
    return response.get_json()


def test_trader_filters_by_severity_and_acknowledges_in_place(page, live_server, login,
                                                              api_as):
    alert = raise_alert(api_as)
    login("trader@acme.test")
    page.goto(f"{live_server}/alerts")
    mark_page(page)
    badge = page.get_by_test_id("open-alerts-badge")
    before = int(badge.inner_text())

    page.select_option("#filter-severity", "critical")
    expect(page).to_have_url(re.compile(r"/alerts\?severity=critical$"))
    severities = page.locator("#alert-list [data-testid=alert-severity]")
    expect(severities.first).to_have_text("critical")
    assert set(severities.all_inner_texts()) == {"critical"}

    row = page.locator(f"#alert-{alert['id']}")
    expect(row).to_have_attribute("data-state", "open")
    row.get_by_test_id("acknowledge").click()

    expect(row).to_have_attribute("data-state", "acknowledged")
    expect(row.get_by_test_id("alert-state")).to_have_text("Acknowledged")
    expect(row.get_by_test_id("acknowledge")).to_have_count(0)
    expect(badge).to_have_text(str(before - 1))
    assert still_same_page(page)
    assert page.url.endswith("/alerts?severity=critical")


def test_new_alerts_appear_at_the_top_without_a_reload(page, live_server, login, api_as):
    login("trader@acme.test")
    # A clock the test can move on, so the 15 s poll is not waited out in real time.
    page.clock.install()
    page.goto(f"{live_server}/alerts?severity=critical")
    mark_page(page)
    rows = page.locator("#alert-list [data-testid=alert-row]")

    # Raised from the page's own form: the list fetches it at once.
    page.click("text=New alert")
    title = f"Typed {uuid.uuid4().hex[:8]}"
    page.fill("#alert-title", "   ")  # passes the browser's "required", not the server
    page.select_option("#alert-severity", "critical")
    page.click("#new-alert-form button[type=submit]")
    expect(page.locator("#new-alert-form [data-field=title]")).to_be_visible()
    page.fill("#alert-title", title)
    page.select_option("#alert-severity", "critical")
    page.click("#new-alert-form button[type=submit]")
    expect(page.get_by_test_id("alert-created")).to_contain_text(title)
    expect(rows.first).to_contain_text(title)

    # Raised elsewhere (a script): the list's poll brings it within its interval.
    scripted = raise_alert(api_as)
    expect(rows.first).not_to_have_attribute("data-alert-id", scripted["id"])
    # run_for, not fast_forward: htmx sets the new poller's 15 s timer from timers of its own
    # (the swap's settle), which fast_forward would fire only at its end, one poll too late.
    page.clock.run_for("00:16")
    expect(rows.first).to_have_attribute("data-alert-id", scripted["id"])
    assert still_same_page(page)


def test_a_filter_since_after_until_shows_its_error_beside_the_field_without_a_reload(
        page, live_server, login):
    login("trader@acme.test")
    page.goto(f"{live_server}/alerts")
    mark_page(page)

    page.fill("#filter-since", "2024-05-03")
    expect(page).to_have_url(re.compile(r"/alerts\?since=2024-05-03$"))
    htmx_settled(page)
    page.fill("#filter-until", "2024-05-02")
    error = page.locator("[data-testid=alert-filters] [data-testid=error-until]")
    expect(error).to_be_visible()
    expect(page.locator("#filter-until")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#filter-until")).to_have_value("2024-05-02")
    expect(page.get_by_test_id("request-error")).to_be_hidden()

    # Put right, the next answer swaps the error away.
    page.fill("#filter-until", "2024-05-04")
    expect(error).to_have_count(0)
    expect(page).to_have_url(re.compile(r"since=2024-05-03&until=2024-05-04$"))
    assert still_same_page(page)


def test_an_answer_htmx_does_not_swap_is_said_not_silently_dropped(page, live_server, login):
    login("trader@acme.test")
    page.goto(f"{live_server}/alerts")
    mark_page(page)
    rows_before = page.locator("#alert-list [data-testid=alert-row]").count()
    # The database goes away for the next filter: the portal answers htmx an empty 503.
    page.route(re.compile(r".*/alerts\?.*"), lambda route: route.fulfill(
        status=503, body="", headers={"Retry-After": "5"}))

    page.select_option("#filter-severity", "critical")
    notice = page.get_by_test_id("request-error")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("503")
    assert page.locator("#alert-list [data-testid=alert-row]").count() == rows_before

    # Back again: the next answer that gets through clears the notice.
    page.unroute(re.compile(r".*/alerts\?.*"))
    page.select_option("#filter-severity", "")
    expect(notice).to_be_hidden()
    assert still_same_page(page)
