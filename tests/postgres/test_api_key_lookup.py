"""The api_keys lookup policy: the gate may read the one key whose hash it names, before any
tenant is set, and nothing else; it can never write a key that way."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from portal import tenancy
from portal.alerts.models import Alert
from portal.apikeys.models import ApiKey
from tests.postgres.conftest import rejected_by_policy


def _hash_of(superuser, tenant_id) -> str:
    with superuser.connect() as connection:
        return connection.scalar(text("SELECT key_hash FROM api_keys WHERE tenant_id = :t"),
                                 {"t": tenant_id})


def test_naming_a_hash_admits_exactly_that_key(app, superuser, walled_tenants):
    wanted = _hash_of(superuser, walled_tenants["A"])
    with app.app_context(), tenancy.unscoped_session(api_key_hash=wanted) as db:
        keys = db.scalars(select(ApiKey)).all()
        alerts = db.scalars(select(Alert)).all()
    assert [(key.tenant_id, key.key_hash) for key in keys] == [(walled_tenants["A"], wanted)]
    assert alerts == []


def test_without_a_hash_the_gate_sees_no_key(app, walled_tenants):
    with app.app_context(), tenancy.unscoped_session() as db:
        assert db.scalars(select(ApiKey)).all() == []


def test_the_hash_setting_never_lets_a_key_be_written(app_role_engine, superuser,
                                                      walled_tenants):
    wanted = _hash_of(superuser, walled_tenants["A"])
    with app_role_engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.api_key_hash', :h, true)"), {"h": wanted})
        changed = connection.execute(text(
            "UPDATE api_keys SET revoked_at = now() WHERE key_hash = :h"), {"h": wanted})
        assert changed.rowcount == 0
    with pytest.raises(ProgrammingError) as refused, app_role_engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.api_key_hash', :h, true)"), {"h": "x"})
        connection.execute(text(
            "INSERT INTO api_keys (tenant_id, id, user_id, name, prefix, key_hash, role,"
            " created_at) SELECT :t, gen_random_uuid(), id, 'forged', 'ap_', 'x', 'admin',"
            " now() FROM users LIMIT 1"), {"t": walled_tenants["A"]})
    assert rejected_by_policy(refused.value)
    with superuser.connect() as connection:
        assert connection.scalar(text(
            "SELECT revoked_at FROM api_keys WHERE key_hash = :h"), {"h": wanted}) is None
