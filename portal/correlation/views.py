from flask import Blueprint, request
from pydantic import ValidationError

from portal.auth.permissions import require_permission
from portal.correlation import queries, services
from portal.correlation.schemas import (
    LOOKBACK_CHOICES,
    AnalysisOut,
    AnalysisQuery,
    MatrixOut,
    MatrixQuery,
)
from portal.errors import InvalidInput
from portal.forms import validation_message
from portal.openapi import documented
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
    result, error = None, None
    try:
        result = services.correlation_analysis(AnalysisQuery.from_args(request.args))
    except ValidationError as exc:
        error = validation_message(exc)[1]
    except InvalidInput as exc:
        error = exc.message
    # Errors are part of the answer here (shown beside the form), so the status stays 200 and
    # htmx swaps them in like any result.
    return render_page(
        "correlation/index.html", "results", result=result, error=error, form=request.args,
        lookback_choices=LOOKBACK_CHOICES, instruments=queries.instrument_symbols(),
    )


@bp.app_template_filter("heat_colour")
def heat_colour(value: float) -> str:
    """Diverging scale: blue at -1, white at 0, red at +1 (ColorBrewer RdBu ends)."""
    end = (178, 24, 43) if value >= 0 else (33, 102, 172)
    weight = min(abs(value), 1.0)
    r, g, b = (round(255 + (channel - 255) * weight) for channel in end)
    return f"rgb({r}, {g}, {b})"
