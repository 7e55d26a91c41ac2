"""Do /metrics and /api/metrics show each tenant exactly the figures its own trades imply?

Every figure is checked against numbers worked out by hand (portfolio, trading) or computed
independently with the statistics module (risk) on hand-made data in fresh tenants, with
instruments and closes of our own, so the demo data and other tests cannot move them.
"""

import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from portal import tenancy
from portal.market.models import Instrument, Price
from portal.trades.models import Fill, Trade
from tests import reference
from tests.helpers import is_full_page, root_selector

# --- data helpers ----------------------------------------------------------------------------


def new_symbol(prefix="TST") -> str:
    return prefix + uuid.uuid4().hex[:6].upper()


def add_instrument(app, symbol: str, closes: dict[date, D]) -> None:
    with app.app_context(), tenancy.unscoped_session(admin=True) as db:
        db.add(Instrument(symbol=symbol, name=f"Test {symbol}", sector="Test"))
        db.flush()
        db.add_all(Price(symbol=symbol, day=day, close=close) for day, close in closes.items())


def add_trade(app, tenant_id, symbol, side, quantity, price=None, fee="0", *, at,
              status="filled", with_fill=True) -> uuid.UUID:
    """A trade written straight into the tenant's tables (no order service involved)."""
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        trade = Trade(symbol=symbol, side=side, quantity=D(quantity), order_type="market",
                      status=status, created_at=at, fee=D(fee) if status == "filled" else D(0))
        if status == "filled":
            trade.fill_price, trade.filled_at = D(price), at
            if with_fill:
                trade.fills.append(Fill(price=D(price), quantity=D(quantity), fee=D(fee),
                                        executed_at=at))
        elif status == "pending":
            trade.order_type, trade.limit_price = "limit", D(price)
        db.add(trade)
        db.flush()
        return trade.id


def weekdays(count: int, last: date) -> list[date]:
    days, day = [], last
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def no_tenant_id(response) -> None:
    assert "tenant_id" not in response.get_data(as_text=True)


NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Book:
    tenant: object
    a: str
    b: str


@pytest.fixture
def book(app, fresh_tenant) -> Book:
    """Known trades in two new symbols; the figures below are worked out by hand.

    A: buy 100 @ 10 fee 1 (t-100d), buy 50 @ 13 fee 0.5 (t-20d) -> avg 11.01;
       sell 60 @ 15 fee 0.9 (t-3d) realises 60 x 3.99 - 0.9 = 238.5; 90 left at 11.01.
    B: buy 10 @ 100 (t-40d), sell 10 @ 90 (t-2h) realises -100;
       buy 5 @ 80 fee 0.4 (t-1h, a filled trade without fill rows) -> 5 at 80.08.
    Plus a cancelled (t-5h), a rejected (t-10d) and a pending (t-40d) order in A.
    Latest closes: A 12, B 85.
    """
    tenant = fresh_tenant()
    a, b = new_symbol(), new_symbol()
    last = NOW.date() - timedelta(days=1)
    add_instrument(app, a, {last - timedelta(days=1): D("11.5"), last: D("12")})
    add_instrument(app, b, {last - timedelta(days=1): D("86"), last: D("85")})
    tid = tenant.id
    add_trade(app, tid, a, "buy", "100", "10", "1", at=NOW - timedelta(days=100))
    add_trade(app, tid, a, "buy", "50", "13", "0.5", at=NOW - timedelta(days=20))
    add_trade(app, tid, a, "sell", "60", "15", "0.9", at=NOW - timedelta(days=3))
    add_trade(app, tid, b, "buy", "10", "100", at=NOW - timedelta(days=40))
    add_trade(app, tid, b, "sell", "10", "90", at=NOW - timedelta(hours=2))
    add_trade(app, tid, b, "buy", "5", "80", "0.4", at=NOW - timedelta(hours=1),
              with_fill=False)
    add_trade(app, tid, a, "buy", "7", at=NOW - timedelta(hours=5), status="cancelled")
    add_trade(app, tid, a, "buy", "9", at=NOW - timedelta(days=10), status="rejected")
    add_trade(app, tid, a, "buy", "11", "9", at=NOW - timedelta(days=40), status="pending")
    return Book(tenant, a, b)


def as_role(api_as, tenant, role="viewer"):
    return api_as(tenant.emails[role], tenant.slug)


# --- portfolio -------------------------------------------------------------------------------


def test_portfolio_values_average_cost_positions_at_the_latest_close(api_as, book):
    response = as_role(api_as, book.tenant).get("/api/metrics/portfolio")
    assert response.status_code == 200
    no_tenant_id(response)
    body = response.get_json()
    positions = {p["symbol"]: p for p in body["positions"]}
    assert positions[book.a] == {
        "symbol": book.a, "quantity": "90", "avg_cost": "11.01", "price": "12",
        "price_date": (NOW.date() - timedelta(days=1)).isoformat(),
        "market_value": "1080", "cost_basis": "990.9", "unrealized_pnl": "89.1",
        "weight": pytest.approx(1080 / 1505, abs=1e-12),
    }
    assert positions[book.b]["quantity"] == "5"
    assert positions[book.b]["avg_cost"] == "80.08"
    assert positions[book.b]["market_value"] == "425"
    assert positions[book.b]["unrealized_pnl"] == "24.6"
    assert positions[book.b]["weight"] == pytest.approx(425 / 1505, abs=1e-12)
    assert body["totals"] == {
        "market_value": "1505", "cost_basis": "1391.3", "unrealized_pnl": "113.7",
        "realized_pnl": "138.5", "positions": 2,
    }
    assert [p["symbol"] for p in body["positions"]] == sorted([book.a, book.b])


def test_an_empty_book_has_no_positions_and_zero_totals(api_as, fresh_tenant):
    tenant = fresh_tenant()
    body = as_role(api_as, tenant).get("/api/metrics/portfolio").get_json()
    assert body["positions"] == []
    assert body["totals"] == {"market_value": "0", "cost_basis": "0", "unrealized_pnl": "0",
                              "realized_pnl": "0", "positions": 0}


# --- trading ---------------------------------------------------------------------------------

EXPECTED_TRADING = {
    "1d": {"by_status": {"filled": 2, "cancelled": 1, "rejected": 0, "pending": 0},
           "fills": 2, "notional": "1300", "fees": "0.4", "realized": "-100",
           "closing": 1, "winning": 0, "win_rate": 0.0},
    "7d": {"by_status": {"filled": 3, "cancelled": 1, "rejected": 0, "pending": 0},
           "fills": 3, "notional": "2200", "fees": "1.3", "realized": "138.5",
           "closing": 2, "winning": 1, "win_rate": 0.5},
    "30d": {"by_status": {"filled": 4, "cancelled": 1, "rejected": 1, "pending": 0},
            "fills": 4, "notional": "2850", "fees": "1.8", "realized": "138.5",
            "closing": 2, "winning": 1, "win_rate": 0.5},
    "all": {"by_status": {"filled": 6, "cancelled": 1, "rejected": 1, "pending": 1},
            "fills": 6, "notional": "4850", "fees": "2.8", "realized": "138.5",
            "closing": 2, "winning": 1, "win_rate": 0.5},
}


@pytest.mark.parametrize("window", list(EXPECTED_TRADING))
def test_trading_figures_cover_exactly_the_window(api_as, book, window):
    response = as_role(api_as, book.tenant).get(f"/api/metrics/trading?window={window}")
    assert response.status_code == 200
    no_tenant_id(response)
    body = response.get_json()
    expected = EXPECTED_TRADING[window]
    assert body["window"] == window
    assert body["trades_by_status"] == expected["by_status"]
    assert body["trades_total"] == sum(expected["by_status"].values())
    assert body["fills"] == expected["fills"]
    assert body["notional_volume"] == expected["notional"]
    assert body["fees"] == expected["fees"]
    assert body["realized_pnl"] == expected["realized"]
    assert body["closing_trades"] == expected["closing"]
    assert body["winning_trades"] == expected["winning"]
    assert body["win_rate"] == expected["win_rate"]
    assert (body["since"] is None) == (window == "all")


def test_trading_defaults_to_thirty_days(api_as, book):
    body = as_role(api_as, book.tenant).get("/api/metrics/trading").get_json()
    assert body["window"] == "30d"
    assert body["notional_volume"] == "2850"


def test_win_rate_is_null_without_closing_trades(api_as, fresh_tenant):
    tenant = fresh_tenant()
    body = as_role(api_as, tenant).get("/api/metrics/trading?window=all").get_json()
    assert body["win_rate"] is None
    assert body["trades_total"] == 0 and body["notional_volume"] == "0"


@pytest.mark.parametrize("window", ["2d", "", "ALL", "30"])
def test_an_unknown_window_is_a_400_naming_window(api_as, book, window):
    response = as_role(api_as, book.tenant).get(f"/api/metrics/trading?window={window}")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "window"


# --- risk ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskBook:
    tenant: object
    c: str
    d: str
    days: list
    closes_c: dict
    closes_d: dict


@pytest.fixture
def risk_book(app, fresh_tenant) -> RiskBook:
    """Holdings C 10 and D 3 (bought 5, sold 2) over 80 days of made-up closes; C also has
    closes before D's history starts and D misses one day, so 78 days are common."""
    tenant = fresh_tenant()
    c, d = new_symbol("RSK"), new_symbol("RSK")
    rng = random.Random(c)
    days = weekdays(85, NOW.date() - timedelta(days=1))
    price_c, price_d = 50.0, 20.0
    closes_c, closes_d = {}, {}
    for index, day in enumerate(days):
        price_c *= 1 + rng.gauss(0.0004, 0.02)
        price_d *= 1 + rng.gauss(0.0002, 0.03)
        closes_c[day] = D(f"{price_c:.2f}")
        if index >= 5 and index != 40:
            closes_d[day] = D(f"{price_d:.2f}")
    add_instrument(app, c, closes_c)
    add_instrument(app, d, closes_d)
    add_trade(app, tenant.id, c, "buy", "10", "50", "0.5", at=NOW - timedelta(days=200))
    add_trade(app, tenant.id, d, "buy", "5", "20", at=NOW - timedelta(days=200))
    add_trade(app, tenant.id, d, "sell", "2", "25", at=NOW - timedelta(days=100))
    return RiskBook(tenant, c, d, days, closes_c, closes_d)


def expected_risk(book: RiskBook, lookback: int) -> dict:
    common = [day for day in book.days if day in book.closes_d][-(lookback + 1):]
    values = [float(10 * book.closes_c[day] + 3 * book.closes_d[day]) for day in common]
    return {"start": common[0].isoformat(), "end": common[-1].isoformat(),
            **reference.risk_figures(values)}


@pytest.mark.parametrize("lookback", [30, 60, 252])
def test_risk_figures_match_an_independent_computation(api_as, risk_book, lookback):
    response = as_role(api_as, risk_book.tenant).get(
        f"/api/metrics/risk?lookback_days={lookback}")
    assert response.status_code == 200, response.text
    no_tenant_id(response)
    body = response.get_json()
    expected = expected_risk(risk_book, lookback)
    assert body["observations"] == expected["observations"]
    assert body["observations"] == min(lookback, 78)
    assert body["lookback_days"] == lookback
    assert body["symbols"] == sorted([risk_book.c, risk_book.d])
    assert body["risk_free_rate"] == 0.0
    for name, value in expected.items():
        if isinstance(value, float):
            assert body[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
        else:
            assert body[name] == value, name


def test_risk_defaults_to_252_days(api_as, risk_book):
    body = as_role(api_as, risk_book.tenant).get("/api/metrics/risk").get_json()
    assert body["lookback_days"] == 252


@pytest.mark.parametrize("raw", ["29", "1261", "abc", "-5", "60.5"])
def test_a_lookback_outside_30_to_1260_is_a_400_naming_it(api_as, risk_book, raw):
    response = as_role(api_as, risk_book.tenant).get(f"/api/metrics/risk?lookback_days={raw}")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "lookback_days"


def test_risk_without_positions_is_a_422_saying_so(api_as, fresh_tenant):
    response = as_role(api_as, fresh_tenant()).get("/api/metrics/risk")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "no_positions"


def test_risk_with_too_little_history_is_a_422_saying_so(app, api_as, fresh_tenant):
    tenant = fresh_tenant()
    symbol = new_symbol("SHT")
    add_instrument(app, symbol, {day: D("10") + i for i, day in
                                 enumerate(weekdays(20, NOW.date()))})
    add_trade(app, tenant.id, symbol, "buy", "1", "10", at=NOW - timedelta(days=1))
    response = as_role(api_as, tenant).get("/api/metrics/risk")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "insufficient_history"
    assert "30" in error["message"] and "19" in error["message"]


# --- isolation -------------------------------------------------------------------------------


def figures(api_as, tenant) -> dict:
    client = as_role(api_as, tenant)
    trading = client.get("/api/metrics/trading?window=all").get_json()
    trading.pop("as_of")
    return {
        "portfolio": client.get("/api/metrics/portfolio").get_json(),
        "trading": trading,
        "risk": client.get("/api/metrics/risk?lookback_days=30").get_json(),
    }


def test_another_tenants_trades_never_move_the_figures(app, api_as, risk_book, fresh_tenant):
    other = fresh_tenant()
    before = figures(api_as, risk_book.tenant)
    # The other tenant trades the same symbols, and a lot of them.
    trade_id = add_trade(app, other.id, risk_book.c, "buy", "1000", "40", "3",
                         at=NOW - timedelta(days=2))
    add_trade(app, other.id, risk_book.d, "sell", "500", "30", at=NOW - timedelta(hours=3))
    add_trade(app, other.id, risk_book.c, "buy", "5", at=NOW, status="rejected")
    theirs = figures(api_as, other)
    assert figures(api_as, risk_book.tenant) == before
    # ... and changes one of them: still nothing moves for the first tenant.
    with app.app_context(), tenancy.tenant_session_scope(other.id, admin=True) as db:
        db.get(Trade, (other.id, trade_id)).status = "cancelled"
    assert figures(api_as, risk_book.tenant) == before
    # The other tenant sees only its own book.
    assert {p["symbol"]: p["quantity"] for p in theirs["portfolio"]["positions"]} == {
        risk_book.c: "1000", risk_book.d: "-500"}
    assert theirs["trading"]["trades_by_status"]["rejected"] == 1
    assert figures(api_as, other)["trading"]["trades_by_status"]["cancelled"] == 1
    assert before["trading"]["trades_by_status"]["cancelled"] == 0


def test_pages_fragments_and_json_alternate_between_tenants(api_as, browser_as, book, risk_book):
    """A, B, A: no block or endpoint carries the other tenant's symbols or figures."""
    for mine, theirs in ((book, risk_book), (risk_book, book), (book, risk_book)):
        my_symbols = {getattr(mine, "a", None) or mine.c, getattr(mine, "b", None) or mine.d}
        their_symbols = ({theirs.a, theirs.b} if hasattr(theirs, "a")
                         else {theirs.c, theirs.d})
        browser = browser_as(mine.tenant.emails["trader"], mine.tenant.slug)
        api = as_role(api_as, mine.tenant, "trader")
        responses = [
            browser.get("/metrics"),
            browser.get("/metrics?window=7d", htmx=True),
            browser.get("/metrics/portfolio", htmx=True),
            browser.get("/metrics/risk?lookback_days=30", htmx=True),
            browser.get("/status/host", htmx=True),
            api.get("/api/metrics/portfolio"),
            api.get("/api/metrics/trading?window=all"),
            api.get("/api/metrics/risk?lookback_days=30"),
            api.get("/api/metrics/system"),
        ]
        for response in responses:
            # A book without 30 days of closes has no risk figures: the JSON says so with a
            # 422, the page block with a message.
            short = mine is book and response.request.path == "/api/metrics/risk"
            assert response.status_code == (422 if short else 200), response.request.path
            text = response.get_data(as_text=True)
            no_tenant_id(response)
            assert str(theirs.tenant.id) not in text
            for symbol in their_symbols:
                assert symbol not in text, (response.request.path, symbol)
        page = responses[0].get_data(as_text=True)
        assert all(symbol in page for symbol in my_symbols)


# --- page and fragments ----------------------------------------------------------------------


def test_the_page_shows_cards_positions_charts_and_pickers(browser_as, book, risk_book):
    browser = browser_as(book.tenant.emails["viewer"], book.tenant.slug)
    page = browser.get("/metrics")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert is_full_page(html)
    assert 'data-testid="market-value">1,505.00<' in html
    assert f'data-symbol="{book.a}"' in html and f'data-symbol="{book.b}"' in html
    assert 'data-testid="notional-volume">2,850.00<' in html  # the 30 day default
    assert '<select id="window" name="window" form="metrics-pickers"' in html
    assert 'hx-get="/metrics"' in html and 'hx-push-url="true"' in html
    assert 'class="htmx-indicator' in html
    # Host figures are on /status, not on a trader's metrics.
    assert 'id="system"' not in html and "pid" not in html
    # The book's holdings have only two closes: risk explains itself instead of failing.
    assert 'data-testid="risk-unavailable"' in html

    risky = browser_as(risk_book.tenant.emails["viewer"], risk_book.tenant.slug)
    html = risky.get("/metrics?lookback_days=60").get_data(as_text=True)
    charts = re.findall(r"<svg[^>]*>.*?</svg>", html, re.S)
    assert len(charts) == 2
    assert all("<polyline" in chart and "<text" in chart for chart in charts)
    assert "<path" in charts[1]  # the drawdown area
    assert html.count("<script") == 2  # base.html's htmx and portal.js only


def test_the_window_picker_works_as_a_plain_get_and_as_a_fragment(browser_as, book):
    browser = browser_as(book.tenant.emails["viewer"], book.tenant.slug)
    full = browser.get("/metrics?window=7d")
    assert is_full_page(full)
    assert '<option value="7d" selected>' in full.get_data(as_text=True)
    fragment = browser.get("/metrics?window=1d", htmx=True)
    assert fragment.status_code == 200
    assert "HX-Request" in fragment.headers.get("Vary", "")
    html = fragment.get_data(as_text=True)
    assert root_selector(html) == "section#trading"
    assert 'data-window="1d"' in html
    assert 'data-testid="notional-volume">1,300.00<' in html
    assert 'data-testid="win-rate">0.0%<' in html
    assert 'id="portfolio"' not in html and 'id="risk"' not in html


def test_each_block_has_its_fragment(browser_as, risk_book):
    browser = browser_as(risk_book.tenant.emails["trader"], risk_book.tenant.slug)
    for path, block in (("/metrics/portfolio", "portfolio"), ("/metrics/risk", "risk")):
        html = browser.get(path, htmx=True).get_data(as_text=True)
        assert root_selector(html) == f"section#{block}", path
        full = browser.get(path).get_data(as_text=True)
        assert is_full_page(full) and f'id="{block}"' in full
    risk = browser.get("/metrics/risk?lookback_days=30", htmx=True).get_data(as_text=True)
    assert 'data-lookback="30"' in risk and "<polyline" in risk


def test_a_bad_window_on_the_page_is_a_400_page(browser_as, book):
    browser = browser_as(book.tenant.emails["viewer"], book.tenant.slug)
    response = browser.get("/metrics?window=1y")
    assert response.status_code == 400
    assert "window" in response.get_data(as_text=True)


# --- permissions -----------------------------------------------------------------------------

API = ["/api/metrics/portfolio", "/api/metrics/trading", "/api/metrics/risk",
       "/api/metrics/system"]
PAGES = ["/metrics", "/metrics/portfolio", "/metrics/risk"]
ALLOWED = {
    "viewer": {"/api/metrics/portfolio", "/api/metrics/trading", "/api/metrics/risk",
               "/metrics", "/metrics/portfolio", "/metrics/risk"},
    "trader": set(API) | set(PAGES),
    "admin": set(API) | set(PAGES),
}


@pytest.mark.parametrize("role", ["viewer", "trader", "admin"])
def test_permission_matrix(api_as, browser_as, risk_book, role):
    api = as_role(api_as, risk_book.tenant, role)
    browser = browser_as(risk_book.tenant.emails[role], risk_book.tenant.slug)
    for path in API:
        status = api.get(path).status_code
        assert status == (200 if path in ALLOWED[role] else 403), (role, path, status)
    for path in PAGES:
        for htmx in (False, True):
            status = browser.get(path, htmx=htmx).status_code
            assert status == (200 if path in ALLOWED[role] else 403), (role, path, htmx)
    page = browser.get("/metrics").get_data(as_text=True)
    assert 'id="system"' not in page and "CPU" not in page  # host figures are on /status


def test_metrics_need_a_token(client):
    assert client.get("/api/metrics/portfolio").status_code == 401
    response = client.get("/metrics")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- system ----------------------------------------------------------------------------------


def test_system_shows_host_figures_and_only_this_tenants_requests(api_as, fresh_tenant):
    mine, theirs = fresh_tenant(), fresh_tenant()
    me, them = as_role(api_as, mine, "trader"), as_role(api_as, theirs, "trader")
    first = me.get("/api/metrics/system")
    assert first.status_code == 200
    no_tenant_id(first)
    body = first.get_json()
    assert body["requests"]["count"] == 0  # this request is counted once it is answered
    assert body["requests"]["p95_ms"] is None
    assert 0 <= body["host"]["cpu_percent"] <= 100 * (body["host"]["cpu_count"] or 1)
    assert body["host"]["memory"]["total_bytes"] >= body["host"]["memory"]["used_bytes"] > 0
    assert body["host"]["disk"]["total_bytes"] > 0
    assert body["process"]["rss_bytes"] > 0 and body["process"]["uptime_seconds"] >= 0

    for _ in range(3):
        me.get("/api/metrics/trading")
    me.get("/api/metrics/trading?window=nope")  # a 400 counts as a client error
    for _ in range(5):
        them.get("/api/metrics/portfolio")
    requests = me.get("/api/metrics/system").get_json()["requests"]
    assert requests["count"] == 5
    assert requests["client_errors"] == 1 and requests["server_errors"] == 0
    assert requests["sample_size"] == 5
    assert 0 < requests["p50_ms"] <= requests["p95_ms"] <= requests["max_ms"]
    assert requests["mean_ms"] > 0
    assert them.get("/api/metrics/system").get_json()["requests"]["count"] == 5
    assert me.get("/api/metrics/system").get_json()["requests"]["count"] == 6
