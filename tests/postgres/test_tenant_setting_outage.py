"""Is a database lost while a transaction sets its tenant an outage (503), not a bug (500)?

The tenant setting travels with BEGIN through psycopg's pipeline, past SQLAlchemy's own
statement path; its failure must still reach the outage handling as SQLAlchemy's error.
"""

import psycopg
import pytest

from portal import tenancy

pytestmark = pytest.mark.postgres


def test_a_database_lost_while_setting_the_tenant_answers_503_not_500(app, api_as,
                                                                      monkeypatch):
    client = api_as("trader@acme.test")

    def lost(*_args, **_kwargs):
        raise psycopg.OperationalError("the connection is lost")

    with app.app_context():
        tenancy.get_engine().dispose()  # a fresh connection, so the failure comes at BEGIN
    monkeypatch.setattr(psycopg.Connection, "pipeline", lost)
    response = client.get("/api/alerts")
    assert response.status_code == 503, response.text
    assert response.json["error"]["code"] == "unavailable"
    monkeypatch.undo()
    assert client.get("/api/alerts").status_code == 200
