"""Reads for correlation: the tenant's holdings and the shared daily closes."""

from decimal import Decimal

from portal.market import queries as market
from portal.metrics import analytics
from portal.metrics.queries import executions
from portal.tenancy import session


def holdings() -> dict[str, Decimal]:
    """The tenant's long positions by symbol: the same ledger the portfolio figures use, so
    the correlation page and /metrics never disagree about what the desk holds."""
    ledger = analytics.replay(executions())
    return {h.symbol: h.quantity for h in ledger.open_holdings if h.quantity > 0}


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
    return sorted(market.known_symbols(session))
