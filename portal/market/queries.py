"""Reads of the shared market data: instruments and daily closes.

Closes are shared by every tenant, so one in-process cache of them (numpy columns per
symbol) serves all tenants. It is only used while the `prices` data version it was read at
is current: every write to `prices`, by any process or command, raises that version in the
same transaction (portal.market.services), and each use checks it with one primary-key read.
"""

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
from sqlalchemy import Float, cast, func, select
from sqlalchemy.orm import Session

from portal.market.models import DataVersion, Instrument, Price

PRICES = "prices"


def known_symbols(db: Session) -> set[str]:
    return set(db.scalars(select(Instrument.symbol)))


def tradable_symbols(db: Session) -> list[str]:
    return list(db.scalars(select(Instrument.symbol).order_by(Instrument.symbol)))


def instrument_exists(db: Session, symbol: str) -> bool:
    return db.get(Instrument, symbol) is not None


def latest_close(db: Session, symbol: str) -> tuple[date, Decimal] | None:
    row = db.execute(
        select(Price.day, Price.close).where(Price.symbol == symbol)
        .order_by(Price.day.desc()).limit(1)
    ).first()
    return (row.day, row.close) if row else None


def latest_quotes(db: Session, symbols: list[str] | None = None
                  ) -> dict[str, tuple[date, Decimal]]:
    """The day and close of each symbol's newest close (all symbols when `symbols` is None)."""
    newest = select(Price.symbol, func.max(Price.day).label("day")).group_by(Price.symbol)
    if symbols is not None:
        newest = newest.where(Price.symbol.in_(symbols))
    newest = newest.subquery()
    rows = db.execute(
        select(Price.symbol, Price.day, Price.close).join(
            newest, (Price.symbol == newest.c.symbol) & (Price.day == newest.c.day)
        )
    )
    return {symbol: (day, close) for symbol, day, close in rows}


def latest_closes(db: Session, symbols: list[str] | None = None) -> dict[str, Decimal]:
    """The newest close of each symbol (all symbols when `symbols` is None)."""
    return {symbol: close for symbol, (_day, close) in latest_quotes(db, symbols).items()}


def close_history(db: Session, symbols: list[str], since: date | None = None
                  ) -> dict[str, dict[date, Decimal]]:
    """Daily closes per symbol, oldest first."""
    stmt = select(Price.symbol, Price.day, Price.close).where(Price.symbol.in_(symbols))
    if since is not None:
        stmt = stmt.where(Price.day >= since)
    history: dict[str, dict[date, Decimal]] = {symbol: {} for symbol in symbols}
    for symbol, day, close in db.execute(stmt.order_by(Price.day)):
        history[symbol][day] = close
    return history


def prices_version(db: Session) -> int:
    """Changes whenever any close is added, changed or removed."""
    return db.scalar(select(DataVersion.version).where(DataVersion.name == PRICES)) or 0


@dataclass(frozen=True)
class CloseSeries:
    """One symbol's daily closes, oldest first, as numpy columns (read-only)."""

    days: np.ndarray  # datetime64[D], strictly increasing
    closes: np.ndarray  # float64

    @classmethod
    def of(cls, by_day: Mapping[date, Decimal | float]) -> "CloseSeries":
        days = sorted(by_day)
        return cls(np.array(days, dtype="datetime64[D]"),
                   np.array([float(by_day[day]) for day in days], dtype=float))

    def __len__(self) -> int:
        return len(self.days)


class ClosesCache:
    """Every symbol's closes read so far, valid for one prices version."""

    def __init__(self):
        self._lock = threading.Lock()
        self._version: int | None = None
        self._series: dict[str, CloseSeries] = {}

    def series(self, db: Session, symbols: Sequence[str], version: int | None = None
               ) -> dict[str, CloseSeries]:
        version = prices_version(db) if version is None else version
        with self._lock:
            # Versions only grow: a request still reading an older one (its transaction began
            # before an import) is served from the database without emptying the newer cache.
            if self._version is None or version > self._version:
                self._version, self._series = version, {}
            cached = self._series if version == self._version else {}
            found = {symbol: cached.get(symbol) for symbol in symbols}
        missing = [symbol for symbol, series in found.items() if series is None]
        if missing:
            loaded = _read_closes(db, missing)
            with self._lock:
                if version == self._version:
                    self._series.update(loaded)
            found.update(loaded)
        return found

    def clear(self, *_args, **_kwargs) -> None:
        with self._lock:
            self._version, self._series = None, {}


def _read_closes(db: Session, symbols: list[str]) -> dict[str, CloseSeries]:
    # Floats straight from the database: the statistics are floats anyway, and this skips a
    # Decimal per close.
    rows = db.execute(
        select(Price.symbol, Price.day, cast(Price.close, Float))
        .where(Price.symbol.in_(symbols)).order_by(Price.symbol, Price.day)
    ).all()
    grouped: dict[str, tuple[list, list]] = {symbol: ([], []) for symbol in symbols}
    for symbol, day, close in rows:
        days, closes = grouped[symbol]
        days.append(day)
        closes.append(close)
    series = {}
    for symbol, (days, closes) in grouped.items():
        item = CloseSeries(np.array(days, dtype="datetime64[D]"), np.array(closes, dtype=float))
        item.days.flags.writeable = item.closes.flags.writeable = False
        series[symbol] = item
    return series


closes_cache = ClosesCache()


def cached_closes(db: Session, symbols: Sequence[str], version: int | None = None
                  ) -> dict[str, CloseSeries]:
    return closes_cache.series(db, symbols, version)


def _common_days(calendars: list[np.ndarray]) -> np.ndarray:
    """The days every calendar holds. Each calendar is strictly increasing, so a day that
    appears as often as there are calendars is in all of them: one sort of them all, instead
    of an intersection (two sorts) per symbol. Symbols usually share one calendar: then no
    sort at all."""
    first = calendars[0]
    if all(len(days) == len(first) and np.array_equal(days, first) for days in calendars[1:]):
        return first
    values, counts = np.unique(np.concatenate(calendars), return_counts=True)
    return values[counts == len(calendars)]


def aligned_closes(history: Mapping[str, CloseSeries | Mapping[date, Decimal | float]],
                   symbols: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The days on which every symbol has a close (oldest first) and the closes on them,
    one column per symbol."""
    series = [item if isinstance(item, CloseSeries) else CloseSeries.of(item)
              for item in (history.get(symbol, {}) for symbol in symbols)]
    if not series:
        return np.array([], dtype="datetime64[D]"), np.empty((0, 0))
    days = _common_days([item.days for item in series])
    columns = [item.closes[np.searchsorted(item.days, days)] for item in series]
    return days, np.column_stack(columns) if columns else np.empty((len(days), 0))
