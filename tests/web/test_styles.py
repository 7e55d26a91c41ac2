"""Styles come from portal.css only: no page (nor an htmx fragment, nor a page showing form
errors) carries a style attribute or element, so the Content-Security-Policy allows styles
from 'self' alone. Parsed as HTML (BeautifulSoup)."""

import pytest

from tests.helpers import soup

PAGES = [
    "/", "/alerts", "/trades", "/metrics", "/correlation", "/correlation?symbols=AAPL,MSFT",
    "/status", "/audit", "/admin/members", "/settings/api-keys", "/api/docs",
]
# Pages that answer with their form's errors, and one that is not there.
REFUSED = {"/alerts?since=2024-05-03&until=2024-05-02": 400, "/metrics?lookback_days=5": 400,
           "/correlation?threshold=7": 400, "/no-such-page": 404}


def inline_styles(html: str) -> list[str]:
    page = soup(html)
    return ([str(tag)[:120] for tag in page.find_all(style=True)]
            + [str(tag)[:120] for tag in page.find_all("style")])


@pytest.mark.parametrize("path", PAGES + list(REFUSED))
def test_no_page_carries_an_inline_style(browser_as, path):
    browser = browser_as("admin@acme.test")
    for htmx in (False, True):
        response = browser.get(path, htmx=htmx)
        assert response.status_code == REFUSED.get(path, 200), (path, response.status_code)
        assert inline_styles(response.text) == [], path


def test_detail_pages_and_refused_forms_carry_no_inline_style(browser_as, api_as):
    browser = browser_as("admin@acme.test")
    alert = api_as("admin@acme.test").get("/api/alerts?limit=1").get_json()["items"][0]
    trade = api_as("admin@acme.test").get("/api/trades?limit=1").get_json()["items"][0]
    answers = [
        (browser.get(f"/alerts/{alert['id']}"), 200),
        (browser.get(f"/trades/{trade['id']}"), 200),
        (browser.post("/alerts", {"title": "", "severity": "info"}), 422),
        (browser.post("/trades", {"symbol": "AAPL", "side": "buy", "quantity": "-3",
                                  "order_type": "market"}), 422),
        (browser.post("/settings/api-keys", {"name": "", "role": "viewer"}), 422),
        (browser.post("/admin/members/invitations", {"email": "not-an-email", "role": "viewer"}),
         422),
    ]
    for response, status in answers:
        assert response.status_code == status, response.request.path
        assert inline_styles(response.text) == [], response.request.path


def test_the_login_page_carries_no_inline_style(client):
    assert inline_styles(client.get("/login").get_data(as_text=True)) == []


def test_the_csp_allows_styles_from_the_site_only(client):
    csp = client.get("/login").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives["style-src"] == "'self'"
    assert "unsafe-inline" not in csp
