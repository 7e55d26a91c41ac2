"""Alerts: the list (filters, older pages, new alerts arriving by poll), one alert, raising
and acknowledging. Pages, their htmx fragments and the JSON share the same queries."""

import uuid

from flask import Blueprint, flash, redirect, request, url_for
from pydantic import ValidationError

from portal.alerts import queries, services
from portal.alerts.models import SEVERITIES
from portal.alerts.schemas import (
    AlertCreate,
    AlertFilters,
    AlertOut,
    AlertPageOut,
)
from portal.db import utcnow
from portal.errors import InvalidInput
from portal.forms import field_errors, valid_filters
from portal.idempotency import validate_key
from portal.openapi import documented, page_of
from portal.pagination import encode_cursor, parse_limit
from portal.permissions import require_permission
from portal.security import local_path
from portal.web import json_body, json_response, render_page, wants_fragment

bp = Blueprint("alerts", __name__, url_prefix="/alerts")
api = Blueprint("alerts_api", __name__, url_prefix="/api/alerts")


# JSON, for scripts.

@api.get("")
@documented(summary="List alerts, newest first", query=AlertFilters, paginated=True,
            responses={200: page_of(AlertOut)})
@require_permission("view_alerts")
def list_alerts():
    filters = AlertFilters.from_args(request.args)
    page = queries.list_alerts(
        filters, parse_limit(request.args.get("limit")), request.args.get("cursor"), final=True
    )
    return json_response(AlertPageOut.json(page))


@api.post("")
@documented(summary="Raise an alert", body=AlertCreate, idempotent=True,
            responses={201: AlertOut})
@require_permission("create_alerts")
def create_alert():
    data = AlertCreate.model_validate(
        json_body("title, severity, message, source and tags"))
    key = validate_key(request.headers.get("Idempotency-Key"))
    outcome = services.create_alert_once(data, key)
    location = url_for("alerts_api.get_alert", alert_id=outcome.body["id"])
    return json_response(outcome.body, outcome.status, headers={"Location": location})


@api.get("/<alert_id>")
@documented(summary="One alert", responses={200: AlertOut})
@require_permission("view_alerts")
def get_alert(alert_id):
    return json_response(AlertOut.of(queries.get_alert(alert_id)))


@api.post("/<alert_id>/acknowledge")
@documented(summary="Acknowledge an alert (idempotent: the first who and when stay)",
            responses={200: AlertOut})
@require_permission("acknowledge_alerts")
def acknowledge_alert(alert_id):
    alert = services.acknowledge(queries.get_alert(alert_id))
    return json_response(AlertOut.of(alert))


# Pages and their fragments.

def _list_context(args) -> dict:
    """What the list page and its `alert_list` block show for these query arguments; a
    refused filter is shown beside its field and left out of the list."""
    filters, filter_errors = valid_filters(AlertFilters.from_args, args)
    cursor = args.get("cursor") or None
    limit = parse_limit(args.get("limit"))
    page = queries.list_alerts(filters, limit, cursor)
    query = filters.as_query()
    if args.get("limit"):
        query["limit"] = str(limit)
    if page.items:
        newest = encode_cursor(page.items[0].created_at, page.items[0].id)
    else:
        newest = encode_cursor(utcnow(), uuid.UUID(int=0))
    return {
        "filters": filters,
        "page": page,
        "cursor": cursor,
        "query": query,
        "after": newest,
        "back_url": url_for("alerts.index", cursor=cursor, **query),
        "severities": SEVERITIES,
        "filter_args": args,
        "filter_errors": filter_errors,
    }


@bp.get("")
@require_permission("view_alerts")
def index():
    context = _list_context(request.args)
    status = 400 if context["filter_errors"] else 200
    return render_page("alerts/index.html", "alert_list", status=status, **context)


@bp.post("")
@require_permission("create_alerts")
def create():
    try:
        data = AlertCreate.from_form(request.form)
    except ValidationError as exc:
        return render_page("alerts/index.html", "alert_form", status=422, form=request.form,
                           errors=field_errors(exc), **_list_context(request.args))
    alert = services.create_alert(data)
    if not wants_fragment():
        flash(f"Alert “{alert.title}” raised.", "success")
        return redirect(url_for("alerts.index"), code=303)
    response = render_page("alerts/index.html", "alert_form", created=alert,
                           **_list_context(request.args))
    # The list's poller listens for this and fetches the new alert at once.
    response.headers["HX-Trigger"] = "alerts-changed"
    return response


@bp.get("/updates")
@require_permission("view_alerts")
def updates():
    """Alerts newer than the newest one shown (`after`), as rows to put on top of the list."""
    filters = AlertFilters.from_args(request.args)
    after = request.args.get("after", "")
    if not after:
        raise InvalidInput("after: the cursor of the newest alert shown is required",
                           field="after")
    alerts = queries.alerts_after(filters, after)
    if not alerts:
        return "", 204  # htmx keeps the current poller and its rows
    query = filters.as_query()
    return render_page("alerts/_updates.html", alerts=alerts, query=query,
                       after=encode_cursor(alerts[0].created_at, alerts[0].id),
                       back_url=url_for("alerts.index", **query))


@bp.get("/<alert_id>")
@require_permission("view_alerts")
def detail(alert_id):
    alert = queries.get_alert(alert_id)
    names = queries.user_names([alert.created_by, alert.acknowledged_by])
    return render_page("alerts/detail.html", "alert_detail", alert=alert, names=names)


@bp.post("/<alert_id>/acknowledge")
@require_permission("acknowledge_alerts")
def acknowledge(alert_id):
    alert = services.acknowledge(queries.get_alert(alert_id))
    if wants_fragment():
        return render_page("alerts/_acknowledged.html", alert=alert)
    return redirect(_back(request.form.get("next"), alert), code=303)


def _back(target: str | None, alert) -> str:
    """Where a plain form returns to: the page it came from, if that is one of ours."""
    return local_path(target) or url_for("alerts.detail", alert_id=alert.id)
