"""What does one request cost the database? (issue 9: the isolation stack near a bare query)

Counted, not timed: statements the app sends and transactions it begins for one signed-in
list request, on whichever backend the run uses. The token check (tenant, user, membership,
revoked sign-in) is one statement, the page another, and both run in one transaction, whose
tenant setting on PostgreSQL travels with its BEGIN (so SQLAlchemy never sees it). On
PostgreSQL a sign-in the worker checked before, with nothing changed since, is answered by
one primary-key read of the standing version instead (portal.auth.queries).
"""

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from portal import tenancy
from portal.auth import queries as auth_queries
from portal.tenancy import pipelined_scalar
from tests.conftest import backend


@contextmanager
def counted(app):
    """Statements SQLAlchemy sends, and the reads that travel with the tenant setting
    straight through the driver (tenancy.pipelined_scalar: the standing version)."""
    seen = {"statements": [], "transactions": 0}

    def statement(_conn, _cursor, sql, *_args):
        seen["statements"].append(sql)

    def pipelined(db, sql, params):
        seen["statements"].append(sql)
        return pipelined_scalar(db, sql, params)

    def begin(_conn):
        seen["transactions"] += 1

    with app.app_context():
        engine = tenancy.get_engine()
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "begin", begin)
    auth_queries.pipelined_scalar = pipelined
    try:
        yield seen
    finally:
        auth_queries.pipelined_scalar = pipelined_scalar
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "begin", begin)


@pytest.mark.parametrize("path", ["/api/alerts", "/api/trades", "/api/trades/history"])
def test_a_list_request_is_one_transaction_of_two_statements(app, api_as, path):
    client = api_as("trader@acme.test")
    assert client.get(path).status_code == 200  # warm: nothing first-time is counted
    with counted(app) as seen:
        response = client.get(path)
    assert response.status_code == 200
    assert seen["transactions"] == 1
    assert len(seen["statements"]) == 2, [s[:90] for s in seen["statements"]]
    token_check, page = seen["statements"]
    if backend() == "postgresql":
        assert "FROM data_versions" in token_check and "memberships" not in token_check
    else:
        for table in ("tenants", "users", "memberships", "revoked_sessions"):
            assert table in token_check
    assert "ORDER BY" in page


def test_a_revoked_sign_in_is_still_refused_by_the_one_statement(app, api_as, client):
    api = api_as("viewer@acme.test")
    assert api.post("/api/auth/logout").status_code == 200
    with counted(app) as seen:
        assert api.get("/api/alerts").status_code == 401
    # The logout moved the standing version (PostgreSQL): read, then the full check.
    assert len(seen["statements"]) == (2 if backend() == "postgresql" else 1)
    assert "revoked_sessions" in seen["statements"][-1]


@pytest.mark.parametrize(("path", "opened"), [
    ("/api/alerts", False), ("/api", False), ("/alerts", True), ("/login", True),
    ("/apiary", True),
])
def test_only_pages_open_the_cookie_session(app, path, opened):
    """Scripts carry a token: their requests skip Flask's signed-cookie session (a signing
    serializer built and a cookie checked per call), which only pages' notices use."""
    from flask import request

    with app.test_request_context(path):
        session = app.session_interface.open_session(app, request)
        assert app.session_interface.is_null_session(session) is not opened
