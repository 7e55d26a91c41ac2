"""Loading daily closes: the demo generator and the CSV importer."""

import csv
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import numpy as np
from blinker import Namespace
from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from portal.market.models import DataVersion, Instrument, Price
from portal.market.queries import PRICES
from portal.market.schemas import SYMBOL

signals = Namespace()
# Sent after new closes are committed, so pending limit orders can be re-checked.
prices_imported = signals.signal("prices-imported")

# Name, sector, latest close (a level the stock has actually traded near), market beta, sector
# loading, idiosyncratic daily volatility. Paths are scaled to end at the latest close, so the
# demo's prices look like the real instruments' whatever the random walk did on the way.
DEMO_INSTRUMENTS = {
    "AAPL": ("Apple Inc.", "Technology", 228.0, 1.15, 1.0, 0.011),
    "MSFT": ("Microsoft Corp.", "Technology", 415.0, 1.05, 0.9, 0.010),
    "NVDA": ("NVIDIA Corp.", "Technology", 135.0, 1.60, 1.2, 0.020),
    "JPM": ("JPMorgan Chase & Co.", "Financials", 238.0, 1.10, 1.0, 0.010),
    "GS": ("Goldman Sachs Group", "Financials", 575.0, 1.25, 1.1, 0.012),
    "BAC": ("Bank of America", "Financials", 44.0, 1.20, 1.0, 0.012),
    "XOM": ("Exxon Mobil Corp.", "Energy", 118.0, 0.80, 1.3, 0.011),
    "CVX": ("Chevron Corp.", "Energy", 158.0, 0.85, 1.2, 0.011),
    "JNJ": ("Johnson & Johnson", "Health Care", 154.0, 0.55, 0.8, 0.008),
    "PFE": ("Pfizer Inc.", "Health Care", 26.0, 0.60, 0.9, 0.012),
    "KO": ("Coca-Cola Co.", "Consumer Staples", 64.0, 0.50, 0.7, 0.007),
    "PG": ("Procter & Gamble", "Consumer Staples", 168.0, 0.45, 0.7, 0.007),
}
DEMO_TRADING_DAYS = 756  # three years of weekdays


def trading_days(count: int, last: date) -> list[date]:
    days: list[date] = []
    day = last
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def demo_closes(last_day: date, seed: int = 20240101) -> dict[str, list[tuple[date, Decimal]]]:
    """Deterministic closes from a one-market, one-factor-per-sector model.

    Returns are market beta x market factor + sector loading x sector factor + noise, so
    stocks of one sector move together and every stock moves with the market: the
    correlation matrix has the block structure real equities show.
    """
    rng = np.random.default_rng(seed)
    days = trading_days(DEMO_TRADING_DAYS, last_day)
    n = len(days)
    market = rng.normal(0.0003, 0.009, n)
    sectors = sorted({spec[1] for spec in DEMO_INSTRUMENTS.values()})
    sector_factor = {sector: rng.normal(0.0, 0.007, n) for sector in sectors}
    closes = {}
    for symbol, (_name, sector, latest, beta, loading, idio) in DEMO_INSTRUMENTS.items():
        returns = beta * market + loading * sector_factor[sector] + rng.normal(0.0, idio, n)
        growth = np.cumprod(1.0 + returns)
        path = latest * growth / growth[-1]
        closes[symbol] = [
            (day, Decimal(f"{value:.2f}")) for day, value in zip(days, path, strict=True)
        ]
    return closes


def ensure_demo_market(db: Session, last_day: date) -> int:
    """Create the demo instruments and their closes once; returns rows written."""
    existing = set(db.scalars(select(Instrument.symbol)))
    written = 0
    closes = None
    for symbol, (name, sector, *_rest) in DEMO_INSTRUMENTS.items():
        if symbol in existing:
            continue
        closes = closes or demo_closes(last_day)
        db.add(Instrument(symbol=symbol, name=name, sector=sector))
        db.flush()
        db.add_all(Price(symbol=symbol, day=day, close=close) for day, close in closes[symbol])
        written += len(closes[symbol])
    return written


ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A file with hundreds of bad rows is usually one mistake repeated; show enough to see it.
SHOWN_PROBLEMS = 20


class PriceFileError(ValueError):
    """Every bad line of a price file, as (line number, what is wrong)."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        super().__init__(self.report())

    def report(self) -> str:
        lines = [f"line {line}: {message}" for line, message in self.problems[:SHOWN_PROBLEMS]]
        hidden = len(self.problems) - SHOWN_PROBLEMS
        if hidden > 0:
            lines.append(f"and {hidden} more bad {'line' if hidden == 1 else 'lines'}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ImportResult:
    rows: int
    symbols: list[str]
    new_symbols: list[str]


def _parse_day(raw: str) -> date:
    if not ISO_DAY.match(raw):
        raise ValueError(f"date {raw!r} is not YYYY-MM-DD")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"no such date {raw}") from None


def _parse_row(row: list[str]) -> tuple[date, str, Decimal]:
    """One data row, or ValueError saying what is wrong with it."""
    if len(row) != 3:
        raise ValueError(f"expected 3 fields, found {len(row)}")
    raw_day, raw_symbol, raw_close = (cell.strip() for cell in row)
    day = _parse_day(raw_day)
    symbol = raw_symbol.upper()
    if not SYMBOL.match(symbol):
        raise ValueError(f"symbol {raw_symbol!r} is not a ticker")
    try:
        close = Decimal(raw_close)
    except InvalidOperation:
        raise ValueError(f"close {raw_close!r} is not a number") from None
    if not close.is_finite() or close <= 0:
        raise ValueError(f"close {raw_close!r} must be positive")
    return day, symbol, close


def parse_price_rows(stream) -> list[tuple[date, str, Decimal]]:
    """Every row or nothing: raises PriceFileError listing every bad line."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != ["date", "symbol", "close"]:
        raise PriceFileError([(1, "the header must be exactly date,symbol,close")])
    rows = []
    problems = []
    seen = set()
    for line_number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            day, symbol, close = _parse_row(row)
        except ValueError as problem:
            problems.append((line_number, str(problem)))
            continue
        if (symbol, day) in seen:
            problems.append((line_number, f"{symbol} on {day} appears twice"))
            continue
        seen.add((symbol, day))
        rows.append((day, symbol, close))
    if problems:
        raise PriceFileError(problems)
    if not rows:
        raise PriceFileError([(2, "the file has no price rows")])
    return rows


def import_prices(db: Session, rows: list[tuple[date, str, Decimal]]) -> ImportResult:
    """Upsert closes; unknown symbols become instruments. The caller commits."""
    known = set(db.scalars(select(Instrument.symbol)))
    symbols = sorted({symbol for _day, symbol, _close in rows})
    new_symbols = [symbol for symbol in symbols if symbol not in known]
    for symbol in new_symbols:
        db.add(Instrument(symbol=symbol, name=symbol, sector=""))
    db.flush()
    existing = {
        (price.symbol, price.day): price
        for price in db.scalars(select(Price).where(Price.symbol.in_(symbols)))
    }
    for day, symbol, close in rows:
        price = existing.get((symbol, day))
        if price is None:
            db.add(Price(symbol=symbol, day=day, close=close))
        else:
            price.close = close
    return ImportResult(len(rows), symbols, new_symbols)


@event.listens_for(Session, "before_flush")
def _raise_prices_version(db: Session, _flush_context, _instances) -> None:
    """Any session that writes closes raises the prices version in the same transaction, so
    every process's closes cache (portal.market.queries) drops what it read before."""
    changed = (db.new, db.dirty, db.deleted)
    if not any(isinstance(obj, Price) for objects in changed for obj in objects):
        return
    raised = db.execute(update(DataVersion).where(DataVersion.name == PRICES)
                        .values(version=DataVersion.version + 1))
    if raised.rowcount == 0:
        db.execute(insert(DataVersion).values(name=PRICES, version=1))
