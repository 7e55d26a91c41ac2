"""Reads of the tenant's orders and trades. Every one runs on the tenant-bound session."""

from decimal import Decimal
from functools import cache

from sqlalchemy import Select, bindparam, func, select

from portal.db import public_columns
from portal.market import queries as market
from portal.pagination import Page, paginate
from portal.tenancy import get_or_404, session
from portal.times import range_params, within_bound
from portal.trades.models import FINISHED_STATUSES, Trade, TradeRow
from portal.trades.schemas import TradeFilters


def _page(filters: TradeFilters, scope: str, limit: int, cursor: str | None,
          final: bool) -> Page:
    params = {name: value for name in ("symbol", "side", "status")
              if (value := getattr(filters, name))}
    params.update(range_params(filters))
    return paginate(_statement(frozenset(params), scope), Trade, limit, cursor, params=params,
                    final=final)


def with_notional(page: Page) -> Page:
    """The page's trades as rows that also answer `notional`, for the pages' tables (the JSON
    lists write it from the row's values, TradeOut.json_fields)."""
    return Page([TradeRow(row) for row in page.items], page.next_cursor)


@cache
def _statement(names: frozenset[str], scope: str) -> Select:
    """Built once per shape (which filters are set, which trades): values travel as bound
    parameters."""
    # Plain rows: list pages only read them, so no ORM objects or identity map.
    stmt = select(*public_columns(Trade))
    for name in ("symbol", "side", "status"):
        if name in names:
            stmt = stmt.where(getattr(Trade, name) == bindparam(name))
    if scope == "finished":
        stmt = stmt.where(Trade.status.in_(FINISHED_STATUSES))
    elif scope == "pending":
        stmt = stmt.where(Trade.status == "pending")
    return within_bound(stmt, Trade.created_at, names)


def list_trades(filters: TradeFilters, limit: int, cursor: str | None, *,
                final: bool = False) -> Page:
    return _page(filters, "all", limit, cursor, final)


def history(filters: TradeFilters, limit: int, cursor: str | None, *,
            final: bool = False) -> Page:
    """Finished trades: filled, cancelled or rejected."""
    return _page(filters, "finished", limit, cursor, final)


def pending(filters: TradeFilters, limit: int, cursor: str | None, *,
            final: bool = False) -> Page:
    return _page(filters, "pending", limit, cursor, final)


def pending_order_count() -> int:
    return session.scalar(
        select(func.count()).select_from(Trade).where(Trade.status == "pending")
    )


def get_trade(raw_id) -> Trade:
    """One trade (its fills load on access, through the same tenant-bound session).

    Another tenant's id answers the same 404 as a random one."""
    return get_or_404(Trade, raw_id)


def tradable_symbols() -> list[str]:
    return market.tradable_symbols(session)


def instrument_exists(symbol: str) -> bool:
    return market.instrument_exists(session, symbol)


def sellable_quantity(symbol: str) -> Decimal:
    """What may still be sold: the filled position less what pending sells already reserve.

    Summed in Python: SQLite keeps Money as text, and its SUM would go through floats.
    """
    rows = session.execute(
        select(Trade.side, Trade.status, Trade.quantity).where(
            Trade.symbol == symbol,
            Trade.status.in_(("filled", "pending")),
        )
    )
    available = Decimal(0)
    for side, status, quantity in rows:
        if status == "filled":
            available += quantity if side == "buy" else -quantity
        elif side == "sell":
            available -= quantity
    return available
