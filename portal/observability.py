"""Prometheus metrics at /internal/metrics (filled in by the metrics issue)."""

from flask import Blueprint

bp = Blueprint("internal", __name__, url_prefix="/internal")


def init_app(app) -> None:
    """Hook request counting into the app (not yet implemented)."""
