"""What does the portal answer when its database or Redis is away? (SPEC §7 "Outages")

These run on both backends: the "unreachable" app points at a loopback port where nothing
listens. The outage in the middle of concurrent writes, with recovery, is in
tests/postgres/test_database_outage.py.
"""

import logging
import sqlite3

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from portal.db import database_unavailable
from tests.conftest import build_app, mint_token
from tests.helpers import bearer
from tests.live import free_port


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    return free_port()  # free a moment ago, and nothing was started on it


@pytest.fixture(scope="module")
def unreachable_app():
    url = f"postgresql://portal_app:pw@127.0.0.1:{closed_port()}/portal"
    return build_app({"DATABASE_URL": url, "ADMIN_DATABASE_URL": url})


@pytest.fixture(scope="module")
def token(app):
    # The apps share the signing key, so a token of the working app is a valid token here.
    return mint_token(app, "trader@acme.test")


def test_the_api_answers_503_unavailable_with_retry_after(unreachable_app, token):
    client = unreachable_app.test_client()
    for method, path in (("GET", "/api/alerts"), ("POST", "/api/trades")):
        response = client.open(path, method=method, headers=bearer(token),
                               json={"symbol": "AAPL", "side": "buy", "quantity": "1",
                                     "order_type": "market"} if method == "POST" else None)
        assert response.status_code == 503
        assert response.json["error"]["code"] == "unavailable"
        assert "database" in response.json["error"]["message"]
        assert int(response.headers["Retry-After"]) > 0
        assert "psycopg" not in response.text and "Traceback" not in response.text


@pytest.fixture
def browser(unreachable_app, token, app):
    """A signed-in browser (the token in its cookie) of the unreachable app."""
    client = unreachable_app.test_client()
    client.set_cookie(app.config["JWT_ACCESS_COOKIE_NAME"], token)
    return client


def test_a_browser_gets_a_friendly_503_page_that_retries_by_itself(browser):
    response = browser.get("/alerts", headers={"Accept": "text/html"})
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) > 0
    page = response.text
    assert "Back in a moment" in page and "cannot reach its database" in page
    assert 'http-equiv="refresh"' in page
    assert "OperationalError" not in page and "Traceback" not in page


def test_an_htmx_swap_gets_an_empty_503(browser):
    response = browser.get("/alerts", headers={"HX-Request": "true"})
    assert response.status_code == 503
    assert response.text == ""
    assert "Retry-After" in response.headers


def test_health_answers_503_without_a_token(unreachable_app):
    response = unreachable_app.test_client().get("/health")
    assert response.status_code == 503
    assert response.json["database"] == "down"
    assert int(response.headers["Retry-After"]) > 0


def test_the_unavailable_answer_is_logged_as_a_warning_without_a_traceback(
        unreachable_app, token, caplog):
    with caplog.at_level(logging.WARNING, logger="portal"):
        unreachable_app.test_client().get("/api/alerts",
                                          headers=bearer(token))
    lines = [r for r in caplog.records if r.getMessage().startswith("database unavailable")]
    assert lines and lines[0].levelname == "WARNING" and lines[0].exc_info is None


def _wrapped(error_class, original):
    return error_class("SELECT 1", {}, original)


@pytest.mark.parametrize(("exc", "unavailable"), [
    (_wrapped(OperationalError, psycopg.OperationalError("connection refused")), True),
    (PoolTimeout("QueuePool limit reached"), True),
    (_wrapped(IntegrityError, psycopg.errors.UniqueViolation("duplicate key")), False),
    (_wrapped(ProgrammingError, psycopg.errors.UndefinedTable("no such table")), False),
    (_wrapped(OperationalError, sqlite3.OperationalError("no such column: x")), False),
    (ValueError("not a database error"), False),
])
def test_only_a_database_that_is_away_counts_as_unavailable(exc, unavailable):
    assert database_unavailable(exc) is unavailable


def test_with_redis_unreachable_rate_limits_fall_back_to_memory_with_a_warning(
        database, app, caplog):
    limited = build_app(
        database,
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{closed_port()}/0",
        PLAN_RATE_LIMITS={"starter": "3 per minute", "pro": "3 per minute"},
    )
    token = mint_token(app, "trader@acme.test")
    client = limited.test_client()
    with caplog.at_level(logging.WARNING, logger="portal.ratelimits"):
        statuses = [client.get("/api/status", headers=bearer(token))
                    .status_code for _ in range(4)]
    # The limit still holds, counted in this process's memory.
    assert statuses == [200, 200, 200, 429]
    warnings = [r for r in caplog.records
                if r.name == "portal.ratelimits" and r.levelname == "WARNING"]
    assert any("counting in this process's memory" in r.getMessage() for r in warnings)
