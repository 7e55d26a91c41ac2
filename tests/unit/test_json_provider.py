"""Is orjson, as Flask's JSON provider, a drop-in for the json module's documents?"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask

from portal.web import OrjsonProvider


@dataclass
class Figures:
    count: int
    when: datetime


def test_orjson_provider_writes_the_documents_flasks_json_would():
    app = Flask(__name__)
    default_json = app.json
    app.json = OrjsonProvider(app)
    document = {
        "b": [1, 2.5, None, True, "é ✓"],
        "a": {"id": uuid.UUID(int=7), "amount": Decimal("12.3400"), "day": date(2024, 5, 1)},
        "figures": Figures(3, datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
    }
    with app.app_context():
        ours = app.json.dumps(document)
        theirs = default_json.dumps(document)
        response = app.json.response(document)
    assert json.loads(ours) == json.loads(theirs)
    assert list(json.loads(ours)) == sorted(json.loads(ours))  # keys sorted, like Flask's
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data()) == json.loads(theirs)


def test_not_a_number_becomes_null_instead_of_invalid_json():
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    with app.app_context():
        assert json.loads(app.json.dumps({"ratio": float("nan")})) == {"ratio": None}
