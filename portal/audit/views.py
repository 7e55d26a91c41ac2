from flask import Blueprint, request

from portal.audit import queries
from portal.audit.schemas import AuditFilter, AuditPageOut, AuditRecordOut
from portal.forms import valid_filters
from portal.openapi import documented, page_of
from portal.pagination import parse_limit
from portal.permissions import require_permission
from portal.web import json_response, render_page

bp = Blueprint("audit", __name__, url_prefix="/audit")
api = Blueprint("audit_api", __name__, url_prefix="/api/audit")


def _requested_page(filters: AuditFilter):
    args = request.args
    return queries.audit_page(filters, parse_limit(args.get("limit")), args.get("cursor") or None)


@api.get("")
@documented(summary="The organisation's audit log, newest first", query=AuditFilter,
            paginated=True, responses={200: page_of(AuditRecordOut)})
@require_permission("view_audit_logs")
def list_records():
    return json_response(AuditPageOut.json(_requested_page(AuditFilter.from_args(request.args))))


@bp.get("")
@require_permission("view_audit_logs")
def page():
    filters, errors = valid_filters(AuditFilter.from_args, request.args)
    return render_page(
        "audit/index.html", "records", status=400 if errors else 200,
        page=_requested_page(filters), filters=filters, form=request.args, errors=errors,
        actions=queries.recorded_actions(),
    )
