"""Reads behind /metrics and /api/metrics: the tenant's own fills and the shared closes.

Every figure is derived on request from the tenant's filled trades (through the request's
tenant-bound session) and the shared daily closes; nothing is cached across requests, so
there is no cache to leak between tenants.
"""

import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property

import psutil
from flask import current_app, g
from sqlalchemy import func, select

from portal import observability
from portal.market.models import Price
from portal.market.queries import cached_closes, latest_closes
from portal.metrics import analytics, charts
from portal.tenancy import session
from portal.trades.models import STATUSES, Fill, Trade
from portal.web import ApiError

WINDOWS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30),
           "all": None}
DEFAULT_WINDOW = "30d"
DEFAULT_LOOKBACK_DAYS = 252


def executions() -> list[analytics.Execution]:
    """The fills of the tenant's filled trades, oldest first.

    A filled trade without fill rows counts as one fill at its own fill price, so the figures
    do not depend on how the order path records executions.
    """
    rows = session.execute(
        select(
            Trade.id, Trade.symbol, Trade.side, Trade.quantity, Trade.fill_price, Trade.fee,
            Trade.filled_at, Trade.created_at,
            Fill.quantity, Fill.price, Fill.fee, Fill.executed_at,
        )
        .outerjoin(Trade.fills)
        .where(Trade.status == "filled")
    )
    found = []
    for (trade_id, symbol, side, quantity, fill_price, fee, filled_at, created_at,
         fill_quantity, price, fill_fee, executed_at) in rows:
        if fill_quantity is None:
            if fill_price is None:
                continue
            fill_quantity, price, fill_fee = quantity, fill_price, fee
            executed_at = filled_at or created_at
        found.append((executed_at, created_at, trade_id.hex, analytics.Execution(
            trade_id, symbol, side, fill_quantity, price, fill_fee or Decimal(0), executed_at,
        )))
    found.sort(key=lambda item: item[:3])
    return [execution for *_key, execution in found]


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


def latest_close_days(symbols: list[str]) -> dict[str, date]:
    rows = session.execute(
        select(Price.symbol, func.max(Price.day)).where(Price.symbol.in_(symbols))
        .group_by(Price.symbol)
    )
    return {symbol: day for symbol, day in rows}


def portfolio(ledger: analytics.Ledger | None = None) -> Portfolio:
    """Open positions valued at each symbol's latest close; weight = market value / total
    market value (None when the total is 0)."""
    ledger = ledger or analytics.replay(executions())
    holdings = ledger.open_holdings
    symbols = [h.symbol for h in holdings]
    closes = latest_closes(session, symbols) if symbols else {}
    close_days = latest_close_days(symbols) if symbols else {}
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
        unrealized_pnl=total_value - total_cost, realized_pnl=ledger.realized_pnl,
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
    counts = select(Trade.status, func.count()).group_by(Trade.status)
    if since is not None:
        counts = counts.where(Trade.created_at >= since)
    by_status = dict.fromkeys(STATUSES, 0)
    by_status.update({status: count for status, count in session.execute(counts)})

    history = executions() if history is None else history
    ledger = analytics.replay(history)
    in_window = [e for e in history if since is None or e.executed_at >= since]
    per_trade: dict = {}
    for realised in ledger.realizations:
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


class RiskUnavailable(ApiError):
    def __init__(self, message: str, code: str):
        super().__init__(422, message, code)


@dataclass(frozen=True)
class Risk:
    lookback_days: int
    symbols: list[str]
    start: date
    end: date
    figures: analytics.RiskFigures
    series: analytics.ValueSeries


def holdings_value_series(lookback_days: int,
                          ledger: analytics.Ledger | None = None) -> analytics.ValueSeries:
    """Value of the CURRENT holdings on the last `lookback_days + 1` days where every held
    symbol has a close: `lookback_days` daily returns."""
    ledger = ledger or analytics.replay(executions())
    quantities = {h.symbol: h.quantity for h in ledger.open_holdings}
    if not quantities:
        return analytics.ValueSeries([], [])
    history = cached_closes(session, sorted(quantities))
    return analytics.value_series(quantities, history, points=lookback_days + 1)


def risk(lookback_days: int, ledger: analytics.Ledger | None = None) -> Risk:
    """422 `no_positions` without open positions, 422 `insufficient_history` with fewer
    than 30 daily returns; definitions in `analytics.risk_figures`."""
    ledger = ledger or analytics.replay(executions())
    symbols = [h.symbol for h in ledger.open_holdings]
    if not symbols:
        raise RiskUnavailable("There are no open positions to measure risk on.", "no_positions")
    series = holdings_value_series(lookback_days, ledger)
    try:
        figures = analytics.risk_figures(series.values)
    except analytics.RiskUndefined as exc:
        raise RiskUnavailable(str(exc), "insufficient_history") from None
    return Risk(lookback_days, symbols, series.days[0], series.days[-1], figures, series)


# --- system --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemFigures:
    cpu_percent: float
    cpu_count: int | None
    memory_total_bytes: int
    memory_used_bytes: int
    memory_percent: float
    disk_path: str
    disk_total_bytes: int
    disk_used_bytes: int
    disk_free_bytes: int
    disk_percent: float
    process_pid: int
    process_rss_bytes: int
    process_uptime_seconds: float
    requests: observability.RequestFigures


def system() -> SystemFigures:
    """Host and process figures (this worker process) and the current tenant's own request
    figures (every worker's, from the shared store in portal.observability)."""
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(current_app.instance_path)
    process = observability.current_process()
    return SystemFigures(
        cpu_percent=psutil.cpu_percent(interval=None),
        cpu_count=psutil.cpu_count(),
        memory_total_bytes=memory.total, memory_used_bytes=memory.used,
        memory_percent=memory.percent,
        disk_path="instance", disk_total_bytes=disk.total, disk_used_bytes=disk.used,
        disk_free_bytes=disk.free, disk_percent=disk.percent,
        process_pid=os.getpid(), process_rss_bytes=process.memory_info().rss,
        process_uptime_seconds=max(time.time() - process.create_time(), 0.0),
        requests=observability.tenant_requests(g.tenant_id),
    )


# --- the /metrics page ---------------------------------------------------------------------


class Overview:
    """Everything the /metrics page can show, each part computed only when a template block
    reads it, so an htmx swap of one block pays for that block alone."""

    def __init__(self, window: str, lookback_days: int):
        self.window = window
        self.lookback_days = lookback_days

    @cached_property
    def executions(self) -> list[analytics.Execution]:
        return executions()

    @cached_property
    def ledger(self) -> analytics.Ledger:
        return analytics.replay(self.executions)

    @cached_property
    def portfolio(self) -> Portfolio:
        return portfolio(self.ledger)

    @cached_property
    def trading(self) -> TradingFigures:
        return trading(self.window, history=self.executions)

    @cached_property
    def risk_outcome(self) -> tuple[Risk | None, str | None]:
        try:
            return risk(self.lookback_days, self.ledger), None
        except RiskUnavailable as exc:
            return None, exc.message

    @property
    def risk(self) -> Risk | None:
        return self.risk_outcome[0]

    @property
    def risk_problem(self) -> str | None:
        """Why there are no risk figures (no positions, too little history)."""
        return self.risk_outcome[1]

    @cached_property
    def equity_chart(self) -> charts.LineChart | None:
        if self.risk is None:
            return None
        series = self.risk.series
        return charts.line_chart(
            "Value of current holdings", series.days, [float(v) for v in series.values],
            lambda v: f"{v:,.0f}",
        )

    @cached_property
    def drawdown_chart(self) -> charts.LineChart | None:
        if self.risk is None:
            return None
        series = self.risk.series
        falls = analytics.drawdowns([float(v) for v in series.values])
        return charts.line_chart(
            "Drawdown from running peak", series.days, [-float(d) for d in falls],
            lambda v: f"{round(v, 3) + 0.0:.1%}", fill_to=0.0,  # + 0.0: no "-0.0%"
        )
