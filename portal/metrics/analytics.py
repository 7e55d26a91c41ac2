"""The numbers behind /metrics: pure functions of executions and closes, no database.

Positions use the average-cost method on signed quantities:

- A trade that opens or adds to a position (a buy on a flat or long book, a sell on a flat
  or short one) moves the average cost to the quantity-weighted mean of the old average and
  this execution's unit cost. Fees are part of that cost: a buy costs `price + fee/qty` per
  unit, a short sale brings in `price - fee/qty`. Cost basis therefore includes opening fees.
- A trade that reduces a position closes `min(qty, |position|)` units at the current average
  cost (which does not change) and realises `closed x (price - avg_cost) x direction - fee`
  (direction +1 for a long, -1 for a short; the fee is prorated when the trade also opens a
  position the other way). Closing fees therefore reduce realised P&L.
- So realised P&L + unrealised P&L is the book's whole P&L net of every fee.

All money stays `Decimal`; the risk statistics are floats (numpy) because they are ratios.
"""

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from portal.market.queries import aligned_closes

ZERO = Decimal(0)
TRADING_DAYS_PER_YEAR = 252
MIN_RETURNS = 30


@dataclass(frozen=True)
class Execution:
    """One fill of a filled trade."""

    trade_id: uuid.UUID
    symbol: str
    side: str  # "buy" or "sell"
    quantity: Decimal
    price: Decimal
    fee: Decimal
    executed_at: datetime


@dataclass
class Holding:
    symbol: str
    quantity: Decimal = ZERO  # signed: negative is short
    avg_cost: Decimal = ZERO  # per unit, fees included, always >= 0


@dataclass(frozen=True)
class Realization:
    """P&L realised by (part of) one execution that reduced a position."""

    trade_id: uuid.UUID
    symbol: str
    executed_at: datetime
    quantity: Decimal
    pnl: Decimal


@dataclass
class Ledger:
    holdings: dict[str, Holding] = field(default_factory=dict)
    realizations: list[Realization] = field(default_factory=list)

    @property
    def open_holdings(self) -> list[Holding]:
        return sorted(
            (h for h in self.holdings.values() if h.quantity != ZERO), key=lambda h: h.symbol
        )

    @property
    def realized_pnl(self) -> Decimal:
        return sum((r.pnl for r in self.realizations), ZERO)


def replay(executions: Iterable[Execution]) -> Ledger:
    """Apply executions oldest first (the caller orders them) by the average-cost method."""
    ledger = Ledger()
    for execution in executions:
        holding = ledger.holdings.setdefault(execution.symbol, Holding(execution.symbol))
        realised = _apply(holding, execution)
        if realised is not None:
            ledger.realizations.append(realised)
    return ledger


def _apply(holding: Holding, execution: Execution) -> Realization | None:
    quantity, price, fee = execution.quantity, execution.price, execution.fee
    if quantity <= ZERO:
        return None
    direction = 1 if execution.side == "buy" else -1
    if holding.quantity == ZERO or (holding.quantity > ZERO) == (direction > 0):
        _open(holding, direction, quantity, price, fee)
        return None
    closed = min(quantity, abs(holding.quantity))
    closing_fee = fee if closed == quantity else fee * closed / quantity
    held_direction = 1 if holding.quantity > ZERO else -1
    pnl = held_direction * closed * (price - holding.avg_cost) - closing_fee
    holding.quantity += direction * closed
    if holding.quantity == ZERO:
        holding.avg_cost = ZERO
    remainder = quantity - closed
    if remainder > ZERO:  # the trade went through zero: the rest opens the other way
        _open(holding, direction, remainder, price, fee - closing_fee)
    return Realization(execution.trade_id, execution.symbol, execution.executed_at, closed, pnl)


def _open(holding: Holding, direction: int, quantity: Decimal, price: Decimal,
          fee: Decimal) -> None:
    unit_cost = price + direction * fee / quantity
    held = abs(holding.quantity)
    holding.avg_cost = (held * holding.avg_cost + quantity * unit_cost) / (held + quantity)
    holding.quantity += direction * quantity


# --- risk ----------------------------------------------------------------------------------


class RiskUndefined(ValueError):
    """The figures cannot be computed from this data; the message says why."""


@dataclass(frozen=True)
class ValueSeries:
    days: list[date]
    values: list[float]


def value_series(quantities: dict[str, Decimal], closes: Mapping[str, Any],
                 points: int | None = None) -> ValueSeries:
    """sum(quantity x close) on each day where every held symbol has a close; the last
    `points` of those days when given. `closes` maps each symbol to its closes by day, or
    to its cached CloseSeries. Values are floats: risk ratios and charts are made of them."""
    if not quantities:
        return ValueSeries([], [])
    symbols = list(quantities)
    days, matrix = aligned_closes(closes, symbols)
    if points is not None:
        days, matrix = days[-points:], matrix[-points:]
    values = matrix @ np.array([float(quantities[symbol]) for symbol in symbols])
    return ValueSeries(days.tolist(), values.tolist())


@dataclass(frozen=True)
class RiskFigures:
    observations: int
    mean_daily_return: float
    annualized_return: float
    volatility: float
    var_95: float
    cvar_95: float
    max_drawdown: float
    sharpe_ratio: float | None
    sortino_ratio: float | None
    calmar_ratio: float | None


def simple_returns(values: Sequence[float]) -> np.ndarray:
    series = np.asarray(values, dtype=float)
    return series[1:] / series[:-1] - 1.0


def drawdowns(values: Sequence[float]) -> np.ndarray:
    """Fall from the running peak at each point, as a positive fraction (0 at a new high)."""
    series = np.asarray(values, dtype=float)
    if series.size == 0:
        return series
    return 1.0 - series / np.maximum.accumulate(series)


def risk_figures(values: Sequence[float]) -> RiskFigures:
    """Risk statistics of a daily value series (oldest first), risk-free rate 0.

    With r the simple daily returns v[t]/v[t-1] - 1 and 252 trading days a year:
    - volatility = stdev(r, ddof=1) x sqrt(252)
    - var_95 = -(5th percentile of r, linear interpolation as numpy's default): the 1-day
      loss not exceeded on 95% of days, as a positive fraction of value
    - cvar_95 = -mean(r where r <= that 5th percentile): the average loss on those worst days
    - max_drawdown = max over t of 1 - v[t] / max(v[0..t]), a positive fraction
    - annualized_return = mean(r) x 252 (arithmetic, matching the Sharpe/Sortino numerators)
    - sharpe_ratio = mean(r) / stdev(r, ddof=1) x sqrt(252)
    - sortino_ratio = mean(r) x 252 / (sqrt(mean(min(r, 0)^2)) x sqrt(252))
    - calmar_ratio = annualized_return / max_drawdown
    A ratio whose denominator is 0 (no variation, no down day, no drawdown) is None.
    Needs at least 30 returns and a positive value every day.
    """
    series = np.asarray(values, dtype=float)
    if series.size - 1 < MIN_RETURNS:
        raise RiskUndefined(
            f"risk figures need at least {MIN_RETURNS} daily returns of the current holdings; "
            f"there are {max(series.size - 1, 0)}"
        )
    if np.any(series <= 0):
        raise RiskUndefined(
            "the holdings' value is not positive on every day of the lookback, so daily "
            "returns are undefined (net short book)"
        )
    returns = simple_returns(series)
    mean = float(returns.mean())
    stdev = float(returns.std(ddof=1))
    cutoff = float(np.percentile(returns, 5))
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    max_drawdown = float(drawdowns(series).max())
    annual = mean * TRADING_DAYS_PER_YEAR
    root_year = math.sqrt(TRADING_DAYS_PER_YEAR)
    return RiskFigures(
        observations=int(returns.size),
        mean_daily_return=mean,
        annualized_return=annual,
        volatility=stdev * root_year,
        var_95=-cutoff,
        cvar_95=-float(returns[returns <= cutoff].mean()),
        max_drawdown=max_drawdown,
        sharpe_ratio=mean / stdev * root_year if stdev > 0 else None,
        sortino_ratio=annual / (downside * root_year) if downside > 0 else None,
        calmar_ratio=annual / max_drawdown if max_drawdown > 0 else None,
    )
