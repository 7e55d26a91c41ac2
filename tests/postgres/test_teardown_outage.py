"""Does a request whose database connection dies mid-transaction still end cleanly?

The answer (a 503) is chosen before Flask tears the request down; closing the request's
session then rolls back on a connection that no longer exists. That rollback must not escape
the teardown, or the WSGI server turns the 503 into a 500 (or drops the connection).
"""

import pytest
from flask import g
from sqlalchemy import text

from portal import tenancy

pytestmark = pytest.mark.postgres


def test_closing_a_session_whose_connection_died_neither_raises_nor_reuses_it(
    app, superuser, tenant_a
):
    with app.test_request_context("/api/alerts"):
        g.db = tenancy.tenant_session(tenant_a.id)
        backend_pid = g.db.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with superuser.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid})
        # Leaving the context runs the teardown: it must swallow the lost connection.

    with app.test_request_context("/api/alerts"):
        db = tenancy.tenant_session(tenant_a.id)
        try:
            assert db.execute(text("SELECT pg_backend_pid()")).scalar_one() != backend_pid
        finally:
            db.close()
