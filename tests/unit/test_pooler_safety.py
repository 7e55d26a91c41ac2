"""Would a change quietly break the portal behind PgBouncer in transaction mode?

There, each transaction may run on another server connection, so anything that outlives a
transaction on the app's connection is lost or, worse, leaks to the next tenant's transaction.
These checks read the source for the usual culprits. A line that really needs one (on a
direct, non-pooled connection) says so with a `pooler-safe:` comment naming why.
"""

import re
from pathlib import Path

import pytest

PORTAL = Path(__file__).resolve().parents[2] / "portal"

SESSION_STATE = {
    "session advisory lock": re.compile(r"pg_(try_)?advisory_lock(_shared)?\s*\(", re.I),
    "LISTEN/UNLISTEN": re.compile(r"['\"]\s*(UN)?LISTEN\b", re.I),
    "session SET": re.compile(r"['\"]\s*SET\s+(?!LOCAL\b)(SESSION\s+)?\w", re.I),
    "session-level set_config": re.compile(r"set_config\([^)]*,\s*false\s*\)", re.I),
    "temporary table": re.compile(r"CREATE\s+TEMP(ORARY)?\s+TABLE", re.I),
    "held cursor": re.compile(r"WITH\s+HOLD", re.I),
    "explicit PREPARE": re.compile(r"['\"]\s*PREPARE\s+\w+", re.I),
}


def offenders(pattern: re.Pattern) -> list[str]:
    found = []
    for path in sorted(PORTAL.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if pattern.search(line) and "pooler-safe:" not in line:
                found.append(f"{path.relative_to(PORTAL.parent)}:{number}: {line.strip()}")
    return found


@pytest.mark.parametrize("what", SESSION_STATE)
def test_the_portal_keeps_no_session_state_on_its_connection(what):
    assert offenders(SESSION_STATE[what]) == []


@pytest.mark.parametrize(("what", "line"), [
    ("session advisory lock", 'text("SELECT pg_advisory_lock(hashtext(:k))")'),
    ("LISTEN/UNLISTEN", 'connection.execute("LISTEN revocations")'),
    ("session SET", 'text("SET app.tenant_id = :t")'),
    ("session-level set_config", "SELECT set_config('app.tenant_id', :t, false)"),
    ("temporary table", "CREATE TEMP TABLE scratch (id int)"),
    ("held cursor", "DECLARE c CURSOR WITH HOLD FOR SELECT 1"),
    ("explicit PREPARE", '"PREPARE fetch_alerts AS SELECT 1"'),
])
def test_each_check_recognises_what_it_looks_for(what, line):
    assert SESSION_STATE[what].search(line)


@pytest.mark.parametrize("line", [
    "SELECT set_config('app.tenant_id', :tenant_id, true)",
    "SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))",
    'text("UPDATE alerts SET title = :t")',
    '"SET LOCAL statement_timeout = 1000"',
])
def test_transaction_scoped_state_is_allowed(line):
    assert not any(pattern.search(line) for pattern in SESSION_STATE.values())
