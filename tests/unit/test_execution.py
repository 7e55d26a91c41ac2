"""The paper-execution rules on their own: fees, limit crossing, order validation, the JSON
shape, and the matcher run directly in one tenant's session."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from portal import tenancy
from portal.market.models import Instrument, Price
from portal.trades.models import Fill, Trade
from portal.trades.schemas import OrderRequest, TradeFilters, TradeOut, decimal_string
from portal.trades.services import fee_for, fill_crossed_orders, limit_crossed, parse_fee_rate

D = Decimal


@pytest.mark.parametrize(("price", "quantity", "rate", "fee"), [
    ("100", "10", "0.001", "1.0000"),
    ("123.4567", "3.5", "0.001", "0.4321"),      # 0.43209845 rounds down
    ("0.5", "1", "0.001", "0.0005"),
    ("0.05", "1", "0.001", "0.0001"),            # 0.00005: half rounds up, not to even
    ("0.15", "1", "0.001", "0.0002"),            # 0.00015: half up again
    ("0.01", "1", "0.001", "0.0000"),
    ("250.10", "0.3", "0.0025", "0.1876"),       # 0.1875750
    ("99999.99", "1000000", "0.001", "99999990.0000"),
    ("1", "1", "0", "0.0000"),
])
def test_the_fee_is_notional_times_rate_rounded_half_up_to_a_hundredth_of_a_cent(
        price, quantity, rate, fee):
    result = fee_for(D(price), D(quantity), D(rate))
    assert result == D(fee)
    assert result.as_tuple().exponent == -4


@pytest.mark.parametrize(("raw", "expected"), [("0.001", "0.001"), (" 0.0025 ", "0.0025"),
                                               ("0", "0"), (Decimal("0.002"), "0.002")])
def test_a_fee_rate_is_read_as_an_exact_decimal(raw, expected):
    assert parse_fee_rate(raw) == D(expected)


@pytest.mark.parametrize("raw", ["", "abc", "NaN", "Infinity", "-0.001", "1", "1.5"])
def test_a_nonsensical_fee_rate_is_refused(raw):
    with pytest.raises(ValueError, match="TRADE_FEE_RATE"):
        parse_fee_rate(raw)


@pytest.mark.parametrize(("side", "limit", "close", "crossed"), [
    ("buy", "100", "99.99", True),
    ("buy", "100", "100", True),
    ("buy", "100", "100.01", False),
    ("sell", "100", "100.01", True),
    ("sell", "100", "100", True),
    ("sell", "100", "99.99", False),
])
def test_a_limit_is_crossed_when_the_close_reaches_it(side, limit, close, crossed):
    assert limit_crossed(side, D(limit), D(close)) is crossed


def order(**changes) -> dict:
    return {"symbol": "aapl", "side": "buy", "quantity": "1", "order_type": "market", **changes}


def test_an_order_is_normalised_to_exact_decimals_and_a_canonical_form():
    parsed = OrderRequest.model_validate(order(side=" BUY ", quantity=0.1, order_type="Market"))
    assert (parsed.symbol, parsed.side, parsed.order_type) == ("AAPL", "buy", "market")
    assert parsed.quantity == D("0.1")
    assert isinstance(parsed.quantity, Decimal)
    assert OrderRequest.model_validate(order(quantity="1E+3")).quantity == D(1000)


@pytest.mark.parametrize(("changes", "field"), [
    ({"quantity": "0"}, "quantity"),
    ({"quantity": "-1"}, "quantity"),
    ({"quantity": "NaN"}, "quantity"),
    ({"quantity": float("inf")}, "quantity"),
    ({"quantity": "1e13"}, "quantity"),
    ({"quantity": "0.00000000001"}, "quantity"),
    ({"order_type": "limit"}, "limit_price"),
    ({"order_type": "limit", "limit_price": "0"}, "limit_price"),
    ({"limit_price": "10"}, "limit_price"),
    ({"side": "short"}, "side"),
    ({"order_type": "stop"}, "order_type"),
    ({"symbol": ""}, "symbol"),
    ({"account": "other"}, "account"),
])
def test_an_invalid_order_names_the_field(changes, field):
    with pytest.raises(ValidationError) as caught:
        OrderRequest.model_validate(order(**changes))
    assert caught.value.errors()[0]["loc"][0] == field


def test_a_limit_order_keeps_its_limit_price():
    parsed = OrderRequest.model_validate(order(order_type="limit", limit_price="101.50"))
    assert parsed.limit_price == D("101.5")


@pytest.mark.parametrize(("value", "text"), [
    (D("1E+3"), "1000"), (D("1E-7"), "0.0000001"), (D("2.50"), "2.5"), (D("0"), "0"),
])
def test_decimals_are_written_as_plain_digits(value, text):
    assert decimal_string(value) == text


def test_naive_filter_times_are_read_as_utc():
    filters = TradeFilters.model_validate({"since": "2024-05-01T10:00:00", "until": "2024-05-02"})
    assert filters.since == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert filters.until == datetime(2024, 5, 2, tzinfo=UTC)


def test_the_trade_json_is_exactly_the_contract_and_never_carries_the_tenant():
    trade = Trade(
        id=uuid.uuid4(), tenant_id=uuid.uuid4(), symbol="AAPL", side="buy",
        quantity=D("3"), order_type="market", limit_price=None, status="filled",
        fill_price=D("10.10"), fee=D("0.0303"), created_at=datetime(2024, 1, 2, tzinfo=UTC),
        filled_at=datetime(2024, 1, 2, tzinfo=UTC), created_by=None,
    )
    body = TradeOut.of(trade).model_dump(mode="json")
    assert "tenant_id" not in body
    assert body["notional"] == "30.3"
    assert body["fill_price"] == "10.1"
    assert body["created_at"] == "2024-01-02T00:00:00Z"


def test_the_matcher_fills_only_crossed_limit_orders_of_its_own_tenant(app, fresh_tenant):
    symbol = "ZU" + uuid.uuid4().hex[:8].upper()
    mine, theirs = fresh_tenant(), fresh_tenant()
    with app.app_context():
        with tenancy.unscoped_session(admin=True) as db:
            db.add(Instrument(symbol=symbol, name=symbol, sector="Test"))
            db.flush()
            db.add(Price(symbol=symbol, day=date(2022, 1, 3), close=D("50")))

        def resting(side, limit):
            return Trade(symbol=symbol, side=side, quantity=D("2"), order_type="limit",
                         limit_price=D(limit), status="pending")

        with tenancy.tenant_session_scope(mine.id) as db:
            buy_crossed, buy_away = resting("buy", "50"), resting("buy", "49.99")
            sell_crossed = resting("sell", "45")
            db.add_all([buy_crossed, buy_away, sell_crossed])
        with tenancy.tenant_session_scope(theirs.id) as db:
            other = resting("buy", "60")
            db.add(other)

        with tenancy.tenant_session_scope(mine.id) as db:
            filled = fill_crossed_orders(db, [symbol])
            assert {t.id for t in filled} == {buy_crossed.id, sell_crossed.id}
        with tenancy.tenant_session_scope(mine.id) as db:
            states = {t.id: (t.status, t.fill_price, t.fee) for t in db.scalars(select(Trade))}
            fills = {f.trade_id: (f.price, f.quantity, f.fee) for f in db.scalars(select(Fill))}
            # A second run finds nothing left to fill.
            assert fill_crossed_orders(db, [symbol]) == []
        with tenancy.tenant_session_scope(theirs.id) as db:
            assert db.get(Trade, (theirs.id, other.id)).status == "pending"

    assert states[buy_crossed.id] == ("filled", D("50"), D("0.1"))
    assert states[sell_crossed.id] == ("filled", D("50"), D("0.1"))
    assert states[buy_away.id] == ("pending", None, D("0"))
    assert fills == {buy_crossed.id: (D("50"), D("2"), D("0.1")),
                     sell_crossed.id: (D("50"), D("2"), D("0.1"))}
