from flask import Blueprint, request

from portal.auth.permissions import require_permission
from portal.metrics import queries, schemas
from portal.openapi import documented
from portal.web import json_response, render_page

bp = Blueprint("metrics", __name__, url_prefix="/metrics")
api = Blueprint("metrics_api", __name__, url_prefix="/api/metrics")

PAGE = "metrics/index.html"


def _page(block: str):
    """The whole /metrics page, or for an htmx swap only `block`; both read the same
    `Overview`, which computes only what the rendered blocks use."""
    query = schemas.OverviewQuery.model_validate(request.args.to_dict())
    overview = queries.Overview(query.window, query.lookback_days)
    return render_page(PAGE, block, view=overview)


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
    return json_response(schemas.as_json(schemas.PortfolioOut.model_validate(
        queries.portfolio())))


@api.get("/trading")
@documented(summary="Trading figures over a window", query=schemas.TradingQuery,
            blank_query_is_absent=False, responses={200: schemas.TradingOut})
@require_permission("view_metrics")
def trading():
    query = schemas.TradingQuery.model_validate(request.args.to_dict())
    return json_response(schemas.as_json(schemas.TradingOut.model_validate(
        queries.trading(query.window))))


@api.get("/risk")
@documented(summary="Risk figures of the current holdings", query=schemas.RiskQuery,
            blank_query_is_absent=False, errors=(422,), responses={200: schemas.RiskOut})
@require_permission("view_metrics")
def risk():
    query = schemas.RiskQuery.model_validate(request.args.to_dict())
    return json_response(schemas.as_json(schemas.RiskOut.from_risk(
        queries.risk(query.lookback_days))))


@api.get("/system")
@documented(summary="Host, process and this organisation's request figures",
            responses={200: schemas.SystemOut})
@require_permission("view_system")
def system():
    return json_response(schemas.as_json(schemas.SystemOut.from_figures(queries.system())))
