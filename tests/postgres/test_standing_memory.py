"""Does the token check's memory (portal.auth.queries.RememberedStandings) never outlive a
change?

Each test signs in, makes a request so the worker remembers the answer, then changes what the
check reads the way an operator might: as the owner in plain SQL, outside the portal's code
(as psql would, as a superuser), or through the portal itself. The very next request must
see the change. The database's triggers (migration 0008) raise the standing version; nothing
in the portal's code has to remember to.
"""

import importlib.util
from pathlib import Path

import pytest
from sqlalchemy import Column, Table, text
from sqlalchemy.sql import visitors

from portal.auth import queries
from tests.conftest import make_fresh_tenant, mint_token
from tests.helpers import bearer

pytestmark = pytest.mark.postgres


@pytest.fixture
def reads(monkeypatch):
    """How many times the token check read the rows instead of remembering."""
    counted = []
    read = queries.read_token_standing

    def counting(*args, **kwargs):
        counted.append(args[1:])
        return read(*args, **kwargs)

    monkeypatch.setattr(queries, "read_token_standing", counting)
    return counted


def psql(superuser, statement: str, **params) -> None:
    """A change as an operator makes it in psql: a superuser, past row-level security."""
    with superuser.begin() as connection:
        assert connection.execute(text(statement), params).rowcount == 1


def status(client, token):
    return client.get("/api/status", headers=bearer(token))


def test_a_second_request_is_answered_from_memory(app, client, reads):
    tenant = make_fresh_tenant(app)
    token = mint_token(app, tenant.emails["trader"])
    assert status(client, token).json["role"] == "trader"
    assert status(client, token).json["role"] == "trader"
    assert len(reads) == 1


MEMBER = "tenant_id = :tenant AND user_id = (SELECT id FROM users WHERE email = :email)"
CHANGES = {
    "demoted": f"UPDATE memberships SET role = 'viewer' WHERE {MEMBER}",
    "sessions ended": ("UPDATE memberships SET sessions_valid_after = now() + interval '1 second'"
                       f" WHERE {MEMBER}"),
    "removed": f"DELETE FROM memberships WHERE {MEMBER}",
    "suspended": "UPDATE tenants SET status = 'suspended' WHERE id = :tenant AND :email <> ''",
    "deactivated": ("UPDATE users SET is_active = false"
                    " WHERE email = :email AND :tenant IS NOT NULL"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_made_outside_the_portal_applies_to_the_next_request(
        app, client, reads, superuser, change):
    tenant = make_fresh_tenant(app)
    email = tenant.emails["trader"]
    token = mint_token(app, email)
    for _ in range(2):
        assert status(client, token).status_code == 200
    assert len(reads) == 1  # remembered

    psql(superuser, CHANGES[change], tenant=tenant.id, email=email)

    answer = status(client, token)
    if change == "demoted":
        assert answer.status_code == 200 and answer.json["role"] == "viewer"
    else:
        assert answer.status_code == 401, answer.text
    assert len(reads) == 2


def test_a_logout_applies_to_the_next_request(app, client):
    tenant = make_fresh_tenant(app)
    token = mint_token(app, tenant.emails["viewer"])
    assert status(client, token).status_code == 200
    assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 200
    assert status(client, token).status_code == 401


def test_a_member_of_two_tenants_gets_each_tenants_own_answer_a_b_a(app, client, reads,
                                                                   superuser):
    a, b = make_fresh_tenant(app), make_fresh_tenant(app)
    email = a.emails["trader"]
    psql(superuser, "INSERT INTO memberships (tenant_id, user_id, role, created_at)"
                   " SELECT :tenant, id, 'viewer', now() FROM users WHERE email = :email",
              tenant=b.id, email=email)
    tokens = {a.slug: mint_token(app, email, a.slug), b.slug: mint_token(app, email, b.slug)}
    seen = []
    for _round in range(2):
        for slug in (a.slug, b.slug, a.slug):
            answer = status(client, tokens[slug]).json
            seen.append((answer["tenant"]["slug"], answer["role"]))
    assert seen == [(a.slug, "trader"), (b.slug, "viewer"), (a.slug, "trader")] * 2
    assert len(reads) == 2  # one read per tenant's sign-in, then remembered


def test_the_memory_is_bounded(monkeypatch):
    memory = queries.RememberedStandings()
    monkeypatch.setattr(queries.RememberedStandings, "MAX_ENTRIES", 3)
    standing = queries.TokenStanding(None, None, None, False)
    for key in range(5):
        memory.put((key,), 1, standing)
    assert [memory.get((key,), 1) is not None for key in range(5)] == [False, False, True, True,
                                                                       True]
    assert memory.get((4,), 2) is None  # another version: not this answer


def test_a_sign_in_stamp_keeps_the_remembered_answers(app, client, reads, superuser):
    """Every login stamps its membership's last sign-in: not something the check reads, so
    it must not send every worker back to the rows."""
    tenant = make_fresh_tenant(app)
    email = tenant.emails["trader"]
    token = mint_token(app, email)
    assert status(client, token).status_code == 200
    psql(superuser, f"UPDATE memberships SET last_sign_in_at = now() WHERE {MEMBER}",
         tenant=tenant.id, email=email)
    assert status(client, token).status_code == 200
    assert len(reads) == 1


def _migration_0008():
    versions = Path(__file__).resolve().parents[2] / "portal" / "migrations" / "versions"
    path = versions / "0008_standing_version.py"
    spec = importlib.util.spec_from_file_location("migration_0008", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_triggers_watch_every_column_the_check_reads():
    read = {}
    for with_session in (True, False):
        for element in visitors.iterate(queries._token_standing_statement(with_session)):
            if isinstance(element, Column) and isinstance(element.table, Table):
                read.setdefault(element.table.name, set()).add(element.name)
    watched = {table: set(columns) for table, columns in _migration_0008().READ_COLUMNS.items()}
    for table, columns in read.items():
        assert columns <= watched[table], (table, columns - watched[table])
