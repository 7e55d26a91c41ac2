"""Does every time the JSON API writes end in Z, whichever list or figure it comes from?"""

import re

import pytest

# A date-time, not a bare date (correlation's as_of and price dates are days, not instants).
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")

LISTS = [
    "/api/alerts",
    "/api/trades",
    "/api/trades/history",
    "/api/trades/pending",
    "/api/audit",
    "/api/keys",
    "/api/members",
    "/api/invitations",
]
FIGURES = ["/api/metrics/trading", "/api/metrics/system"]


def times_in(document) -> list[str]:
    """Every date-time string anywhere in a JSON document."""
    if isinstance(document, dict):
        return [found for value in document.values() for found in times_in(value)]
    if isinstance(document, list):
        return [found for value in document for found in times_in(value)]
    if isinstance(document, str) and DATE_TIME.match(document):
        return [document]
    return []


@pytest.fixture(scope="module")
def busy_admin(app):
    """An admin of a new organisation whose every list has at least one row: an alert, a
    filled and a pending order, an API key, an invitation, and their audit records."""
    from tests.conftest import ApiClient, make_fresh_tenant, mint_token

    tenant = make_fresh_tenant(app)
    admin = ApiClient(app.test_client(), mint_token(app, tenant.emails["admin"]))
    created = [
        admin.post("/api/alerts", json={"title": "Feed late", "severity": "warning"}),
        admin.post("/api/trades", json={"symbol": "AAPL", "side": "buy", "quantity": "2",
                                        "order_type": "market"}),
        admin.post("/api/trades", json={"symbol": "AAPL", "side": "buy", "quantity": "1",
                                        "order_type": "limit", "limit_price": "0.01"}),
        admin.post("/api/keys", json={"name": "nightly"}),
        admin.post("/api/invitations", json={"email": "new@example.test", "role": "viewer"}),
    ]
    assert [response.status_code for response in created] == [201] * 5
    return admin


@pytest.mark.parametrize("path", LISTS)
def test_every_time_in_a_list_ends_in_z(busy_admin, path):
    response = busy_admin.get(path)
    assert response.status_code == 200
    assert response.json["items"], f"{path} listed nothing to check"
    times = times_in(response.json)
    assert times, f"{path} wrote no time at all"
    assert [time for time in times if not time.endswith("Z")] == []


@pytest.mark.parametrize("path", FIGURES)
def test_every_time_in_the_figures_ends_in_z(busy_admin, path):
    response = busy_admin.get(path)
    assert response.status_code == 200
    times = times_in(response.json)
    assert times, f"{path} wrote no time at all"
    assert [time for time in times if not time.endswith("Z")] == []

