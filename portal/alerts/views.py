from flask import Blueprint

bp = Blueprint("alerts", __name__, url_prefix="/alerts")
api = Blueprint("alerts_api", __name__, url_prefix="/api/alerts")
