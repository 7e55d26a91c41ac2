"""Page details a newcomer noticed: the navigation on error pages, the organisation named once,
card grids without a lone card on a row. Parsed as HTML (BeautifulSoup), not matched as text."""

import math
import re

import pytest

from tests.helpers import root_selector, soup


@pytest.mark.parametrize("path", ["/no-such-page", "/alerts/not-a-route/at-all"])
def test_a_signed_in_404_keeps_the_navigation_of_the_users_own_organisation(
        browser_as, tenant_a, tenant_b, path):
    for tenant, other in ((tenant_a, tenant_b), (tenant_b, tenant_a), (tenant_a, tenant_b)):
        response = browser_as(f"admin@{tenant.slug}.test").get(path)
        assert response.status_code == 404
        page = soup(response)
        assert page.select_one("nav.mainnav a[href='/alerts']") is not None
        assert page.select_one('[data-testid="current-tenant"]').get_text() == tenant.name
        assert other.name not in page.get_text()
        assert page.h1.get_text() == "Not found"
        message = page.select_one('[data-testid="error-message"]').get_text()
        assert message == "There is nothing at this address; check it for a typo."


def test_a_stranger_or_a_broken_cookie_gets_the_plain_404(app, client):
    assert soup(client.get("/no-such-page")).select_one("nav.mainnav") is None
    client.set_cookie(app.config["JWT_ACCESS_COOKIE_NAME"], "not-a-token")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert soup(response).select_one("nav.mainnav") is None


def test_an_unknown_api_path_stays_a_json_404(api_as):
    response = api_as("admin@acme.test").get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json["error"]["code"]


def test_the_dashboard_names_the_organisation_once(browser_as, fresh_tenant):
    tenant = fresh_tenant()
    page = soup(browser_as(tenant.emails["trader"]).get("/"))
    text = page.get_text(" ")
    assert text.count(tenant.name) == 1
    assert page.select_one('[data-testid="current-tenant"]').get_text() == tenant.name


def columns(grid) -> int:
    (cols,) = [int(name.removeprefix("cols-")) for name in grid["class"]
               if re.fullmatch(r"cols-\d+", name)]
    return cols


def assert_rows_full_or_balanced(grid, where: str) -> None:
    cards = len(grid.find_all(class_="card", recursive=False))
    cols = columns(grid)
    rows = math.ceil(cards / cols)
    last_row = cards - (rows - 1) * cols
    # Full rows, or a last row at most one card short: never a card alone under a full row.
    assert rows == 1 or last_row >= cols - 1, (where, cards, cols)
    assert cols <= cards, (where, cards, cols)


@pytest.mark.parametrize(("email", "path"), [
    ("admin@acme.test", "/"), ("viewer@acme.test", "/"),
    ("trader@acme.test", "/metrics?lookback_days=60"), ("viewer@acme.test", "/metrics"),
])
def test_card_grids_have_full_or_balanced_rows(browser_as, email, path):
    grids = soup(browser_as(email).get(path)).select('[data-testid="cards"]')
    assert grids
    for grid in grids:
        assert_rows_full_or_balanced(grid, path)


def test_host_figures_are_on_status_for_those_who_may_see_system_and_not_on_metrics(
        browser_as, tenant_a, tenant_b):
    import os

    for tenant in (tenant_a, tenant_b, tenant_a):
        trader = browser_as(f"trader@{tenant.slug}.test")
        status = soup(trader.get("/status"))
        host = status.select_one('[data-testid="host"]')
        assert host is not None
        assert host.select_one('[data-testid="host-pid"]').get_text() == str(os.getpid())
        assert host.select_one('[data-testid="host-cpu"]').get_text().endswith("%")
        assert host.select_one('[data-testid="host-memory"]').get_text().endswith("%")
        assert_rows_full_or_balanced(host.select_one('[data-testid="cards"]'), "/status")
        fragment = trader.get("/status/host", htmx=True)
        assert fragment.status_code == 200
        assert root_selector(fragment) == "section#host"
        assert str(tenant_b.id if tenant is tenant_a else tenant_a.id) not in fragment.text
        metrics = soup(trader.get("/metrics")).get_text(" ")
        assert "CPU" not in metrics and "pid" not in metrics and "Process RSS" not in metrics


def test_a_viewer_sees_no_host_figures(browser_as):
    viewer = browser_as("viewer@acme.test")
    assert soup(viewer.get("/status")).select_one('[data-testid="host"]') is None
    assert viewer.get("/status/host", htmx=True).status_code == 403
