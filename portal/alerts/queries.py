"""Reads of the signed-in tenant's alerts; the page, its fragments and the JSON share them."""

import uuid
from functools import cache

from sqlalchemy import Select, and_, bindparam, func, or_, select

from portal.alerts.models import Alert
from portal.alerts.schemas import AlertFilters
from portal.auth.models import Membership, User
from portal.db import public_columns
from portal.errors import InvalidCursor
from portal.pagination import MAX_LIMIT, Page, decode_cursor, paginate
from portal.tenancy import get_or_404, session
from portal.times import range_params, within_bound


def _filtered(filters: AlertFilters) -> tuple[Select, dict]:
    """The statement for these filters' shape, and its parameters' values."""
    params = {name: value for name in ("severity", "source")
              if (value := getattr(filters, name)) is not None}
    params.update(range_params(filters))
    return _statement(frozenset(params), filters.acknowledged), params


@cache
def _statement(names: frozenset[str], acknowledged: bool | None) -> Select:
    """Built once per shape (which filters are set): values travel as bound parameters."""
    # Plain rows: list pages only read them, so no ORM objects or identity map.
    stmt = select(*public_columns(Alert))
    if "severity" in names:
        stmt = stmt.where(Alert.severity == bindparam("severity"))
    if acknowledged is True:
        stmt = stmt.where(Alert.acknowledged_at.is_not(None))
    elif acknowledged is False:
        stmt = stmt.where(Alert.acknowledged_at.is_(None))
    if "source" in names:
        stmt = stmt.where(Alert.source == bindparam("source"))
    return within_bound(stmt, Alert.created_at, names)


def list_alerts(filters: AlertFilters, limit: int, cursor: str | None, *,
                final: bool = False) -> Page:
    """One page of matching alerts, newest first. `final`: the request reads nothing more
    (pagination.paginate)."""
    stmt, params = _filtered(filters)
    return paginate(stmt, Alert, limit, cursor, params=params, final=final)


def alerts_after(filters: AlertFilters, after: str) -> list:
    """Matching alerts newer than the `after` cursor, newest first (what a poll adds on top).

    At most MAX_LIMIT, the ones right after the cursor, so the next poll carries on from there.
    """
    try:
        created_at, row_id = decode_cursor(after)
    except InvalidCursor:
        raise InvalidCursor("after")
    stmt, params = _filtered(filters)
    stmt = (
        stmt.where(or_(Alert.created_at > created_at,
                   and_(Alert.created_at == created_at, Alert.id > row_id)))
        .order_by(Alert.created_at.asc(), Alert.id.asc())
        .limit(MAX_LIMIT)
    )
    return list(reversed(session.execute(stmt, params).all()))


def open_alert_count() -> int:
    return session.scalar(
        select(func.count()).select_from(Alert).where(Alert.acknowledged_at.is_(None))
    )


def get_alert(raw_id) -> Alert:
    return get_or_404(Alert, raw_id)


def user_names(ids) -> dict[uuid.UUID, str]:
    """Display names for the people an alert mentions (its creator, who acknowledged it).

    Only members of this tenant: users are a shared table, and the join through the
    tenant-scoped memberships keeps anyone else's name out.
    """
    wanted = {user_id for user_id in ids if user_id is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(User.id, User.display_name, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id.in_(wanted))
    )
    return {row.id: row.display_name or row.email for row in rows}
