"""Does the live portal keep the contract it publishes? schemathesis against /api/openapi.json.

One live server (the session's seeded database: SQLite, or PostgreSQL with row-level security
under PORTAL_TEST_DATABASE=postgresql) is fuzzed twice, signed in as a trader of globex and as
a viewer of acme: every operation with schemathesis' default checks (no 5xx, documented status,
content type, headers and schema, negative data rejected, ...), positive and negative data, plus
our own check (tests/contract/hooks.py) that no answer names the other tenant's ids or carries a
`tenant_id`. Bounded: a fixed number of examples per operation and a fixed seed.

Marked `contract`: `.ci/run` runs it as its own stage on each database; the ordinary suites
deselect it (pyproject addopts).
"""

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from portal import tenancy
from portal.alerts.models import Alert
from portal.apikeys.models import ApiKey
from portal.audit.models import AuditRecord
from portal.auth.models import Tenant, User
from portal.trades.models import Fill, Trade
from tests.conftest import mint_token

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("PORTAL_CONTRACT_MAX_EXAMPLES", "10"))
SEED = 20261128
# Ending its own session would sign the run out for every later request.
EXCLUDED_OPERATIONS = ("auth_api_api_logout",)
# Every default check but one: positive_data_acceptance expects any schema-valid request to
# succeed, but some rules cannot be written in a JSON schema (a symbol must be a listed
# instrument, since <= until, a cursor must be one the API issued, a sell needs a position),
# so schema-valid requests are rightly refused with 400/422. Everything else stays on,
# including negative_data_rejection (schema-violating data must be refused).
EXCLUDED_CHECKS = ("positive_data_acceptance",)
OWNED = (Alert, Trade, Fill, AuditRecord, ApiKey)


class CountingServer:
    """The portal on a loopback port, counting every request it answers."""

    def __init__(self, app):
        self.requests = 0
        self._lock = threading.Lock()

        def counted(environ, start_response):
            with self._lock:
                self.requests += 1
            return app.wsgi_app(environ, start_response)

        self.server = make_server("127.0.0.1", 0, counted, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc):
        self.server.shutdown()


@pytest.fixture(scope="module")
def live(app):
    with CountingServer(app) as server:
        yield server


def ids_owned_by(app, slug: str) -> set[str]:
    """Every public id the tenant owns, and its own id (the caller adds its own tenant's id:
    answers name no tenant at all). Read in the tenant's own session: on PostgreSQL even the
    owner connection sees a tenant's rows only with that tenant set."""
    tenant_id = uuid.UUID(tenant_id_of(app, slug))
    found = {str(tenant_id)}
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        for model in OWNED:
            found |= {str(i) for i in db.scalars(select(model.id))}
    return found


def tenant_id_of(app, slug: str) -> str:
    with app.app_context(), tenancy.unscoped_session(admin=True) as db:
        return str(db.scalar(select(Tenant.id).where(Tenant.slug == slug)))


def run_schemathesis(live, token: str, foreign_ids: set[str], tmp_path: Path, name: str,
                     *extra: str):
    id_file = tmp_path / f"{name}-foreign-ids.txt"
    id_file.write_text("\n".join(sorted(foreign_ids)))
    command = [
        str(Path(sys.executable).with_name("st")), "run", f"{live.url}/api/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--mode", "all",
        "--exclude-checks", ",".join(EXCLUDED_CHECKS),
        "--workers", "1", "--request-timeout", "30", "--no-color",
        "--report", "junit", "--report-junit-path", str(tmp_path / f"{name}.xml"),
    ]
    for operation_id in EXCLUDED_OPERATIONS:
        command += ["--exclude-operation-id", operation_id]
    command += extra
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.contract.hooks",
           "PORTAL_CONTRACT_FOREIGN_IDS": str(id_file),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900, check=False)


@pytest.mark.parametrize(("name", "email", "slug", "other"), [
    ("globex-trader", "trader@globex.test", "globex", "acme"),
    ("acme-viewer", "viewer@acme.test", "acme", "globex"),
])
def test_the_live_portal_keeps_its_published_contract(app, live, tmp_path, capsys,
                                                      name, email, slug, other):
    token = mint_token(app, email, slug)
    foreign = ids_owned_by(app, other) | {tenant_id_of(app, slug)}
    assert len(foreign) > 500, "the demo tenants' ids are what the tenant check watches"
    before = live.requests
    result = run_schemathesis(live, token, foreign, tmp_path, name)
    made = live.requests - before
    with capsys.disabled():
        print(f"\nschemathesis as {email}: {made} requests, max {MAX_EXAMPLES} examples per "
              f"operation, seed {SEED}; {len(foreign)} ids of {other} watched")
        tail = "\n".join(result.stdout.splitlines()[-25:])
        print(tail)
    assert made > 0
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]


def test_the_tenant_check_fails_a_run_whose_answers_name_a_watched_id(app, live, tmp_path):
    """The custom check is really loaded and really fails: watch the caller's own user id,
    which /api/status names."""
    token = mint_token(app, "trader@globex.test", "globex")
    with app.app_context(), tenancy.unscoped_session(admin=True) as db:
        user_id = str(db.scalar(select(User.id).where(User.email == "trader@globex.test")))
    result = run_schemathesis(live, token, {user_id}, tmp_path, "watched",
                              "--include-operation-id", "system_api_status",
                              "--phases", "fuzzing", "--max-failures", "1")
    assert result.returncode != 0
    assert "no_other_tenants_data" in result.stdout or "crosses the tenant line" in result.stdout
