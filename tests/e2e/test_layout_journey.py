"""What the page items of issue 12 look like in a real browser: card rows without a lone card,
audit dates on one line across the width, the navigation kept on a 404, and htmx served from
the local copy to a browser that cannot reach the internet."""

import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from tests.conftest import build_app
from tests.e2e.conftest import sign_in

ROWS_OF_CARDS = """grid => {
  const rows = {};
  for (const card of grid.querySelectorAll(':scope > .card')) {
    const top = Math.round(card.getBoundingClientRect().top);
    rows[top] = (rows[top] || 0) + 1;
  }
  return Object.keys(rows).map(Number).sort((a, b) => a - b).map(top => rows[top]);
}"""


@pytest.mark.parametrize("width", [1440, 1100])
def test_card_rows_are_full_or_balanced(page, live_server, login, width):
    page.set_viewport_size({"width": width, "height": 900})
    login("admin@acme.test")
    for path in ("/", "/metrics?lookback_days=60", "/status"):
        page.goto(f"{live_server}{path}")
        grids = page.locator('[data-testid="cards"]')
        expect(grids.first).to_be_visible()
        for index in range(grids.count()):
            rows = grids.nth(index).evaluate(ROWS_OF_CARDS)
            assert sum(rows) >= 4, (path, rows)
            assert max(rows) - min(rows) <= 1, (width, path, rows)
            assert len(rows) == 1 or min(rows) > 1, (width, path, rows)


def test_audit_dates_stay_on_one_line_and_the_table_uses_the_width(page, live_server, login):
    page.set_viewport_size({"width": 1600, "height": 900})
    login("admin@acme.test")
    page.goto(f"{live_server}/audit")
    table = page.get_by_test_id("audit-table")
    expect(table).to_be_visible()
    assert table.bounding_box()["width"] > 1400
    lines = page.eval_on_selector_all(
        '[data-testid="audit-row"] time',
        "times => times.map(t => t.getClientRects().length)")
    assert lines and set(lines) == {1}
    short = page.locator('[data-testid="audit-row"] .short-id').first
    title = short.get_attribute("title")
    assert len(title) > 8 and short.inner_text() == title[:8] + "…"


def test_a_404_keeps_the_navigation_for_a_signed_in_user(page, live_server, login):
    login("trader@acme.test")
    page.goto(f"{live_server}/no-such-page")
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("nav.mainnav")).to_be_visible()
    page.locator("nav.mainnav").get_by_text("Trades").click()
    page.wait_for_url(f"{live_server}/trades")


@pytest.fixture
def local_htmx_server(database, htmx_source):
    """The portal with PORTAL_HTMX_SOURCE=local, serving the copy vendor-htmx installs
    (the same pinned npm file; the command itself is tested in tests/web)."""
    static_copy = Path(__file__).resolve().parents[2] / "static" / "vendor" / "htmx.min.js"
    if not static_copy.exists() or static_copy.read_bytes() != htmx_source:
        static_copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(__file__).parent / "vendor" / "node_modules" / "htmx.org" / "dist"
                        / "htmx.min.js", static_copy)
    app = build_app(database, HTMX_SOURCE="local", HTMX_URL="/static/vendor/htmx.min.js")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_browser_without_internet_gets_htmx_from_the_local_copy(browser, local_htmx_server):
    context = browser.new_context()
    outside = []

    def only_loopback(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    sign_in(page, local_htmx_server, "trader@acme.test")
    assert page.evaluate("typeof htmx !== 'undefined' && htmx.version") == "2.0.8"
    # htmx at work: the alert filters swap the list in place and push the URL.
    page.goto(f"{local_htmx_server}/alerts")
    page.evaluate("window.__stillHere = true")
    page.select_option("#filter-severity", "critical")
    page.wait_for_url(f"{local_htmx_server}/alerts?severity=critical")
    assert page.evaluate("window.__stillHere === true")
    assert outside == []
    context.close()


def test_the_organisation_banner_lines_up_with_the_page_heading(page, live_server, login):
    page.set_viewport_size({"width": 1600, "height": 900})
    login("admin@acme.test")
    for path in ("/", "/audit"):
        page.goto(f"{live_server}{path}")
        text_left = page.get_by_test_id("current-tenant").evaluate(
            "el => el.getBoundingClientRect().left + parseFloat(getComputedStyle(el).paddingLeft)")
        heading_left = page.locator("h1").bounding_box()["x"]
        assert abs(text_left - heading_left) < 2, (path, text_left, heading_left)
