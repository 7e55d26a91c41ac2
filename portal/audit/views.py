from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/audit")
api = Blueprint("audit_api", __name__, url_prefix="/api/audit")
