"""Would a forgotten filter or a stray cross-tenant session get past review? These checks
read the source so that a new blueprint cannot quietly step around the tenant-bound session."""

import re
from pathlib import Path

PORTAL = Path(__file__).resolve().parents[2] / "portal"
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
