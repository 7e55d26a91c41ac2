from flask import Blueprint

bp = Blueprint("metrics", __name__, url_prefix="/metrics")
api = Blueprint("metrics_api", __name__, url_prefix="/api/metrics")
