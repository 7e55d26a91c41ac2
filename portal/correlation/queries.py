"""Reads for correlation: the tenant's holdings and the shared daily closes."""

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from portal.market import queries as market
from portal.market.models import Price
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
