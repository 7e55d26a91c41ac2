"""Does the schemathesis tenant check (tests/contract/hooks.py) catch what it must?"""

import json
import uuid

from tests.contract.hooks import tenant_leaks


def test_a_foreign_id_or_any_tenant_id_is_a_leak():
    foreign = uuid.uuid4().hex
    watched = frozenset({str(uuid.UUID(foreign))})
    clean = json.dumps({"items": [{"id": str(uuid.uuid4())}], "next_cursor": None})
    assert tenant_leaks(clean, watched) == []
    leaking = json.dumps({"items": [{"id": str(uuid.UUID(foreign))}]})
    assert tenant_leaks(leaking, watched) == [str(uuid.UUID(foreign))]
    assert tenant_leaks('{"tenant_id": "x"}', watched) == ["tenant_id"]
