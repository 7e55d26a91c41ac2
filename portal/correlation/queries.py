"""Reads for correlation: the tenant's holdings and the shared daily closes."""

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from portal.market import queries as market
from portal.market.models import Price
from portal.tenancy import session
from portal.trades.models import Trade


def holdings() -> dict[str, Decimal]:
    """Net quantity per symbol of the tenant's filled trades, long positions only, by symbol.

    Summed in Python: SQLite keeps Money as text, and SUM over text would go through floats.
    """
    net: dict[str, Decimal] = {}
    rows = session.execute(
        select(Trade.symbol, Trade.side, Trade.quantity).where(Trade.status == "filled")
    )
    for symbol, side, quantity in rows:
        net[symbol] = net.get(symbol, Decimal(0)) + (quantity if side == "buy" else -quantity)
    return {symbol: net[symbol] for symbol in sorted(net) if net[symbol] > 0}


def unknown_symbols(symbols: list[str]) -> list[str]:
    known = market.known_symbols(session)
    return [symbol for symbol in symbols if symbol not in known]


def price_version(symbols: list[str]) -> tuple[date | None, int]:
    """Newest close date and number of closes: changes whenever closes are added."""
    newest, count = session.execute(
        select(func.max(Price.day), func.count()).where(Price.symbol.in_(symbols))
    ).one()
    return newest, count


def close_history(symbols: list[str]) -> dict[str, dict[date, Decimal]]:
    return market.close_history(session, symbols)


def latest_closes(symbols: list[str]) -> dict[str, Decimal]:
    return market.latest_closes(session, symbols)


def instrument_symbols() -> list[str]:
    return sorted(market.known_symbols(session))
