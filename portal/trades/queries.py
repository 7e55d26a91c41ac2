"""Reads of the tenant's orders and trades. Every one runs on the tenant-bound session."""

from decimal import Decimal

from sqlalchemy import Select, func, select

from portal.db import public_columns
from portal.market import queries as market
from portal.pagination import Page, paginate
from portal.tenancy import get_or_404, session
from portal.times import within
from portal.trades.models import FINISHED_STATUSES, Trade, TradeRow
from portal.trades.schemas import TradeFilters


def _filtered(filters: TradeFilters) -> Select:
    # Plain rows: list pages only read them, so no ORM objects or identity map.
    stmt = select(*public_columns(Trade))
    if filters.symbol:
        stmt = stmt.where(Trade.symbol == filters.symbol)
    if filters.side:
        stmt = stmt.where(Trade.side == filters.side)
    if filters.status:
        stmt = stmt.where(Trade.status == filters.status)
    return within(stmt, Trade.created_at, filters)


def _page(stmt: Select, limit: int, cursor: str | None) -> Page:
    page = paginate(stmt, Trade, limit, cursor)
    return Page([TradeRow(row) for row in page.items], page.next_cursor)


def list_trades(filters: TradeFilters, limit: int, cursor: str | None) -> Page:
    return _page(_filtered(filters), limit, cursor)


def history(filters: TradeFilters, limit: int, cursor: str | None) -> Page:
    """Finished trades: filled, cancelled or rejected."""
    return _page(_filtered(filters).where(Trade.status.in_(FINISHED_STATUSES)), limit, cursor)


def pending(filters: TradeFilters, limit: int, cursor: str | None) -> Page:
    return _page(_filtered(filters).where(Trade.status == "pending"), limit, cursor)


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
