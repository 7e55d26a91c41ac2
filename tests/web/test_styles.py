"""Styles come from portal.css only: no page (nor an htmx fragment, nor a page showing form
errors) carries a style attribute or element, so the Content-Security-Policy allows styles
from 'self' alone. Parsed as HTML (BeautifulSoup)."""

import pytest
from bs4 import BeautifulSoup

PAGES = [
    "/", "/alerts", "/alerts?since=2024-05-03&until=2024-05-02", "/trades", "/metrics",
    "/metrics?lookback_days=5", "/correlation", "/correlation?symbols=AAPL,MSFT",
    "/correlation?threshold=7", "/status", "/audit", "/admin/members", "/settings/api-keys",
    "/api/docs", "/no-such-page",
]


def inline_styles(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    return ([str(tag)[:120] for tag in soup.find_all(style=True)]
            + [str(tag)[:120] for tag in soup.find_all("style")])


@pytest.mark.parametrize("path", PAGES)
def test_no_page_carries_an_inline_style(browser_as, path):
    browser = browser_as("admin@acme.test")
    for htmx in (False, True):
        response = browser.get(path, htmx=htmx)
        assert response.status_code in (200, 400, 404), (path, response.status_code)
        assert inline_styles(response.text) == [], path


def test_detail_pages_and_refused_forms_carry_no_inline_style(browser_as, api_as):
    browser = browser_as("admin@acme.test")
    alert = api_as("admin@acme.test").get("/api/alerts?limit=1").get_json()["items"][0]
    trade = api_as("admin@acme.test").get("/api/trades?limit=1").get_json()["items"][0]
    answers = [
        browser.get(f"/alerts/{alert['id']}"),
        browser.get(f"/trades/{trade['id']}"),
        browser.post("/alerts", {"title": "", "severity": "info"}),
        browser.post("/trades", {"symbol": "AAPL", "side": "buy", "quantity": "-3",
                                 "order_type": "market"}),
        browser.post("/settings/api-keys", {"name": "", "role": "viewer"}),
        browser.post("/admin/members/invitations", {"email": "not-an-email", "role": "viewer"}),
    ]
    for response in answers:
        assert response.status_code in (200, 422), response.request.path
        assert inline_styles(response.text) == [], response.request.path


def test_the_login_page_carries_no_inline_style(client):
    assert inline_styles(client.get("/login").get_data(as_text=True)) == []


def test_the_csp_allows_styles_from_the_site_only(client):
    csp = client.get("/login").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives["style-src"] == "'self'"
    assert "unsafe-inline" not in csp
