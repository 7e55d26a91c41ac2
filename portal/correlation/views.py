from flask import Blueprint, request
from pydantic import ValidationError

from portal.correlation import queries, services
from portal.correlation.schemas import (
    LOOKBACK_CHOICES,
    AnalysisOut,
    AnalysisQuery,
    MatrixOut,
    MatrixQuery,
)
from portal.errors import InvalidInput
from portal.forms import field_errors
from portal.openapi import documented
from portal.permissions import require_permission
from portal.web import json_response, render_page

bp = Blueprint("correlation", __name__, url_prefix="/correlation")
api = Blueprint("correlation_api", __name__, url_prefix="/api/correlation")


@api.get("/matrix")
@documented(summary="Correlation matrix of daily returns", query=MatrixQuery,
            responses={200: MatrixOut})
@require_permission("view_metrics")
def matrix():
    result = services.correlation_matrix(MatrixQuery.from_args(request.args))
    return json_response(MatrixOut.of(result).model_dump(mode="json"))


@api.get("/analysis")
@documented(summary="Correlation analysis: pairs, diversification, clusters",
            query=AnalysisQuery, responses={200: AnalysisOut})
@require_permission("view_metrics")
def analysis():
    result = services.correlation_analysis(AnalysisQuery.from_args(request.args))
    return json_response(AnalysisOut.of(result).model_dump(mode="json"))


@bp.get("")
@require_permission("view_metrics")
def page():
    result, errors = None, {}
    try:
        result = services.correlation_analysis(AnalysisQuery.from_args(request.args))
    except ValidationError as exc:
        errors = field_errors(exc)
    except InvalidInput as exc:
        errors = {exc.field or "symbols": exc.message}
    # A refused question is shown beside its field, in the fragment htmx swaps (a 400).
    return render_page(
        "correlation/index.html", "results", status=400 if errors else 200, result=result,
        errors=errors, form=request.args, lookback_choices=LOOKBACK_CHOICES,
        instruments=queries.instrument_symbols(),
    )


@bp.app_template_filter("heat_class")
def heat_class(value: float) -> str:
    """The heatmap cell's colour as one of eleven classes (portal.css: blue at -1, white at 0,
    red at +1), so the page needs no inline style."""
    step = round(max(-1.0, min(value, 1.0)) * 5)
    return "heat-0" if step == 0 else f"heat-{'p' if step > 0 else 'm'}{abs(step)}"
