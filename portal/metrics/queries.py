"""Reads behind /metrics and /api/metrics: the tenant's own fills and trade counts.

Everything runs on the request's tenant-bound session; the figures made from these reads
(portal.metrics.services) are computed on request and never cached across requests, so there
is no cache to leak between tenants.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from portal.metrics import analytics
from portal.tenancy import session
from portal.trades.models import STATUSES, Fill, Trade


def executions() -> list[analytics.Execution]:
    """The fills of the tenant's filled trades, oldest first.

    A filled trade without fill rows counts as one fill at its own fill price, so the figures
    do not depend on how the order path records executions.
    """
    rows = session.execute(
        select(
            Trade.id, Trade.symbol, Trade.side, Trade.quantity, Trade.fill_price, Trade.fee,
            Trade.filled_at, Trade.created_at,
            Fill.quantity, Fill.price, Fill.fee, Fill.executed_at,
        )
        .outerjoin(Trade.fills)
        .where(Trade.status == "filled")
    )
    found = []
    for (trade_id, symbol, side, quantity, fill_price, fee, filled_at, created_at,
         fill_quantity, price, fill_fee, executed_at) in rows:
        if fill_quantity is None:
            if fill_price is None:
                continue
            fill_quantity, price, fill_fee = quantity, fill_price, fee
            executed_at = filled_at or created_at
        found.append((executed_at, created_at, trade_id.hex, analytics.Execution(
            trade_id, symbol, side, fill_quantity, price, fill_fee or Decimal(0), executed_at,
        )))
    found.sort(key=lambda item: item[:3])
    return [execution for *_key, execution in found]


def trade_counts(since: datetime | None) -> dict[str, int]:
    """Trades created since `since` (all when None) by status, every status present."""
    counts = select(Trade.status, func.count()).group_by(Trade.status)
    if since is not None:
        counts = counts.where(Trade.created_at >= since)
    by_status = dict.fromkeys(STATUSES, 0)
    by_status.update({status: count for status, count in session.execute(counts)})
    return by_status
