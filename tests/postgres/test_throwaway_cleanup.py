"""Does a test run leave the cluster as it found it? Its database and its roles go at exit."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests import pg

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_drops_its_database_and_roles_at_exit():
    created = subprocess.run(
        [sys.executable, "-c",
         "from tests import pg; settings = pg.create_throwaway_database();"
         "print(pg.OWNER_ROLE[0], pg.APP_ROLE[0], settings['DATABASE_URL'].rsplit('/', 1)[1])"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()
    owner, app_role, database = created
    assert owner.startswith("portal_test_owner_") and app_role.startswith("portal_test_app_")
    with pg.superuser_connection() as connection:
        roles = connection.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                   [[owner, app_role]]).fetchall()
        databases = connection.execute("SELECT datname FROM pg_database WHERE datname = %s",
                                       [database]).fetchall()
    assert roles == [] and databases == []
