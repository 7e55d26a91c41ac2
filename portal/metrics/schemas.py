"""Input of the metrics endpoints and the JSON they answer.

Money and quantities are exact decimal strings (rounded to the 10 places the database keeps);
ratios and statistics are floats; dates are ISO 8601, timestamps ISO 8601 UTC.
"""

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from portal.db import decimal_string
from portal.metrics.services import DEFAULT_LOOKBACK_DAYS, DEFAULT_WINDOW
from portal.observability import RequestFigures
from portal.times import UtcText

DecimalString = Annotated[Decimal, PlainSerializer(decimal_string, return_type=str)]
Window = Literal["1d", "7d", "30d", "all"]
LookbackDays = Annotated[int, Field(ge=30, le=1260)]


class _Query(BaseModel):
    @classmethod
    def from_args(cls, args):
        return cls.model_validate(args.to_dict())


class TradingQuery(_Query):
    window: Window = DEFAULT_WINDOW


class RiskQuery(_Query):
    lookback_days: LookbackDays = DEFAULT_LOOKBACK_DAYS


class OverviewQuery(TradingQuery, RiskQuery):
    """The /metrics page's pickers: the trading window and the risk lookback."""


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, figures):
        return cls.model_validate(figures)


class PositionOut(_Out):
    symbol: str
    quantity: DecimalString
    avg_cost: DecimalString
    price: DecimalString
    price_date: date | None
    market_value: DecimalString
    cost_basis: DecimalString
    unrealized_pnl: DecimalString
    weight: float | None


class PortfolioTotalsOut(_Out):
    market_value: DecimalString
    cost_basis: DecimalString
    unrealized_pnl: DecimalString
    realized_pnl: DecimalString
    positions: int


class PortfolioOut(_Out):
    positions: list[PositionOut]
    totals: PortfolioTotalsOut
    as_of: date | None


class TradingOut(_Out):
    window: Window
    since: UtcText | None
    as_of: UtcText
    trades_by_status: dict[str, int]
    trades_total: int
    fills: int
    notional_volume: DecimalString
    fees: DecimalString
    realized_pnl: DecimalString
    closing_trades: int
    winning_trades: int
    win_rate: float | None


class RiskOut(BaseModel):
    lookback_days: int
    observations: int
    start: date
    end: date
    symbols: list[str]
    risk_free_rate: float = 0.0
    annualized_return: float
    volatility: float
    var_95: float
    cvar_95: float
    max_drawdown: float
    sharpe_ratio: float | None
    sortino_ratio: float | None
    calmar_ratio: float | None

    @classmethod
    def of(cls, risk) -> "RiskOut":
        figures = risk.figures
        return cls(
            lookback_days=risk.lookback_days, observations=figures.observations,
            start=risk.start, end=risk.end, symbols=risk.symbols,
            annualized_return=figures.annualized_return, volatility=figures.volatility,
            var_95=figures.var_95, cvar_95=figures.cvar_95, max_drawdown=figures.max_drawdown,
            sharpe_ratio=figures.sharpe_ratio, sortino_ratio=figures.sortino_ratio,
            calmar_ratio=figures.calmar_ratio,
        )


class MemoryOut(BaseModel):
    total_bytes: int
    used_bytes: int
    percent: float


class DiskOut(BaseModel):
    path: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    percent: float


class HostOut(BaseModel):
    cpu_percent: float
    cpu_count: int | None
    memory: MemoryOut
    disk: DiskOut


class ProcessOut(BaseModel):
    pid: int
    rss_bytes: int
    uptime_seconds: float


class SystemOut(BaseModel):
    host: HostOut
    process: ProcessOut
    # The per-tenant figures are already exactly the JSON shape; pydantic serialises the
    # dataclass as it is.
    requests: RequestFigures

    @classmethod
    def of(cls, figures) -> "SystemOut":
        host = figures.host
        return cls(
            host=HostOut(
                cpu_percent=host.cpu_percent, cpu_count=host.cpu_count,
                memory=MemoryOut(total_bytes=host.memory_total_bytes,
                                 used_bytes=host.memory_used_bytes,
                                 percent=host.memory_percent),
                disk=DiskOut(path=host.disk_path, total_bytes=host.disk_total_bytes,
                             used_bytes=host.disk_used_bytes, free_bytes=host.disk_free_bytes,
                             percent=host.disk_percent),
            ),
            process=ProcessOut(pid=host.process_pid, rss_bytes=host.process_rss_bytes,
                               uptime_seconds=host.process_uptime_seconds),
            requests=figures.requests,
        )
