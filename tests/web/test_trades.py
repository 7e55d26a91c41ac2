"""Trades (SPEC §4): the JSON API, the pages and their htmx fragments, paper execution,
idempotent retries, permissions and tenant isolation.

Instruments made by these tests get a fresh `ZT…` symbol each, so importing a price for one
never moves a price another test relies on. Exact counts come from fresh tenants.
"""

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal import idempotency, tenancy
from portal.market.models import Instrument, Price
from portal.trades.models import Trade
from tests.helpers import (
    audit_actions,
    import_prices,
    is_full_page,
    root_selector,
    soup,
    walk_pages,
)

BASE_DAY = date(2021, 3, 1)


# Helpers

def new_symbol(app, *closes: str) -> str:
    """A new instrument with daily closes on consecutive days from BASE_DAY."""
    symbol = "ZT" + uuid.uuid4().hex[:8].upper()
    with app.app_context(), tenancy.unscoped_session(admin=True) as db:
        db.add(Instrument(symbol=symbol, name=f"Test {symbol}", sector="Test"))
        db.flush()
        db.add_all(
            Price(symbol=symbol, day=BASE_DAY + timedelta(days=i), close=Decimal(close))
            for i, close in enumerate(closes)
        )
    return symbol


def add_close(app, symbol: str, day_offset: int, close: str) -> None:
    """A new close written behind the importer's back (so no matching runs)."""
    with app.app_context(), tenancy.unscoped_session(admin=True) as db:
        db.add(Price(symbol=symbol, day=BASE_DAY + timedelta(days=day_offset),
                     close=Decimal(close)))


def import_closes(app, tmp_path, rows: list[tuple[int, str, str]]):
    return import_prices(app, tmp_path / f"closes-{uuid.uuid4().hex[:6]}.csv",
                         [(BASE_DAY + timedelta(days=offset), symbol, close)
                          for offset, symbol, close in rows])


def trade_count(app, tenant_id) -> int:
    with app.app_context(), tenancy.tenant_session_scope(tenant_id) as db:
        return db.scalar(select(func.count()).select_from(Trade))


def trade_status(app, tenant_id, trade_id) -> str | None:
    with app.app_context(), tenancy.tenant_session_scope(tenant_id) as db:
        trade = db.get(Trade, (tenant_id, uuid.UUID(trade_id)))
        return trade.status if trade else None


def order(symbol, side="buy", quantity="1", order_type="market", limit_price=None) -> dict:
    body = {"symbol": symbol, "side": side, "quantity": quantity, "order_type": order_type}
    if limit_price is not None:
        body["limit_price"] = limit_price
    return body


def place(api, body, key=None):
    headers = {"Idempotency-Key": key} if key else None
    return api.post("/api/trades", json=body, headers=headers)


@pytest.fixture
def desk(app, fresh_tenant, api_as, browser_as):
    """A fresh tenant with one instrument priced at 100 and clients for each role."""

    class Desk:
        tenant = fresh_tenant()
        symbol = new_symbol(app, "100")
        trader = api_as(tenant.emails["trader"], tenant.slug)
        viewer = api_as(tenant.emails["viewer"], tenant.slug)
        admin = api_as(tenant.emails["admin"], tenant.slug)

        def browser(self, role="trader"):
            return browser_as(self.tenant.emails[role], self.tenant.slug)

    return Desk()


# Paper execution

def test_a_market_order_fills_at_the_latest_close_with_an_exact_decimal_fee(app, fresh_tenant,
                                                                            api_as):
    tenant = fresh_tenant()
    symbol = new_symbol(app, "99.5", "123.4567")
    trader = api_as(tenant.emails["trader"], tenant.slug)

    response = place(trader, order(symbol.lower(), quantity="3.5"))

    assert response.status_code == 201, response.json
    trade = response.json
    assert trade["symbol"] == symbol
    assert trade["status"] == "filled"
    assert trade["fill_price"] == "123.4567"
    assert trade["notional"] == "432.09845"
    # 432.09845 x 0.001 = 0.43209845, rounded half-up to 0.0001.
    assert trade["fee"] == "0.4321"
    assert trade["filled_at"] is not None
    assert response.headers["Location"] == f"/api/trades/{trade['id']}"
    detail = trader.get(f"/api/trades/{trade['id']}").json
    assert [(f["price"], f["quantity"], f["fee"]) for f in detail["fills"]] == [
        ("123.4567", "3.5", "0.4321")
    ]
    assert audit_actions(app, tenant.id, trade["id"]) == ["order.placed"]


def test_the_fee_rate_comes_from_configuration(app, monkeypatch, desk):
    monkeypatch.setitem(app.config, "TRADE_FEE_RATE", "0.0025")
    trade = place(desk.trader, order(desk.symbol, quantity="7")).json
    assert (trade["notional"], trade["fee"]) == ("700", "1.75")


def test_quantities_stay_exact_decimals_where_floats_would_drift(app, desk):
    symbol = new_symbol(app, "0.1")
    trade = place(desk.trader, order(symbol, quantity=0.3)).json
    assert trade["quantity"] == "0.3"
    assert trade["notional"] == "0.03"


def test_a_limit_order_away_from_the_market_stays_pending(app, desk):
    response = place(desk.trader, order(desk.symbol, quantity="5", order_type="limit",
                                        limit_price="90"))
    assert response.status_code == 201
    trade = response.json
    assert (trade["status"], trade["fill_price"], trade["notional"]) == ("pending", None, None)
    assert trade["fee"] == "0"
    assert desk.trader.get(f"/api/trades/{trade['id']}").json["fills"] == []


def test_a_marketable_limit_order_fills_at_once_at_the_close_not_at_its_limit(app, desk):
    trade = place(desk.trader, order(desk.symbol, quantity="2", order_type="limit",
                                     limit_price="105")).json
    assert (trade["status"], trade["fill_price"], trade["fee"]) == ("filled", "100", "0.2")
    assert audit_actions(app, desk.tenant.id, trade["id"]) == ["order.placed", "order.filled"]


def test_a_limit_buy_fills_after_import_prices_brings_a_crossing_close(app, desk, tmp_path):
    trade = place(desk.trader, order(desk.symbol, quantity="4", order_type="limit",
                                     limit_price="90")).json

    import_closes(app, tmp_path, [(1, desk.symbol, "95")])
    assert trade_status(app, desk.tenant.id, trade["id"]) == "pending"

    result = import_closes(app, tmp_path, [(2, desk.symbol, "88.25")])
    assert "Filled 1 pending limit order in 1 organisation." in result.output
    filled = desk.trader.get(f"/api/trades/{trade['id']}").json
    assert (filled["status"], filled["fill_price"]) == ("filled", "88.25")
    assert filled["notional"] == "353"
    assert filled["fee"] == "0.353"
    assert [f["price"] for f in filled["fills"]] == ["88.25"]
    assert audit_actions(app, desk.tenant.id, trade["id"]) == ["order.placed", "order.filled"]


def test_a_limit_sell_fills_when_match_orders_runs_after_the_close_reaches_it(app, desk):
    place(desk.trader, order(desk.symbol, quantity="10"))
    sell = place(desk.trader, order(desk.symbol, side="sell", quantity="10",
                                    order_type="limit", limit_price="110")).json
    assert sell["status"] == "pending"

    add_close(app, desk.symbol, 1, "110")
    result = app.test_cli_runner().invoke(args=["match-orders"])

    assert result.exit_code == 0, result.output
    filled = desk.trader.get(f"/api/trades/{sell['id']}").json
    assert (filled["status"], filled["fill_price"], filled["fee"]) == ("filled", "110", "1.1")
    again = app.test_cli_runner().invoke(args=["match-orders"])
    assert again.exit_code == 0
    assert len(desk.trader.get(f"/api/trades/{sell['id']}").json["fills"]) == 1


def test_a_sell_larger_than_the_position_is_refused_as_insufficient_position(app, desk):
    place(desk.trader, order(desk.symbol, quantity="3"))
    before = trade_count(app, desk.tenant.id)

    response = place(desk.trader, order(desk.symbol, side="sell", quantity="3.5"))

    assert response.status_code == 422
    assert response.json["error"]["code"] == "insufficient_position"
    assert response.json["error"]["field"] == "quantity"
    assert "insufficient position" in response.json["error"]["message"]
    assert trade_count(app, desk.tenant.id) == before


def test_pending_sells_reserve_the_position_they_would_sell(app, desk):
    place(desk.trader, order(desk.symbol, quantity="10"))
    resting = place(desk.trader, order(desk.symbol, side="sell", quantity="6",
                                       order_type="limit", limit_price="150")).json
    assert place(desk.trader, order(desk.symbol, side="sell", quantity="5")).status_code == 422
    assert place(desk.trader, order(desk.symbol, side="sell", quantity="4")).status_code == 201
    desk.trader.post(f"/api/trades/{resting['id']}/cancel")
    assert place(desk.trader, order(desk.symbol, side="sell", quantity="6")).status_code == 201


# Cancelling

def test_a_pending_order_can_be_cancelled_once(app, desk):
    trade = place(desk.trader, order(desk.symbol, order_type="limit", limit_price="50")).json

    response = desk.trader.post(f"/api/trades/{trade['id']}/cancel")

    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert response.json["cancelled_at"] is not None
    again = desk.trader.post(f"/api/trades/{trade['id']}/cancel")
    assert again.status_code == 409
    assert again.json["error"]["code"] == "not_pending"
    assert audit_actions(app, desk.tenant.id, trade["id"]) == ["order.placed", "order.cancelled"]


def test_cancelling_a_filled_order_is_a_conflict_and_changes_nothing(app, desk):
    trade = place(desk.trader, order(desk.symbol)).json
    response = desk.trader.post(f"/api/trades/{trade['id']}/cancel")
    assert response.status_code == 409
    assert trade_status(app, desk.tenant.id, trade["id"]) == "filled"


# Bad input: 400 naming the field (422 for the business rules), and nothing stored

BAD_ORDERS = [
    ({"symbol": "NOSUCH"}, 400, "symbol"),
    ({"symbol": ""}, 400, "symbol"),
    ({"quantity": "0"}, 400, "quantity"),
    ({"quantity": 0}, 400, "quantity"),
    ({"quantity": "-5"}, 400, "quantity"),
    ({"quantity": "ten"}, 400, "quantity"),
    ({"quantity": "NaN"}, 400, "quantity"),
    ({"quantity": "Infinity"}, 400, "quantity"),
    ({"quantity": "-Infinity"}, 400, "quantity"),
    ({"quantity": True}, 400, "quantity"),
    ({"quantity": None}, 400, "quantity"),
    ({"quantity": "0.00000000001"}, 400, "quantity"),
    ({"order_type": "limit"}, 400, "limit_price"),
    ({"order_type": "limit", "limit_price": "0"}, 400, "limit_price"),
    ({"order_type": "limit", "limit_price": "-1"}, 400, "limit_price"),
    ({"order_type": "limit", "limit_price": "NaN"}, 400, "limit_price"),
    ({"order_type": "market", "limit_price": "101"}, 400, "limit_price"),
    ({"side": "hold"}, 400, "side"),
    ({"side": ""}, 400, "side"),
    ({"order_type": "stop"}, 400, "order_type"),
    ({"tenant_id": str(uuid.uuid4())}, 400, "tenant_id"),
]


@pytest.mark.parametrize(("change", "status", "field"), BAD_ORDERS)
def test_a_bad_order_is_refused_naming_the_field_and_nothing_is_stored(app, desk, change,
                                                                       status, field):
    body = {**order(desk.symbol, quantity="1"), **change}
    before = trade_count(app, desk.tenant.id)

    response = place(desk.trader, body)

    assert response.status_code == status, response.json
    assert response.json["error"]["field"] == field
    assert field in response.json["error"]["message"]
    assert trade_count(app, desk.tenant.id) == before


@pytest.mark.parametrize("missing", ["symbol", "side", "quantity", "order_type"])
def test_an_order_missing_a_field_names_it(app, desk, missing):
    body = order(desk.symbol)
    del body[missing]
    response = place(desk.trader, body)
    assert response.status_code == 400
    assert response.json["error"]["field"] == missing


@pytest.mark.parametrize("raw", ['{"symbol": "X", "side": "buy", "quantity": NaN, '
                                 '"order_type": "market"}', "[]", "not json", '"AAPL"'])
def test_a_body_that_is_not_an_order_object_is_a_400(app, desk, raw):
    body = raw.replace('"X"', f'"{desk.symbol}"')
    response = desk.trader.post("/api/trades", data=body,
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["error"]["field"] in {"quantity", "body"}
    assert trade_count(app, desk.tenant.id) == 0


def test_a_market_order_for_an_instrument_without_prices_is_refused(app, desk):
    symbol = new_symbol(app)
    response = place(desk.trader, order(symbol))
    assert response.status_code == 422
    assert response.json["error"]["field"] == "symbol"
    assert trade_count(app, desk.tenant.id) == 0


# Idempotency

def test_an_idempotent_retry_returns_the_first_answer_and_creates_one_trade(app, desk):
    key = f"order-{uuid.uuid4()}"
    first = place(desk.trader, order(desk.symbol, quantity="2"), key)
    # The same order written differently (number instead of string) is the same request.
    second = place(desk.trader, order(desk.symbol.lower(), quantity=2), key)

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json == first.json
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert trade_count(app, desk.tenant.id) == 1


def test_the_same_key_with_a_different_order_is_a_422(app, desk):
    key = f"order-{uuid.uuid4()}"
    place(desk.trader, order(desk.symbol, quantity="2"), key)
    response = place(desk.trader, order(desk.symbol, quantity="3"), key)
    assert response.status_code == 422
    assert response.json["error"]["field"] == "Idempotency-Key"
    assert trade_count(app, desk.tenant.id) == 1


def test_an_idempotency_key_belongs_to_its_tenant(app, desk, fresh_tenant, api_as):
    other = fresh_tenant()
    other_trader = api_as(other.emails["trader"], other.slug)
    key = f"shared-{uuid.uuid4()}"

    mine = place(desk.trader, order(desk.symbol, quantity="2"), key)
    theirs = place(other_trader, order(desk.symbol, quantity="9"), key)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert theirs.json["id"] != mine.json["id"]
    assert theirs.json["quantity"] == "9"
    assert (trade_count(app, desk.tenant.id), trade_count(app, other.id)) == (1, 1)


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "tab\tkey"])
def test_a_malformed_idempotency_key_is_a_400(app, desk, key):
    response = desk.trader.post("/api/trades", json=order(desk.symbol),
                                headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert response.json["error"]["field"] == "Idempotency-Key"
    assert trade_count(app, desk.tenant.id) == 0


def test_two_simultaneous_first_requests_with_one_key_make_one_trade(app, desk, monkeypatch):
    key = f"race-{uuid.uuid4()}"
    winner = place(desk.trader, order(desk.symbol, quantity="2"), key).json
    # The loser checked for the key before the winner committed, so it saw nothing.
    real_replay = idempotency.replay
    calls = []

    def not_yet_committed(*args):
        calls.append(args)
        return None if len(calls) == 1 else real_replay(*args)

    monkeypatch.setattr(idempotency, "replay", not_yet_committed)
    loser = place(desk.trader, order(desk.symbol, quantity="2"), key)

    assert len(calls) == 2
    assert loser.status_code == 201
    assert loser.json == winner
    assert trade_count(app, desk.tenant.id) == 1


# Lists, filters and pagination

def test_lists_split_into_pending_and_history_and_the_detail_carries_fills(app, desk):
    filled = place(desk.trader, order(desk.symbol, quantity="2")).json
    resting = place(desk.trader, order(desk.symbol, order_type="limit", limit_price="1")).json
    cancelled = place(desk.trader, order(desk.symbol, order_type="limit", limit_price="2")).json
    desk.trader.post(f"/api/trades/{cancelled['id']}/cancel")

    every = [t["id"] for t in desk.viewer.get("/api/trades").json["items"]]
    history = [t["id"] for t in desk.viewer.get("/api/trades/history").json["items"]]
    pending = [t["id"] for t in desk.viewer.get("/api/trades/pending").json["items"]]

    assert every == [cancelled["id"], resting["id"], filled["id"]]
    assert history == [cancelled["id"], filled["id"]]
    assert pending == [resting["id"]]
    detail = desk.viewer.get(f"/api/trades/{filled['id']}").json
    assert set(detail) == {
        "id", "symbol", "side", "quantity", "order_type", "limit_price", "status",
        "fill_price", "fee", "notional", "created_at", "filled_at", "cancelled_at",
        "reject_reason", "created_by", "fills",
    }
    assert detail["created_at"].endswith("Z")  # SPEC §7: every time in JSON ends in Z


def test_filters_narrow_the_list(app, desk):
    other = new_symbol(app, "20")
    buy = place(desk.trader, order(desk.symbol, quantity="5")).json
    sell = place(desk.trader, order(desk.symbol, side="sell", quantity="1")).json
    other_buy = place(desk.trader, order(other, quantity="1")).json
    resting = place(desk.trader, order(other, order_type="limit", limit_price="1")).json

    def ids(query):
        response = desk.viewer.get(f"/api/trades?{query}")
        assert response.status_code == 200, response.json
        return {t["id"] for t in response.json["items"]}

    assert ids(f"symbol={desk.symbol}") == {buy["id"], sell["id"]}
    assert ids(f"symbol={other.lower()}") == {other_buy["id"], resting["id"]}
    assert ids("side=sell") == {sell["id"]}
    assert ids("status=pending") == {resting["id"]}
    assert ids(f"symbol={other}&status=filled") == {other_buy["id"]}
    assert ids(f"since={buy['created_at']}") == {
        buy["id"], sell["id"], other_buy["id"], resting["id"]}
    assert ids(f"until={buy['created_at']}") == set()
    assert ids("since=2000-01-01&until=2000-01-02") == set()
    assert ids("status=pending&side=sell") == set()


@pytest.mark.parametrize("path", ["/api/trades", "/api/trades/history", "/api/trades/pending"])
@pytest.mark.parametrize(("param", "value"), [
    ("symbol", "AAPL' OR '1'='1"),
    ("symbol", "AAPL; DROP TABLE trades;--"),
    ("side", "buy' OR 1=1 --"),
    ("status", "filled') OR ('1'='1"),
    ("since", "2024-01-01' OR '1'='1"),
    ("until", "1; DELETE FROM trades"),
    ("cursor", "' UNION SELECT * FROM tenants --"),
    ("limit", "10 OR 1=1"),
])
def test_sql_looking_filter_values_are_plain_bad_input(app, api_as, tenant_a, path, param,
                                                       value):
    api = api_as("viewer@acme.test")
    before = trade_count(app, tenant_a.id)
    response = api.get(path, query_string={param: value})
    assert response.status_code == 400
    assert response.json["error"]["field"] == param
    text = response.get_data(as_text=True)
    assert "SELECT" not in text.replace(value, "") and "tenant_id" not in text
    assert trade_count(app, tenant_a.id) == before


def test_a_sql_looking_ticker_that_is_well_formed_simply_matches_nothing(app, api_as):
    response = api_as("viewer@acme.test").get("/api/trades", query_string={"symbol": "A--1"})
    assert response.status_code == 200
    assert response.json == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("path", ["/api/trades", "/api/trades/history", "/api/trades/pending"])
def test_pages_of_a_list_cover_it_without_duplicates_or_gaps(app, desk, path):
    for quantity in range(1, 8):
        place(desk.trader, order(desk.symbol, quantity=str(quantity)))
        place(desk.trader, order(desk.symbol, quantity=str(quantity), order_type="limit",
                                 limit_price="1"))
    whole = desk.viewer.get(path).json["items"]

    paged = walk_pages(desk.viewer, path, 3)

    assert [t["id"] for t in paged] == [t["id"] for t in whole]
    assert len(whole) == {"/api/trades": 14}.get(path, 7)
    created = [t["created_at"] for t in paged]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(("query", "field"), [("limit=0", "limit"), ("limit=201", "limit"),
                                              ("cursor=nonsense", "cursor")])
def test_bad_paging_parameters_are_a_400(app, api_as, query, field):
    response = api_as("viewer@acme.test").get(f"/api/trades?{query}")
    assert response.status_code == 400
    assert response.json["error"]["field"] == field


# Permissions (SPEC §3): viewers look, traders and admins trade

@pytest.mark.parametrize("role", ["viewer", "trader", "admin"])
@pytest.mark.parametrize("path", ["/api/trades", "/api/trades/history", "/api/trades/pending",
                                  "/trades", "/trades/history", "/trades/pending"])
def test_every_role_may_look_at_trades(app, desk, role, path):
    api = getattr(desk, role)
    assert api.get(path).status_code == 200


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("trader", 201),
                                                ("admin", 201)])
def test_who_may_place_an_order(app, desk, role, expected):
    response = place(getattr(desk, role), order(desk.symbol))
    assert response.status_code == expected
    assert trade_count(app, desk.tenant.id) == (0 if expected == 403 else 1)


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("trader", 200),
                                                ("admin", 200)])
def test_who_may_cancel_an_order(app, desk, role, expected):
    trade = place(desk.trader, order(desk.symbol, order_type="limit", limit_price="1")).json
    response = getattr(desk, role).post(f"/api/trades/{trade['id']}/cancel")
    assert response.status_code == expected
    assert trade_status(app, desk.tenant.id, trade["id"]) == (
        "pending" if expected == 403 else "cancelled")


def test_a_viewer_cannot_use_the_order_form_or_cancel_buttons(app, desk):
    trade = place(desk.trader, order(desk.symbol, order_type="limit", limit_price="1")).json
    viewer = desk.browser("viewer")

    page = viewer.get("/trades").get_data(as_text=True)
    assert 'id="order-form"' not in page
    assert f"/trades/{trade['id']}/cancel" not in page
    assert viewer.post("/trades", data=order(desk.symbol)).status_code == 403
    assert viewer.post(f"/trades/{trade['id']}/cancel").status_code == 403
    assert trade_status(app, desk.tenant.id, trade["id"]) == "pending"
    assert trade_count(app, desk.tenant.id) == 1


# Pages and htmx fragments

def test_the_trades_page_shows_the_form_pending_orders_and_history(app, desk):
    filled = place(desk.trader, order(desk.symbol, quantity="2")).json
    resting = place(desk.trader, order(desk.symbol, order_type="limit", limit_price="1")).json
    browser = desk.browser()

    response = browser.get("/trades")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert is_full_page(page) and 'id="order-form"' in page
    assert f'<option value="{desk.symbol}"' in page
    assert f'id="pending-{resting["id"]}"' in page
    assert f'id="history-{filled["id"]}"' in page
    assert "HX-Request" in response.headers["Vary"]
    assert "tenant_id" not in page


def test_the_trades_page_as_an_htmx_fragment_is_just_the_trades_block(app, desk):
    resting = place(desk.trader, order(desk.symbol, order_type="limit", limit_price="1")).json
    browser = desk.browser()

    fragment = browser.get("/trades", htmx=True).get_data(as_text=True)
    assert root_selector(fragment) == "div#trades"
    assert f'id="pending-{resting["id"]}"' in fragment

    pending = browser.get("/trades/pending", htmx=True).get_data(as_text=True)
    assert root_selector(pending) == "section#pending"
    assert f'id="pending-{resting["id"]}"' in pending
    history = browser.get("/trades/history", htmx=True).get_data(as_text=True)
    assert root_selector(history) == "section#history"
    assert resting["id"] not in history


def test_the_older_link_pages_through_history_without_duplicates_or_gaps(app, desk):
    ids = [place(desk.trader, order(desk.symbol, quantity=str(n))).json["id"]
           for n in range(1, 31)]
    browser = desk.browser()

    first = browser.get("/trades").get_data(as_text=True)
    older = soup(first).select_one('[data-testid="history-older"]')["href"]
    second = browser.get(older, htmx=True).get_data(as_text=True)

    shown = [i for i in reversed(ids) if f'id="history-{i}"' in first]
    more = [i for i in reversed(ids) if f'id="history-{i}"' in second]
    assert shown == list(reversed(ids))[:25]
    assert more == list(reversed(ids))[25:]
    assert 'data-testid="history-older"' not in second
    # Without htmx the same link is a whole page.
    assert is_full_page(browser.get(older))


def test_the_detail_page_shows_the_order_and_its_fills(app, desk):
    trade = place(desk.trader, order(desk.symbol, quantity="2")).json
    browser = desk.browser("viewer")

    page = browser.get(f"/trades/{trade['id']}").get_data(as_text=True)
    fragment = browser.get(f"/trades/{trade['id']}", htmx=True).get_data(as_text=True)

    assert is_full_page(page) and 'data-testid="fill-row"' in page
    assert root_selector(fragment) == "section#trade"
    assert "Fill price" in fragment and "0.2" in fragment


def test_placing_an_order_without_javascript_redirects_with_a_notice(app, desk):
    browser = desk.browser()
    response = browser.post("/trades", data=order(desk.symbol, quantity="3") | {
        "limit_price": ""})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/trades")
    page = browser.get("/trades").get_data(as_text=True)
    # Written as the tables write numbers: prices and amounts to the cent.
    assert f"Buy 3 {desk.symbol}: filled at 100.00, notional 300.00, fee 0.30." in page
    assert trade_count(app, desk.tenant.id) == 1


def test_the_confirmation_writes_numbers_as_the_history_table_does(app, fresh_tenant,
                                                                   browser_as):
    tenant = fresh_tenant()
    symbol = new_symbol(app, "1201.3")
    browser = browser_as(tenant.emails["trader"], tenant.slug)
    response = browser.post("/trades", data=order(symbol, quantity="1200"), htmx=True)
    html = soup(response)
    notice = html.select_one('[data-testid="notice"]').get_text()
    row = html.select_one('[data-testid="history-row"]').find_all("td")
    quantity, fill_price, fee, notional = (row[3].get_text(), row[6].get_text(),
                                           row[7].get_text(), row[8].get_text())
    assert (quantity, fill_price, notional, fee) == (
        "1,200", "1,201.30", "1,441,560.00", "1,441.56")
    assert notice == (f"Buy {quantity} {symbol}: filled at {fill_price}, "
                      f"notional {notional}, fee {fee}.")


def test_placing_an_order_with_htmx_answers_the_refreshed_block(app, desk):
    browser = desk.browser()
    response = browser.post("/trades", data=order(desk.symbol, quantity="3", order_type="limit",
                                                  limit_price="50"), htmx=True)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert root_selector(fragment) == "div#trades"
    assert f"Buy 3 {desk.symbol}: limit order at 50.00 is pending." in fragment
    assert 'data-testid="pending-row"' in fragment


@pytest.mark.parametrize("htmx", [False, True])
def test_a_bad_form_re_renders_with_inline_errors_and_the_entered_values(app, desk, htmx):
    browser = desk.browser()
    response = browser.post("/trades", data=order(desk.symbol, quantity="-2", order_type="limit",
                                                  limit_price=""), htmx=htmx)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert is_full_page(body) is not htmx
    assert 'data-testid="error-quantity"' in body
    assert 'value="-2"' in body
    assert trade_count(app, desk.tenant.id) == 0


@pytest.mark.parametrize(("fields", "expected"), [
    ({"quantity": "-2"}, {"quantity": "Enter a number above 0."}),
    ({"quantity": "lots"}, {"quantity": "Enter a number, such as 12.5."}),
    ({"quantity": "1e13"}, {"quantity": "Enter 1,000,000,000,000 or less."}),
    ({"order_type": "limit", "limit_price": ""},
     {"limit_price": "A limit order needs a limit price."}),
    ({"limit_price": "5"},
     {"limit_price": "A market order takes no limit price: clear it or choose a limit order."}),
    ({"side": "hold"}, {"side": "Choose buy or sell."}),
])
def test_field_errors_are_written_for_people(app, desk, fields, expected):
    response = desk.browser().post("/trades", data=order(desk.symbol, **{
        "limit_price": "", **fields}), htmx=True)
    assert response.status_code == 422
    shown = {tag["data-testid"].removeprefix("error-"): tag.get_text(strip=True)
             for tag in soup(response).select('[data-testid^="error-"]')}
    assert shown == expected
    for message in shown.values():
        assert "_" not in message and "Input should" not in message


def test_the_form_shows_business_rule_errors_inline(app, desk):
    response = desk.browser().post("/trades", data=order(desk.symbol, side="sell",
                                                         limit_price=""))
    assert response.status_code == 422
    assert "insufficient position" in response.get_data(as_text=True)


def test_cancelling_from_the_page_without_javascript_redirects(app, desk):
    trade = place(desk.trader, order(desk.symbol, order_type="limit", limit_price="1")).json
    browser = desk.browser()

    response = browser.post(f"/trades/{trade['id']}/cancel")

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/trades")
    assert trade_status(app, desk.tenant.id, trade["id"]) == "cancelled"
    detail = desk.trader.get(f"/api/trades/{trade['id']}")
    assert detail.json["status"] == "cancelled"


def test_cancelling_from_the_detail_page_returns_to_it(app, desk):
    trade = place(desk.trader, order(desk.symbol, order_type="limit", limit_price="1")).json
    browser = desk.browser()

    plain = browser.post(f"/trades/{trade['id']}/cancel", data={"return_to": "detail"})
    assert plain.status_code == 303
    assert plain.headers["Location"].endswith(f"/trades/{trade['id']}")
    again = browser.post(f"/trades/{trade['id']}/cancel", data={"return_to": "detail"},
                         htmx=True)
    assert again.status_code == 409
    assert root_selector(again) == "section#trade"


def test_cancelling_with_htmx_swaps_the_block_without_the_order(app, desk):
    trade = place(desk.trader, order(desk.symbol, order_type="limit", limit_price="1")).json
    browser = desk.browser()

    response = browser.post(f"/trades/{trade['id']}/cancel", htmx=True)

    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="pending-{trade["id"]}"' not in fragment
    assert f'id="history-{trade["id"]}"' in fragment
    filled = place(desk.trader, order(desk.symbol)).json
    conflict = browser.post(f"/trades/{filled['id']}/cancel", htmx=True)
    assert conflict.status_code == 409
    assert "Only pending orders can be cancelled" in conflict.get_data(as_text=True)


# Tenant isolation, from both sides

def test_tenant_b_trades_are_absent_from_every_list_of_tenant_a(app, api_as, browser_as,
                                                               tenant_a, tenant_b):
    a_api, b_api = api_as("trader@acme.test"), api_as("trader@globex.test")
    a_trade = place(a_api, order("AAPL", order_type="limit", limit_price="1")).json
    b_trade = place(b_api, order("XOM", order_type="limit", limit_price="1")).json
    b_filled = place(b_api, order("XOM")).json
    browsers = {"a": browser_as("trader@acme.test"), "b": browser_as("trader@globex.test")}

    for mine, theirs, api, browser in [
        (a_trade, (b_trade, b_filled), a_api, browsers["a"]),
        (b_trade, (a_trade,), b_api, browsers["b"]),
        (a_trade, (b_trade, b_filled), a_api, browsers["a"]),
    ]:
        seen = {t["id"] for t in walk_pages(api, "/api/trades")}
        assert mine["id"] in seen
        assert not {t["id"] for t in theirs} & seen
        for path in ("/api/trades/pending", "/api/trades/history", "/trades",
                     "/trades/pending", "/trades/history"):
            for htmx in (False, True):
                response = (browser.get(path, htmx=htmx) if path.startswith("/trades")
                            else api.get(path))
                text = response.get_data(as_text=True)
                assert response.status_code == 200
                assert "tenant_id" not in text
                assert not any(t["id"] in text for t in theirs), path
        filtered = walk_pages(api, "/api/trades", symbol="XOM")
        if mine is a_trade:
            assert filtered == []


def test_tenant_b_pending_orders_do_not_count_for_tenant_a(app, api_as, tenant_a, tenant_b):
    a_api, b_api = api_as("viewer@acme.test"), api_as("trader@globex.test")
    a_pending = len(walk_pages(a_api, "/api/trades/pending"))
    assert a_api.get("/api/status").json["pending_orders"] == a_pending

    place(b_api, order("XOM", order_type="limit", limit_price="1"))

    assert a_api.get("/api/status").json["pending_orders"] == a_pending
    assert len(walk_pages(a_api, "/api/trades/pending")) == a_pending
    b_status = b_api.get("/api/status").json
    assert b_status["pending_orders"] == len(walk_pages(b_api, "/api/trades/pending"))


def test_tenant_b_ids_are_a_plain_404_to_tenant_a_and_nothing_changes(app, api_as, browser_as,
                                                                     tenant_a, tenant_b):
    a_api, b_api = api_as("trader@acme.test"), api_as("trader@globex.test")
    a_browser = browser_as("trader@acme.test")
    b_trade = place(b_api, order("XOM", order_type="limit", limit_price="1")).json
    a_trade = place(a_api, order("AAPL", order_type="limit", limit_price="1")).json
    random_id = str(uuid.uuid4())

    def answers(trade_id):
        return [
            a_api.get(f"/api/trades/{trade_id}"),
            a_api.post(f"/api/trades/{trade_id}/cancel"),
            a_browser.get(f"/trades/{trade_id}"),
            a_browser.get(f"/trades/{trade_id}", htmx=True),
            a_browser.post(f"/trades/{trade_id}/cancel"),
            a_browser.post(f"/trades/{trade_id}/cancel", htmx=True),
        ]

    for other, random, malformed in zip(answers(b_trade["id"]), answers(random_id),
                                        answers("not-a-uuid"), strict=True):
        assert other.status_code == 404
        assert other.get_data() == random.get_data() == malformed.get_data()
        assert other.headers["Content-Type"] == random.headers["Content-Type"]

    assert trade_status(app, tenant_b.id, b_trade["id"]) == "pending"
    assert b_api.get(f"/api/trades/{b_trade['id']}").json["status"] == "pending"
    # A, B, A: each side still sees its own order and not the other's.
    assert a_api.get(f"/api/trades/{a_trade['id']}").status_code == 200
    assert b_api.get(f"/api/trades/{a_trade['id']}").status_code == 404
    assert a_api.get(f"/api/trades/{b_trade['id']}").status_code == 404
    assert b_api.post(f"/api/trades/{a_trade['id']}/cancel").status_code == 404
    assert trade_status(app, tenant_a.id, a_trade["id"]) == "pending"


def test_one_user_in_two_tenants_sees_only_the_token_tenant(app, api_as, tenant_b):
    as_globex = api_as("ops@example.test", "globex")
    as_acme = api_as("ops@example.test", "acme")
    trade = place(as_globex, order("XOM", order_type="limit", limit_price="1")).json

    assert as_acme.get(f"/api/trades/{trade['id']}").status_code == 404
    assert as_globex.get(f"/api/trades/{trade['id']}").status_code == 200
    assert as_acme.get(f"/api/trades/{trade['id']}").status_code == 404
    assert place(as_acme, order("AAPL")).status_code == 403


def test_matching_after_an_import_fills_each_tenants_orders_in_that_tenant(
        app, fresh_tenant, api_as, tmp_path):
    symbol = new_symbol(app, "100")
    one, two = fresh_tenant(), fresh_tenant()
    one_api = api_as(one.emails["trader"], one.slug)
    two_api = api_as(two.emails["trader"], two.slug)
    crossing = place(one_api, order(symbol, quantity="1", order_type="limit",
                                    limit_price="95")).json
    not_crossing = place(two_api, order(symbol, quantity="1", order_type="limit",
                                        limit_price="80")).json

    import_closes(app, tmp_path, [(1, symbol, "90")])

    assert trade_status(app, one.id, crossing["id"]) == "filled"
    assert trade_status(app, two.id, not_crossing["id"]) == "pending"
    assert audit_actions(app, two.id, crossing["id"]) == []
    assert audit_actions(app, one.id, crossing["id"]) == ["order.placed", "order.filled"]


@pytest.mark.parametrize("value", ["0.5", "1700000000", "tomorrow"])
def test_a_time_filter_that_is_not_iso_8601_is_a_400_naming_it(api_as, value):
    """pydantic alone would read "0.5" as a Unix timestamp (found by schemathesis)."""
    for name in ("since", "until"):
        response = api_as("trader@acme.test").get(f"/api/trades?{name}={value}")
        assert response.status_code == 400, (name, value, response.text)
        assert response.get_json()["error"]["field"] == name
