"""Can an operator read the metrics page and switch the trading window, with and without
JavaScript?"""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.helpers import htmx_settled


def test_switching_the_window_redraws_only_the_trading_block(page, live_server, login):
    login("viewer@acme.test")
    page.goto(f"{live_server}/metrics")
    expect(page.locator("h1")).to_have_text("Metrics")
    expect(page.get_by_test_id("positions")).to_be_visible()
    expect(page.get_by_test_id("chart")).to_have_count(2)
    trading = page.get_by_test_id("trading")
    expect(trading).to_have_attribute("data-window", "30d")
    # A mark on the page that a full reload would wipe out.
    page.evaluate("document.getElementById('portfolio').dataset.kept = 'yes'")

    page.select_option("#window", "7d")
    expect(trading).to_have_attribute("data-window", "7d")
    # htmx pushes the URL after the swap settles; wait for it rather than racing it.
    expect(page).to_have_url(re.compile(r"[?&]window=7d"))
    assert page.evaluate("document.getElementById('portfolio').dataset.kept") == "yes"
    htmx_settled(page)

    page.select_option("#window", "all")
    expect(trading).to_have_attribute("data-window", "all")
    expect(page.locator("#window")).to_have_value("all")
    expect(page).to_have_url(re.compile(r"[?&]window=all"))
    assert page.evaluate("document.getElementById('portfolio').dataset.kept") == "yes"

    page.go_back()
    expect(page.get_by_test_id("trading")).to_have_attribute("data-window", "7d")


def test_the_risk_lookback_and_the_window_keep_each_other(page, live_server, login):
    login("viewer@acme.test")
    page.goto(f"{live_server}/metrics")
    page.select_option("#lookback_days", "63")
    expect(page.get_by_test_id("risk")).to_have_attribute("data-lookback", "63")
    expect(page.get_by_test_id("chart")).to_have_count(2)
    page.select_option("#window", "1d")
    expect(page.get_by_test_id("trading")).to_have_attribute("data-window", "1d")
    expect(page).to_have_url(re.compile(r"(?=.*[?&]window=1d)(?=.*[?&]lookback_days=63)"))
    page.reload()
    expect(page.get_by_test_id("risk")).to_have_attribute("data-lookback", "63")
    expect(page.get_by_test_id("trading")).to_have_attribute("data-window", "1d")


def test_the_window_picker_works_without_javascript(browser, live_server, app, htmx_source):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, live_server, "viewer@acme.test")
        page.goto(f"{live_server}/metrics")
        page.select_option("#window", "1d")
        page.locator("#trading button[type=submit]").click()
        page.wait_for_url("**/metrics?window=1d*")
        expect(page.get_by_test_id("trading")).to_have_attribute("data-window", "1d")
        expect(page.get_by_test_id("portfolio")).to_be_visible()
    finally:
        context.close()
