"""The tenant's figures: positions valued at the latest closes, trading activity over a window
and the risk of the current holdings, from the reads in portal.metrics.queries and the pure
maths in portal.metrics.analytics.

Nothing here writes; every figure is derived on request (see portal.metrics.queries).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from portal import observability
from portal.errors import InsufficientHistory, NoPositions
from portal.market import queries as market
from portal.metrics import analytics, queries
from portal.tenancy import session

WINDOWS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30),
           "all": None}
DEFAULT_WINDOW = "30d"
DEFAULT_LOOKBACK_DAYS = 252


def ledger(history: list[analytics.Execution] | None = None) -> analytics.Ledger:
    """The tenant's book replayed from its fills (`history`, or read now)."""
    return analytics.replay(queries.executions() if history is None else history)


def long_positions() -> dict[str, Decimal]:
    """The quantity of each symbol the tenant holds long: the same ledger the portfolio
    figures use, so other pages (correlation) never disagree with /metrics about it."""
    return {h.symbol: h.quantity for h in ledger().open_holdings if h.quantity > 0}


# --- portfolio -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    symbol: str
    quantity: Decimal
    avg_cost: Decimal
    price: Decimal
    price_date: date | None
    market_value: Decimal
    cost_basis: Decimal
    unrealized_pnl: Decimal
    weight: float | None


@dataclass(frozen=True)
class PortfolioTotals:
    market_value: Decimal
    cost_basis: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    positions: int


@dataclass(frozen=True)
class Portfolio:
    positions: list[Position]
    totals: PortfolioTotals
    as_of: date | None


def portfolio(book: analytics.Ledger | None = None) -> Portfolio:
    """Open positions valued at each symbol's latest close; weight = market value / total
    market value (None when the total is 0)."""
    book = book or ledger()
    holdings = book.open_holdings
    symbols = [h.symbol for h in holdings]
    quotes = market.latest_quotes(session, symbols) if symbols else {}
    closes = {symbol: close for symbol, (_day, close) in quotes.items()}
    close_days = {symbol: day for symbol, (day, _close) in quotes.items()}
    valued = []
    for holding in holdings:
        # A symbol with no close at all (never expected: fills need a price) is valued at
        # what the book paid, so it shows no unrealised P&L rather than a total loss.
        price = closes.get(holding.symbol, holding.avg_cost)
        market_value = holding.quantity * price
        cost_basis = holding.quantity * holding.avg_cost
        valued.append((holding, price, market_value, cost_basis))
    total_value = sum((mv for _h, _p, mv, _c in valued), Decimal(0))
    total_cost = sum((cost for _h, _p, _mv, cost in valued), Decimal(0))
    positions = [
        Position(
            symbol=holding.symbol, quantity=holding.quantity, avg_cost=holding.avg_cost,
            price=price, price_date=close_days.get(holding.symbol),
            market_value=market_value, cost_basis=cost_basis,
            unrealized_pnl=market_value - cost_basis,
            weight=float(market_value / total_value) if total_value else None,
        )
        for holding, price, market_value, cost_basis in valued
    ]
    totals = PortfolioTotals(
        market_value=total_value, cost_basis=total_cost,
        unrealized_pnl=total_value - total_cost, realized_pnl=book.realized_pnl,
        positions=len(positions),
    )
    return Portfolio(positions, totals, max(close_days.values(), default=None))


# --- trading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TradingFigures:
    window: str
    since: datetime | None
    as_of: datetime
    trades_by_status: dict[str, int]
    trades_total: int
    fills: int
    notional_volume: Decimal
    fees: Decimal
    realized_pnl: Decimal
    closing_trades: int
    winning_trades: int
    win_rate: float | None


def trading(window: str, now: datetime | None = None,
            history: list[analytics.Execution] | None = None) -> TradingFigures:
    """Activity in the window [now - window, now]:

    - trades_by_status: trades created in the window, counted by status
    - notional_volume, fees: sum of price x quantity and of fees over fills executed in it
    - realized_pnl: P&L realised (average-cost, fees included) by fills in the window; the
      average cost comes from the whole history, not just the window
    - win_rate: share of closing trades in the window (trades that reduced a position) whose
      realised P&L in the window is positive; None when there were none
    """
    now = now or datetime.now(UTC)
    span = WINDOWS[window]
    since = now - span if span else None
    by_status = queries.trade_counts(since)

    history = queries.executions() if history is None else history
    book = ledger(history)
    in_window = [e for e in history if since is None or e.executed_at >= since]
    per_trade: dict = {}
    for realised in book.realizations:
        if since is None or realised.executed_at >= since:
            per_trade[realised.trade_id] = per_trade.get(realised.trade_id, 0) + realised.pnl
    winners = sum(1 for pnl in per_trade.values() if pnl > 0)
    return TradingFigures(
        window=window, since=since, as_of=now,
        trades_by_status=by_status, trades_total=sum(by_status.values()),
        fills=len(in_window),
        notional_volume=sum((e.price * e.quantity for e in in_window), Decimal(0)),
        fees=sum((e.fee for e in in_window), Decimal(0)),
        realized_pnl=sum(per_trade.values(), Decimal(0)),
        closing_trades=len(per_trade), winning_trades=winners,
        win_rate=winners / len(per_trade) if per_trade else None,
    )


# --- risk ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Risk:
    lookback_days: int
    symbols: list[str]
    start: date
    end: date
    figures: analytics.RiskFigures
    series: analytics.ValueSeries


def holdings_value_series(lookback_days: int,
                          book: analytics.Ledger | None = None) -> analytics.ValueSeries:
    """Value of the CURRENT holdings on the last `lookback_days + 1` days where every held
    symbol has a close: `lookback_days` daily returns."""
    book = book or ledger()
    quantities = {h.symbol: h.quantity for h in book.open_holdings}
    if not quantities:
        return analytics.ValueSeries([], [])
    history = market.cached_closes(session, sorted(quantities))
    return analytics.value_series(quantities, history, points=lookback_days + 1)


def risk(lookback_days: int, book: analytics.Ledger | None = None) -> Risk:
    """422 `no_positions` without open positions, 422 `insufficient_history` with fewer
    than 30 daily returns; definitions in `analytics.risk_figures`."""
    book = book or ledger()
    symbols = [h.symbol for h in book.open_holdings]
    if not symbols:
        raise NoPositions()
    series = holdings_value_series(lookback_days, book)
    try:
        figures = analytics.risk_figures(series.values)
    except analytics.RiskUndefined as exc:
        raise InsufficientHistory(str(exc)) from None
    return Risk(lookback_days, symbols, series.days[0], series.days[-1], figures, series)


# --- the portal's own figures --------------------------------------------------------------


@dataclass(frozen=True)
class SystemFigures:
    host: observability.HostFigures
    requests: observability.RequestFigures


def request_figures() -> observability.RequestFigures:
    """The signed-in tenant's own request figures (every worker's, from the shared store)."""
    return observability.tenant_requests(session.tenant_id)


def system() -> SystemFigures:
    """Host and process figures (this worker process) beside the tenant's request figures."""
    return SystemFigures(observability.host_figures(), request_figures())
