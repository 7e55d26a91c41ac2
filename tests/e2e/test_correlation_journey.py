"""Does the correlation heatmap redraw in place when an operator changes the pickers?"""

import re

from playwright.sync_api import expect


def test_changing_lookback_and_method_redraws_the_heatmap_without_a_reload(
    page, live_server, login
):
    login("viewer@acme.test")
    page.goto(f"{live_server}/correlation")
    meta = page.get_by_test_id("correlation-meta")
    expect(meta).to_have_attribute("data-lookback", "252")
    expect(page.get_by_test_id("heatmap")).to_be_visible()
    expect(page.get_by_test_id("heatmap-legend")).to_be_visible()
    first_average = page.get_by_test_id("average-correlation").inner_text()
    # A full reload would drop this marker; an htmx swap keeps it.
    page.evaluate("window.__stillHere = true")

    page.select_option("#lookback_days", "126")
    expect(meta).to_have_attribute("data-lookback", "126")
    expect(page.get_by_test_id("heatmap")).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]lookback_days=126"))
    assert page.get_by_test_id("average-correlation").inner_text() != first_average

    page.select_option("#method", "kendall")
    expect(meta).to_have_attribute("data-method", "kendall")
    expect(meta).to_have_attribute("data-lookback", "126")
    assert page.evaluate("window.__stillHere === true")


def test_an_unknown_symbol_is_shown_inline_and_the_page_recovers(page, live_server, login):
    login("trader@acme.test")
    page.goto(f"{live_server}/correlation")
    page.evaluate("window.__stillHere = true")
    page.fill("#symbols", "AAPL, NOPE")
    page.press("#symbols", "Enter")
    expect(page.get_by_test_id("correlation-error")).to_contain_text("NOPE")
    expect(page.get_by_test_id("heatmap")).to_have_count(0)

    page.fill("#symbols", "aapl, xom, msft")
    page.press("#symbols", "Enter")
    expect(page.get_by_test_id("heatmap")).to_be_visible()
    expect(page.locator('[data-testid="heatmap"] thead th')).to_have_text(
        ["", "AAPL", "XOM", "MSFT"])
    assert page.evaluate("window.__stillHere === true")
