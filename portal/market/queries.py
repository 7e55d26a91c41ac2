"""Reads of the shared market data: instruments and daily closes."""

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.market.models import Instrument, Price


def known_symbols(db: Session) -> set[str]:
    return set(db.scalars(select(Instrument.symbol)))


def latest_close(db: Session, symbol: str) -> tuple[date, Decimal] | None:
    row = db.execute(
        select(Price.day, Price.close).where(Price.symbol == symbol)
        .order_by(Price.day.desc()).limit(1)
    ).first()
    return (row.day, row.close) if row else None


def latest_closes(db: Session, symbols: list[str] | None = None) -> dict[str, Decimal]:
    """The newest close of each symbol (all symbols when `symbols` is None)."""
    newest = select(Price.symbol, func.max(Price.day).label("day")).group_by(Price.symbol)
    if symbols is not None:
        newest = newest.where(Price.symbol.in_(symbols))
    newest = newest.subquery()
    rows = db.execute(
        select(Price.symbol, Price.close).join(
            newest, (Price.symbol == newest.c.symbol) & (Price.day == newest.c.day)
        )
    )
    return {symbol: close for symbol, close in rows}


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
