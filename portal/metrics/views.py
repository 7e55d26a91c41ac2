from functools import cached_property

from flask import Blueprint, request

from portal.errors import RiskUnavailable
from portal.forms import valid_filters
from portal.metrics import analytics, charts, queries, schemas, services
from portal.openapi import documented
from portal.permissions import require_permission
from portal.web import json_response, render_page

bp = Blueprint("metrics", __name__, url_prefix="/metrics")
api = Blueprint("metrics_api", __name__, url_prefix="/api/metrics")

PAGE = "metrics/index.html"


class Overview:
    """Everything the /metrics page can show, each part computed only when a template block
    reads it, so an htmx swap of one block pays for that block alone."""

    def __init__(self, window: str, lookback_days: int):
        self.window = window
        self.lookback_days = lookback_days

    @cached_property
    def executions(self) -> list[analytics.Execution]:
        return queries.executions()

    @cached_property
    def ledger(self) -> analytics.Ledger:
        return services.ledger(self.executions)

    @cached_property
    def portfolio(self) -> services.Portfolio:
        return services.portfolio(self.ledger)

    @cached_property
    def trading(self) -> services.TradingFigures:
        return services.trading(self.window, history=self.executions)

    @cached_property
    def risk_outcome(self) -> tuple[services.Risk | None, str | None]:
        try:
            return services.risk(self.lookback_days, self.ledger), None
        except RiskUnavailable as exc:
            return None, exc.message

    @property
    def risk(self) -> services.Risk | None:
        return self.risk_outcome[0]

    @property
    def risk_problem(self) -> str | None:
        """Why there are no risk figures (no positions, too little history)."""
        return self.risk_outcome[1]

    @cached_property
    def equity_chart(self) -> charts.LineChart | None:
        if self.risk is None:
            return None
        series = self.risk.series
        return charts.line_chart(
            "Value of current holdings", series.days, [float(v) for v in series.values],
            lambda v: f"{v:,.0f}",
        )

    @cached_property
    def drawdown_chart(self) -> charts.LineChart | None:
        if self.risk is None:
            return None
        series = self.risk.series
        falls = analytics.drawdowns([float(v) for v in series.values])
        return charts.line_chart(
            "Drawdown from running peak", series.days, [-float(d) for d in falls],
            lambda v: f"{round(v, 3) + 0.0:.1%}", fill_to=0.0,  # + 0.0: no "-0.0%"
        )


def _page(block: str):
    """The whole /metrics page, or for an htmx swap only `block`; both read the same
    `Overview`, which computes only what the rendered blocks use. A refused picker value is
    shown beside its picker (400) and the default used instead."""
    query, errors = valid_filters(schemas.OverviewQuery.from_args, request.args)
    overview = Overview(query.window, query.lookback_days)
    return render_page(PAGE, block, status=400 if errors else 200, view=overview, errors=errors)


@bp.get("")
@require_permission("view_metrics")
def overview():
    return _page("trading")


@bp.get("/portfolio")
@require_permission("view_metrics")
@require_permission("view_portfolio")
def portfolio_page():
    return _page("portfolio")


@bp.get("/risk")
@require_permission("view_metrics")
def risk_page():
    return _page("risk")


@api.get("/portfolio")
@documented(summary="Positions and totals from the filled trades",
            responses={200: schemas.PortfolioOut})
@require_permission("view_portfolio")
def portfolio():
    return json_response(schemas.PortfolioOut.of(services.portfolio()))


@api.get("/trading")
@documented(summary="Trading figures over a window", query=schemas.TradingQuery,
            blank_query_is_absent=False, responses={200: schemas.TradingOut})
@require_permission("view_metrics")
def trading():
    query = schemas.TradingQuery.from_args(request.args)
    return json_response(schemas.TradingOut.of(services.trading(query.window)))


@api.get("/risk")
@documented(summary="Risk figures of the current holdings", query=schemas.RiskQuery,
            blank_query_is_absent=False, errors=(422,), responses={200: schemas.RiskOut})
@require_permission("view_metrics")
def risk():
    query = schemas.RiskQuery.from_args(request.args)
    return json_response(schemas.RiskOut.of(services.risk(query.lookback_days)))


@api.get("/system")
@documented(summary="Host, process and this organisation's request figures",
            responses={200: schemas.SystemOut})
@require_permission("view_system")
def system():
    return json_response(schemas.SystemOut.of(services.system()))
