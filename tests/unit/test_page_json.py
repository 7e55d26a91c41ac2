"""`PageOut.json` writes a list page without building a model per row; it must write the
very bytes the pydantic models would, for every kind of value a row can hold."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from types import SimpleNamespace

import pytest
from sqlalchemy.engine.result import result_tuple

from portal.alerts.models import Alert
from portal.alerts.schemas import AlertOut, AlertPageOut
from portal.audit.schemas import AuditPageOut
from portal.db import STORAGE_PLACES, decimal_string, plain_decimal, public_columns
from portal.pagination import Page, row_values
from portal.trades.models import Trade, TradeRow
from portal.trades.schemas import TradeOut, TradePageOut

NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def alert(**changes):
    values = dict(id=uuid.uuid4(), title="Desk down", message="Feed lost", severity="high",
                  source="feed", tags=["ops", "feed"], created_at=NOW, created_by=uuid.uuid4(),
                  acknowledged_at=None, acknowledged_by=None)
    values.update(changes)
    return SimpleNamespace(**values)


def trade(**changes):
    values = dict(id=uuid.uuid4(), symbol="AAPL", side="buy", quantity=Decimal(10),
                  order_type="limit", limit_price=Decimal("187.5"), status="filled",
                  fill_price=Decimal("187.25"), fee=Decimal("0.5"), created_at=NOW,
                  filled_at=NOW + timedelta(seconds=1), cancelled_at=None, reject_reason=None,
                  created_by=uuid.uuid4())
    values.update(changes)
    return TradeRow(SimpleNamespace(**values))


ALERTS = [
    alert(),
    alert(message=None, source=None, tags=None, created_by=None),
    alert(acknowledged_at=NOW + timedelta(microseconds=123), acknowledged_by=uuid.uuid4()),
    alert(title="Überweisung \u2603 \"quoted\" \\ back", tags=[], message="line\nbreak\t<b>"),
    alert(created_at=datetime(1, 1, 1, tzinfo=UTC)),
    alert(created_at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
]

TRADES = [
    trade(),
    trade(order_type="market", limit_price=None, status="pending", fill_price=None,
          filled_at=None),
    trade(status="cancelled", fill_price=None, filled_at=None, cancelled_at=NOW,
          created_by=None),
    trade(status="rejected", fill_price=None, filled_at=None, reject_reason="no price"),
    trade(quantity=Decimal("0.0000000001"), fill_price=Decimal("999999999.9999999999")),
    trade(quantity=Decimal("1E+3"), fee=Decimal("0"), fill_price=Decimal("100.000")),
    trade(quantity=Decimal("1.00000000005"), fee=Decimal("-0"), limit_price=Decimal("12.50")),
]


@pytest.mark.parametrize("page_out, rows", [(AlertPageOut, ALERTS), (TradePageOut, TRADES)])
@pytest.mark.parametrize("next_cursor", [None, "eyJjdXJzb3IiOiAxfQ"])
def test_fast_page_json_is_the_models_bytes(page_out, rows, next_cursor):
    page = Page(rows, next_cursor)
    assert page_out.json(page) == page_out.of(page).model_dump_json().encode()


def as_rows(objects: list, names: list[str]) -> list:
    """The objects as the plain rows a list statement returns (SQLAlchemy `Row`s)."""
    make = result_tuple(names)
    return [make(tuple(getattr(obj, name) for name in names)) for obj in objects]


ALERT_COLUMNS = [column.key for column in public_columns(Alert)]
TRADE_COLUMNS = [column.key for column in public_columns(Trade)]


TRADE_ROWS = as_rows([t.row for t in TRADES], TRADE_COLUMNS)


@pytest.mark.parametrize("page_out, rows, modelled", [
    (AlertPageOut, as_rows(ALERTS, ALERT_COLUMNS), as_rows(ALERTS, ALERT_COLUMNS)),
    # The JSON lists write plain rows; the model reads a trade's notional, so it gets them as
    # the pages do (TradeRow).
    (TradePageOut, TRADE_ROWS, [TradeRow(row) for row in TRADE_ROWS]),
])
def test_plain_rows_give_the_same_bytes(page_out, rows, modelled):
    assert page_out.json(Page(rows, None)) == \
        page_out.of(Page(modelled, None)).model_dump_json().encode()


@pytest.mark.parametrize("item_out, rows", [(AlertOut, ALERTS), (TradeOut, TRADES)])
def test_json_fields_follow_the_declared_fields(item_out, rows):
    values = row_values(rows)[0]
    assert list(item_out.json_fields(values)) == list(item_out.model_fields)


def test_an_empty_page():
    assert AlertPageOut.json(Page([], None)) == b'{"items":[],"next_cursor":null}'


def test_pages_without_fast_fields_use_the_models():
    record = SimpleNamespace(id=uuid.uuid4(), created_at=NOW, actor_id=None,
                             actor_email="a@acme.test", action="auth.login", target_type="user",
                             target_id="x", client_addr="127.0.0.1", request_id="r",
                             details={"tenant_id": "hidden", "kept": 1})
    page = Page([record], None)
    assert AuditPageOut.json(page) == AuditPageOut.of(page).model_dump_json().encode()
    assert b"hidden" not in AuditPageOut.json(page)


def _slow_decimal_string(value: Decimal) -> str:
    with localcontext() as context:
        context.prec = 60
        return format(plain_decimal(value.quantize(STORAGE_PLACES)), "f")


def test_decimal_string_fast_path_matches_the_rounding_path():
    generator = random.Random(7)
    values = [Decimal(0), Decimal("-0"), Decimal("1E+3"), Decimal("100.0000000000"),
              Decimal("0.00000000005"), Decimal("-12.3400"), Decimal("1e-10")]
    for _ in range(3000):
        digits = generator.randint(1, 17)
        scale = generator.randint(-3, 14)
        unscaled = generator.randint(-10**digits, 10**digits)
        values.append(Decimal(unscaled).scaleb(-scale))
        values.append(plain_decimal(Decimal(unscaled).scaleb(-min(scale, 10))))
    for value in values:
        assert decimal_string(value) == _slow_decimal_string(value), value
