"""Paper execution: placing, filling and cancelling orders. The only trade code that writes.

The rules:
- A market order fills at once, in full, at the instrument's latest daily close.
- A limit order rests as `pending` until the latest close crosses its limit (a buy when
  close <= limit, a sell when close >= limit) and then fills in full *at that close*, which is
  at or better than the limit: a daily close is the only price the portal knows. It is checked
  right after it is placed, after every price import and by `flask match-orders`.
- The fee is notional x `TRADE_FEE_RATE`, rounded half-up to 0.0001.
- No shorting: a sell may not exceed the filled position less what pending sells already
  reserve; otherwise 422 "insufficient position". The reservation means a resting sell can
  always fill later without taking the position below zero.
- Only a pending order can be cancelled (409 otherwise). A pending order changes state with a
  conditional UPDATE (`... WHERE status = 'pending'`), so a cancel racing a fill wins once.
"""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, DefaultContext, InvalidOperation

from flask import current_app, g
from sqlalchemy import select, update

from portal.audit import services as audit
from portal.db import new_id, utcnow
from portal.errors import InsufficientPosition, NoPrice, NotPending, UnknownSymbol
from portal.idempotency import Outcome, create_once
from portal.market.queries import latest_close, latest_closes
from portal.tenancy import lock_within_tenant, session
from portal.trades import queries
from portal.trades.models import Fill, Trade
from portal.trades.schemas import OrderRequest, TradeFilters, decimal_string, stored_answer

FEE_QUANTUM = Decimal("0.0001")
# Wide enough that a product of two stored decimals is exact before the one rounding.
_WIDE = DefaultContext.copy()
_WIDE.prec = 80
ORDER_SCOPE = "trades.create"


# Pure rules (no database): what a fill costs and when a limit is crossed.

def parse_fee_rate(raw) -> Decimal:
    try:
        rate = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError(f"TRADE_FEE_RATE {raw!r} is not a decimal number") from None
    if not rate.is_finite() or not Decimal(0) <= rate < Decimal(1):
        raise ValueError(f"TRADE_FEE_RATE {raw!r} must be at least 0 and below 1")
    return rate


def fee_for(price: Decimal, quantity: Decimal, rate: Decimal) -> Decimal:
    # A context wide enough that the product is exact before the one rounding step.
    exact = _WIDE.multiply(_WIDE.multiply(price, quantity), rate)
    return exact.quantize(FEE_QUANTUM, rounding=ROUND_HALF_UP)


def limit_crossed(side: str, limit_price: Decimal, close: Decimal) -> bool:
    return close <= limit_price if side == "buy" else close >= limit_price


def fee_rate() -> Decimal:
    return parse_fee_rate(current_app.config["TRADE_FEE_RATE"])


# Placing an order.

def place_order(order: OrderRequest, idempotency_key: str | None = None) -> Outcome:
    """Store (and when it can, fill) an order; with an idempotency key, at most once: the
    idempotency record commits with the trade (portal.idempotency.create_once). The outcome
    carries the new Trade (`created`) and the JSON answer a retry replays (`body`)."""
    return create_once(session, ORDER_SCOPE, idempotency_key, order.model_dump(mode="json"),
                       lambda: _new_order(order), stored_answer)


def _new_order(order: OrderRequest) -> Trade:
    if not queries.instrument_exists(order.symbol):
        raise UnknownSymbol(order.symbol)
    if order.side == "sell":
        # Held until commit, so two sells at once cannot both spend the same position.
        lock_within_tenant(session, f"position:{order.symbol}")
        available = max(queries.sellable_quantity(order.symbol), Decimal(0))
        if order.quantity > available:
            raise InsufficientPosition(
                f"insufficient position: {decimal_string(available)} {order.symbol} available "
                "to sell (no short selling)", field="quantity")
    quote = latest_close(session, order.symbol)
    if order.order_type == "market" and quote is None:
        raise NoPrice(f"symbol: {order.symbol} has no price yet, so a market order cannot fill",
                      field="symbol")
    now = utcnow()
    trade = Trade(
        id=new_id(), symbol=order.symbol, side=order.side, quantity=order.quantity,
        order_type=order.order_type, limit_price=order.limit_price, status="pending",
        fee=Decimal(0), created_at=now, created_by=g.user.id,
    )
    session.add(trade)
    if quote is not None and (
        order.order_type == "market" or limit_crossed(order.side, order.limit_price, quote[1])
    ):
        _fill_new_order(trade, quote[1], now)
    audit.record(session, "order.placed", target_type="trade", target_id=trade.id,
                 details=_audit_details(trade))
    if trade.order_type == "limit" and trade.status == "filled":
        audit.record(session, "order.filled", target_type="trade", target_id=trade.id,
                     details=_audit_details(trade))
    return trade


def _fill_new_order(trade: Trade, price: Decimal, at: datetime) -> None:
    fee = fee_for(price, trade.quantity, fee_rate())
    trade.status, trade.fill_price, trade.fee, trade.filled_at = "filled", price, fee, at
    trade.fills.append(Fill(price=price, quantity=trade.quantity, fee=fee, executed_at=at))


def _audit_details(trade: Trade) -> dict:
    details = {
        "symbol": trade.symbol, "side": trade.side, "quantity": decimal_string(trade.quantity),
        "order_type": trade.order_type, "status": trade.status,
    }
    if trade.limit_price is not None:
        details["limit_price"] = decimal_string(trade.limit_price)
    if trade.fill_price is not None:
        details["fill_price"] = decimal_string(trade.fill_price)
        details["fee"] = decimal_string(trade.fee)
    return details


# Changing a resting order.

def _move_pending(db, trade: Trade, **values) -> bool:
    """Apply `values` only if the order is still pending; False when someone got there first.

    The bulk UPDATE runs through the tenant-bound session, which adds the tenant filter.
    """
    result = db.execute(
        update(Trade).where(Trade.id == trade.id, Trade.status == "pending").values(**values)
    )
    return result.rowcount == 1


def cancel_order(raw_id) -> Trade:
    trade = queries.get_trade(raw_id)
    if trade.status == "pending" and _move_pending(
        session, trade, status="cancelled", cancelled_at=utcnow()
    ):
        audit.record(session, "order.cancelled", target_type="trade", target_id=trade.id,
                     details=_audit_details(trade))
        session.commit()
        return trade
    session.refresh(trade)
    status = trade.status
    session.rollback()
    raise NotPending(status)


def fill_crossed_orders(db, symbols: list[str] | None = None,
                        actor_email: str | None = None) -> list[Trade]:
    """Fill the pending limit orders of `db`'s tenant whose limit the latest close crosses.

    The caller owns the transaction (a command's tenant session scope commits it).
    """
    stmt = select(Trade).where(Trade.status == "pending", Trade.order_type == "limit")
    if symbols is not None:
        stmt = stmt.where(Trade.symbol.in_(symbols))
    orders = list(db.scalars(stmt.order_by(Trade.created_at, Trade.id)))
    if not orders:
        return []
    closes = latest_closes(db, sorted({order.symbol for order in orders}))
    rate = fee_rate()
    now = utcnow()
    filled = []
    for order in orders:
        close = closes.get(order.symbol)
        if close is None or not limit_crossed(order.side, order.limit_price, close):
            continue
        fee = fee_for(close, order.quantity, rate)
        if not _move_pending(db, order, status="filled", fill_price=close, fee=fee,
                             filled_at=now):
            continue
        db.add(Fill(trade_id=order.id, price=close, quantity=order.quantity, fee=fee,
                    executed_at=now))
        audit.record(db, "order.filled", target_type="trade", target_id=order.id,
                     details=_audit_details(order), actor_email=actor_email)
        filled.append(order)
    return filled


# What other areas (the dashboard, the status page) show of the trades.

def pending_order_count() -> int:
    return queries.pending_order_count()


def newest_trades(limit: int) -> list:
    return queries.list_trades(TradeFilters(), limit, None).items
