from flask import Blueprint

bp = Blueprint("correlation", __name__, url_prefix="/correlation")
api = Blueprint("correlation_api", __name__, url_prefix="/api/correlation")
