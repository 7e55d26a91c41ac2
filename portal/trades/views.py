from flask import Blueprint

bp = Blueprint("trades", __name__, url_prefix="/trades")
api = Blueprint("trades_api", __name__, url_prefix="/api/trades")
