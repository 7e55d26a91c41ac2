"""On SQLite the ORM tenant filter is the only wall: switch it off and tenants leak.

The companion of tests/postgres/test_row_level_security.py, where the same switch leaves
PostgreSQL's row-level security holding on its own. This proves the PostgreSQL test could
fail, and that on SQLite nothing but the filter stands between tenants. It always builds its
own SQLite database, so it runs (and means the same) in both stages of .ci/run.
"""

import pytest
from sqlalchemy import func, select

from portal import migrate, tenancy
from portal.alerts.models import Alert
from portal.auth.models import Tenant
from tests.conftest import build_app


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite-wall') / 'portal.sqlite3'}"
    app = build_app({"DATABASE_URL": url, "ADMIN_DATABASE_URL": url})
    with app.app_context():
        migrate.upgrade(tenancy.get_engine(admin=True))
        tenants = {}
        with tenancy.unscoped_session(admin=True) as db:
            for label in ("a", "b"):
                tenant = Tenant(slug=f"wall-{label}", name=f"Wall {label}")
                db.add(tenant)
                db.flush()
                tenants[label] = tenant.id
        for label, tenant_id in tenants.items():
            with tenancy.tenant_session_scope(tenant_id) as db:
                db.add_all(Alert(title=f"{label}-{i}", severity="info") for i in range(3))
    return app, tenants


def visible(app, tenant_id) -> tuple[set, int]:
    with app.app_context(), tenancy.tenant_session_scope(tenant_id) as db:
        titles = set(db.scalars(select(Alert.title)))
        count = db.scalar(select(func.count()).select_from(Alert))
    return titles, count


def test_with_the_filter_on_each_tenant_sees_only_its_own_rows(sqlite_app):
    app, tenants = sqlite_app
    for label in ("a", "b", "a"):
        titles, count = visible(app, tenants[label])
        assert titles == {f"{label}-{i}" for i in range(3)}
        assert count == 3


def test_with_the_filter_off_a_tenant_session_on_sqlite_sees_the_other_tenants_rows(
    sqlite_app, orm_filter_off
):
    app, tenants = sqlite_app
    titles, count = visible(app, tenants["a"])
    assert {"b-0", "b-1", "b-2"} <= titles
    assert count == 6


def test_the_filter_is_back_after_the_fixture(sqlite_app):
    app, tenants = sqlite_app
    titles, _count = visible(app, tenants["b"])
    assert titles == {"b-0", "b-1", "b-2"}
