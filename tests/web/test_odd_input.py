"""Does any odd query value or body make a 500? Every list, metrics and correlation endpoint
gets every known parameter with hostile values; every POST gets malformed bodies. The answer
may be 200 or a 4xx naming the problem, never a server error."""

import pytest

ODD_VALUES = ["", "1e309", "NaN", "' OR 1=1 --", "\x00", "2026-13-45", "9" * 400,
              "AAPL," * 300]
PARAMS = ["limit", "cursor", "severity", "acknowledged", "source", "since", "until", "symbol",
          "side", "status", "window", "lookback_days", "symbols", "method", "threshold",
          "action", "after"]
GETS = ["/api/alerts", "/api/trades", "/api/trades/history", "/api/trades/pending",
        "/api/metrics/trading", "/api/metrics/risk", "/api/metrics/portfolio",
        "/api/correlation/matrix", "/api/correlation/analysis", "/api/audit",
        "/alerts", "/trades", "/metrics", "/correlation", "/audit"]
BODIES = [
    "x", 5, [], {}, {"title": None}, {"title": "t", "severity": "info", "tags": "abc"},
    {"title": "t", "severity": "info", "tags": [None]}, {"title": "x" * 5000, "severity": "info"},
    {"symbol": "AAPL", "side": "buy", "quantity": "1e400", "order_type": "market"},
    {"symbol": "AAPL", "side": "buy", "quantity": "NaN", "order_type": "market"},
    {"symbol": "AAPL", "side": "buy", "quantity": True, "order_type": "market"},
    {"symbol": ["AAPL"], "side": "buy", "quantity": 1, "order_type": "market"},
    {"symbol": "\x00", "side": "buy", "quantity": "1", "order_type": "market"},
    {"symbol": "AAPL", "side": "buy", "quantity": "1", "order_type": "limit",
     "limit_price": "1e-20"},
    {"email": ["a"], "password": {"x": 1}},
]


@pytest.mark.parametrize("path", GETS)
def test_no_query_value_makes_a_server_error(api_as, path):
    api = api_as("admin@acme.test")
    for param in PARAMS:
        for value in ODD_VALUES:
            response = api.get(path, query_string={param: value})
            assert response.status_code < 500, (path, param, value)


@pytest.mark.parametrize("path", ["/api/alerts", "/api/trades", "/api/auth/token"])
def test_no_body_makes_a_server_error(api_as, path):
    api = api_as("admin@acme.test")
    for body in BODIES:
        response = api.post(path, json=body)
        assert response.status_code == 400, (path, body, response.status_code)
    broken = api.post(path, data="{{{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400


def test_a_nul_character_is_refused_naming_the_field(api_as, browser_as):
    """PostgreSQL cannot hold NUL in text; every input is checked before any view runs."""
    api = api_as("admin@acme.test")
    listed = api.get("/api/audit", query_string={"action": "x\x00"})
    assert listed.status_code == 400
    assert listed.json["error"]["field"] == "action"
    order = api.post("/api/trades", json={"symbol": "AA\x00PL", "side": "buy", "quantity": "1",
                                          "order_type": "market"})
    assert order.status_code == 400
    assert order.json["error"]["field"] == "symbol"
    nested = api.post("/api/alerts", json={"title": "t", "severity": "info",
                                           "tags": ["ok", "b\x00d"]})
    assert nested.json["error"]["field"] == "tags.1"
    page = browser_as("trader@acme.test").post("/trades", data={"symbol": "A\x00"})
    assert page.status_code == 400
