"""Reads for correlation: the shared instruments and daily closes, through the market's
queries. (The tenant's holdings come from portal.metrics.services.)"""

from decimal import Decimal

from portal.market import queries as market
from portal.tenancy import session


def unknown_symbols(symbols: list[str]) -> list[str]:
    known = market.known_symbols(session)
    return [symbol for symbol in symbols if symbol not in known]


def prices_version() -> int:
    """Changes whenever any close is added, changed or removed."""
    return market.prices_version(session)


def close_history(symbols: list[str], version: int) -> dict[str, market.CloseSeries]:
    """The symbols' closes (shared data, cached for every tenant while `version` holds)."""
    return market.cached_closes(session, symbols, version)


def latest_closes(symbols: list[str]) -> dict[str, Decimal]:
    return market.latest_closes(session, symbols)


def instrument_symbols() -> list[str]:
    return market.tradable_symbols(session)
