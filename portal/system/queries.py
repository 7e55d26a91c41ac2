"""Read-only figures about the portal itself and the signed-in tenant."""

from flask import g
from sqlalchemy import func, select

from portal import __version__, observability, tenancy
from portal.alerts.models import Alert
from portal.trades.models import Trade


def open_alert_count() -> int:
    return tenancy.session.scalar(
        select(func.count()).select_from(Alert).where(Alert.acknowledged_at.is_(None))
    )


def pending_order_count() -> int:
    return tenancy.session.scalar(
        select(func.count()).select_from(Trade).where(Trade.status == "pending")
    )


def status() -> dict:
    tenant = g.tenant
    return {
        "tenant": {"name": tenant.name, "slug": tenant.slug, "plan": tenant.plan},
        "user": {"id": str(g.user.id), "email": g.user.email, "name": g.user.display_name},
        "role": g.role,
        "permissions": sorted(g.permissions),
        "open_alerts": open_alert_count(),
        "pending_orders": pending_order_count(),
        "version": __version__,
        "database": tenancy.get_engine().dialect.name,
    }


def request_figures() -> observability.RequestFigures:
    """The signed-in tenant's own request figures, the same from every worker."""
    return observability.tenant_requests(g.tenant_id)


def database_ready() -> bool:
    return tenancy.database_reachable()


def dashboard() -> dict:
    """What the dashboard shows: the status summary plus, for each area the user may see,
    a few real figures from that area's own queries."""
    from portal.alerts import queries as alerts
    from portal.alerts.schemas import AlertFilters
    from portal.trades import queries as trades
    from portal.trades.schemas import TradeFilters

    summary = status()
    allowed = g.permissions
    view = {"summary": summary, "portfolio": None, "open_alerts": [], "recent_trades": []}
    if "view_alerts" in allowed:
        view["open_alerts"] = alerts.list_alerts(AlertFilters(acknowledged=False), 5, None).items
    if "view_trades" in allowed:
        view["recent_trades"] = trades.list_trades(TradeFilters(), 5, None).items
    if "view_portfolio" in allowed:
        from portal.metrics import queries as metrics

        view["portfolio"] = metrics.portfolio().totals
    return view


def host_figures():
    """Host and worker-process figures for operators (view_system), shown on /status rather
    than beside a trader's metrics."""
    from portal.metrics.queries import system

    return system()
