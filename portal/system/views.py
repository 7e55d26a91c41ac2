from flask import Blueprint, current_app, g

from portal import __version__
from portal.openapi import documented
from portal.permissions import public, require_permission
from portal.system import services
from portal.system.schemas import StatusOut
from portal.web import json_response, render_page

bp = Blueprint("system", __name__)
api = Blueprint("system_api", __name__, url_prefix="/api")


def _visitor() -> services.Visitor:
    """The signed-in membership portal.auth bound to this request."""
    return services.Visitor(g.tenant, g.user, g.role, g.permissions)


@bp.get("/")
def dashboard():
    return render_page("system/dashboard.html", **vars(services.dashboard(_visitor())))


@bp.get("/status")
def status_page():
    return _status("content")


@bp.get("/status/host")
@require_permission("view_system")
def host_page():
    return _status("host")


def _status(block: str):
    # Callables: only users who may see system figures (view_system) pay for reading them.
    return render_page("system/status.html", block, summary=services.status(_visitor()),
                       request_figures=services.request_figures,
                       host_figures=services.host_figures)


@bp.get("/health")
@public
def health():
    ready = services.database_ready()
    body = {"status": "ok" if ready else "unavailable", "database": "ok" if ready else "down",
            "version": __version__}
    if ready:
        return json_response(body)
    retry_after = str(current_app.config["DATABASE_RETRY_AFTER_SECONDS"])
    return json_response(body, 503, headers={"Retry-After": retry_after})


@api.get("/status")
@documented(summary="Who and where you are: organisation, user, role, open work",
            responses={200: StatusOut})
def status():
    return json_response(StatusOut.of(services.status(_visitor())))


@bp.app_context_processor
def _navigation_counts() -> dict:
    # A callable, so only pages that show the badge pay for the count.
    return {"open_alerts_count": services.open_alert_count}
