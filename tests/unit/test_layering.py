"""Would a forgotten filter, a stray cross-tenant session or a domain module reaching for the
web layer get past review? The import rules are import-linter contracts (pyproject.toml); the
rest read the source, so that a new blueprint cannot quietly step around the tenant-bound
session."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ROOT / "portal"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
DOMAIN_FILES = [
    path for path in PORTAL.glob("*/*.py")
    if path.name in {"views.py", "queries.py", "services.py", "schemas.py"}
]
# The only modules allowed to open the unscoped session: login and the tenant switcher (a user's
# own memberships), opening an invitation link (the one invitation of that token), commands, the
# seeder, the trade matcher run by commands, and tenancy itself.
UNSCOPED_ALLOWED = {
    "portal/tenancy.py",
    "portal/auth/queries.py",
    # the API-key gate's lookup by hash, before any tenant is known (one row, SELECT only)
    "portal/apikeys/queries.py",
    "portal/members/invitation_lookup.py",
    "portal/commands.py",
    "portal/seed.py",
    "portal/trades/commands.py",
}


def relative(path: Path) -> str:
    return str(path.relative_to(PORTAL.parent))


def test_domain_code_exists_to_be_checked():
    assert len(DOMAIN_FILES) >= 10


def test_domain_code_never_filters_by_tenant_by_hand():
    # Login (auth) reads a user's memberships across tenants on purpose; everything else
    # leaves the filter to the session.
    pattern = re.compile(r"tenant_id\s*[=!]=|(where|filter|filter_by)\([^)]*tenant_id")
    offenders = [
        f"{relative(path)}:{number}"
        for path in DOMAIN_FILES
        if path.parent.name != "auth"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_domain_code_runs_no_raw_sql():
    offenders = [
        relative(path) for path in DOMAIN_FILES if re.search(r"\btext\(", path.read_text())
    ]
    assert offenders == []


def test_statements_skip_the_tenant_filter_only_where_they_name_their_tenant():
    """A statement run on the session's connection is not filtered by the ORM (row-level
    security still narrows it on PostgreSQL). Only two places do that: the token check,
    which joins every tenant-scoped table on the token's tenant itself
    (tests/unit/test_token_standing.py), and tenancy's own `tenant_rows`, which adds the
    tenant to single-table column reads (tests/unit/test_tenancy.py)."""
    users = {  # the session's connection, whatever is then run on it
        relative(path) for path in PORTAL.rglob("*.py")
        if re.search(r"\.connection\(\)", path.read_text())
    }
    assert users == {"portal/auth/queries.py", "portal/tenancy.py"}


def test_only_named_places_open_the_unscoped_session():
    users = {
        relative(path) for path in PORTAL.rglob("*.py")
        if "unscoped_session" in path.read_text() or "UnscopedSession" in path.read_text()
    }
    assert users <= UNSCOPED_ALLOWED, users - UNSCOPED_ALLOWED


def test_the_invitation_lookup_only_reads():
    """The cross-tenant door of the members domain finds one invitation by its token hash;
    writing (accepting) goes through the invitation's own tenant session elsewhere."""
    source = (PORTAL / "members" / "invitation_lookup.py").read_text()
    for write in (".add(", ".delete(", ".merge(", "update(", "insert(", "delete(", ".flush("):
        assert write not in source, write


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=root, capture_output=True,
        text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(root)}, check=False,
    )


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_a_domain_module_importing_the_web_layer_or_a_cycle_breaks_the_contracts(tmp_path):
    shutil.copytree(PORTAL, tmp_path / "portal", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "portal" / "pagination.py").open("a") as source:
        source.write("\nfrom portal.web import json_response  # noqa\n")
    with (tmp_path / "portal" / "auth" / "queries.py").open("a") as source:
        source.write("\nfrom portal.members import services  # noqa\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    assert "The domain never imports the web layer BROKEN" in result.stdout
    assert "portal.pagination is not allowed to import portal.web" in result.stdout
    assert "No import cycles between portal's packages and modules BROKEN" in result.stdout
