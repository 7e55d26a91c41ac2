"""What the dashboard and the status page show, gathered from each area's own services: the
system package reads no other area's tables and holds no request state of its own."""

from dataclasses import dataclass, field

from portal import __version__, observability
from portal.alerts import services as alerts
from portal.metrics import services as metrics
from portal.system import queries
from portal.trades import services as trades


@dataclass(frozen=True)
class Visitor:
    """Who is asking: the signed-in membership, as portal.auth bound it to the request."""

    tenant: object  # portal.auth.models.Tenant
    user: object  # portal.auth.models.User
    role: str
    permissions: frozenset[str]


@dataclass(frozen=True)
class TenantFacts:
    name: str
    slug: str
    plan: str


@dataclass(frozen=True)
class UserFacts:
    id: str
    email: str
    name: str


@dataclass(frozen=True)
class Status:
    tenant: TenantFacts
    user: UserFacts
    role: str
    permissions: list[str]
    open_alerts: int
    pending_orders: int
    version: str
    database: str


@dataclass(frozen=True)
class Dashboard:
    """The status summary plus, for each area the visitor may see, a few of its figures."""

    summary: Status
    portfolio: metrics.PortfolioTotals | None = None
    open_alerts: list = field(default_factory=list)
    recent_trades: list = field(default_factory=list)


def status(visitor: Visitor) -> Status:
    tenant, user = visitor.tenant, visitor.user
    return Status(
        tenant=TenantFacts(tenant.name, tenant.slug, tenant.plan),
        user=UserFacts(str(user.id), user.email, user.display_name),
        role=visitor.role,
        permissions=sorted(visitor.permissions),
        open_alerts=alerts.open_alert_count(),
        pending_orders=trades.pending_order_count(),
        version=__version__,
        database=queries.database_backend(),
    )


def dashboard(visitor: Visitor) -> Dashboard:
    allowed = visitor.permissions
    return Dashboard(
        summary=status(visitor),
        portfolio=metrics.portfolio().totals if "view_portfolio" in allowed else None,
        open_alerts=alerts.newest_open_alerts(5) if "view_alerts" in allowed else [],
        recent_trades=trades.newest_trades(5) if "view_trades" in allowed else [],
    )


def open_alert_count() -> int:
    return alerts.open_alert_count()


def request_figures() -> observability.RequestFigures:
    """The signed-in tenant's own request figures, the same from every worker."""
    return metrics.request_figures()


def host_figures() -> observability.HostFigures:
    """Host and worker-process figures for operators (view_system), shown on /status rather
    than beside a trader's metrics."""
    return observability.host_figures()


def database_ready() -> bool:
    return queries.database_ready()
