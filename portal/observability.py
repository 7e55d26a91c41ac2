"""Request metrics: Prometheus series for operators, per-tenant figures for each tenant.

Prometheus (scraped at GET /internal/metrics with `Authorization: Bearer <METRICS_TOKEN>`):
- `api_requests_total{method, route, status}`: every request the app answers (pages and API)
- `api_request_duration_seconds{method, route}`: a histogram of the same requests
- `tenant_isolation_errors_total{reason}`: requests refused for a tenant-context reason

Labels carry no tenant data and stay bounded: `route` is the matched URL rule (a template
such as `/api/alerts/<id>`, never the raw path) or `<unmatched>`, `method` is one of the
standard verbs or `OTHER`, and `reason` comes from a fixed set.

Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR (portal/gunicorn_conf.py
does): each worker writes its series to files there and a scrape, whichever worker answers
it, sums all of them through a MultiProcessCollector.

The per-tenant figures behind /api/metrics/system live in an in-process store keyed by
tenant id, so a tenant can only ever read its own entry; each worker keeps its own.
"""

import hmac
import os
import statistics
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

import psutil
from flask import Blueprint, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from werkzeug.exceptions import NotFound

from portal.auth.permissions import public

bp = Blueprint("internal", __name__, url_prefix="/internal")

EXTENSION = "portal_observability"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"

# The refusal reasons portal.auth.context sends, mapped to a small fixed label set.
ISOLATION_REASONS = ("no_token", "invalid_token", "expired_token", "missing_claims",
                     "unknown_tenant", "unknown_user", "no_membership", "revoked_token",
                     "cross_tenant_access", "other")
_REASON_PREFIXES = (
    ("invalid token: NoAuthorizationError", "no_token"),
    ("invalid token: ExpiredSignatureError", "expired_token"),
    ("invalid token", "invalid_token"),
    ("token without tenant", "missing_claims"),
    ("unknown or suspended tenant", "unknown_tenant"),
    ("unknown or deactivated user", "unknown_user"),
    ("user is not a member", "no_membership"),
    ("revoked token", "revoked_token"),
    ("cross-tenant access", "cross_tenant_access"),
)


def isolation_reason(reason: str) -> str:
    for prefix, label in _REASON_PREFIXES:
        if reason.startswith(prefix):
            return label
    return "other"


class PrometheusMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.requests = Counter(
            "api_requests_total", "Requests answered, by method, route template and status.",
            ["method", "route", "status"], registry=registry,
        )
        self.duration = Histogram(
            "api_request_duration_seconds", "Time to answer a request, by method and route.",
            ["method", "route"], registry=registry,
        )
        self.isolation_errors = Counter(
            "tenant_isolation_errors_total",
            "Requests refused for a tenant-context reason (token, tenant, membership).",
            ["reason"], registry=registry,
        )
        for reason in ISOLATION_REASONS:  # every series exists from the start, at 0
            self.isolation_errors.labels(reason)

    def count_refusal(self, _sender, reason: str = "", **_extra) -> None:
        self.isolation_errors.labels(isolation_reason(reason)).inc()

    def scrape(self) -> bytes:
        if multiprocess_dir():
            registry = CollectorRegistry()
            prometheus_multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# --- per-tenant request figures ------------------------------------------------------------


@dataclass(frozen=True)
class RequestFigures:
    """One tenant's requests answered by this process since `since`; latency percentiles
    over the most recent `sample_size` of them."""

    since: datetime
    count: int
    client_errors: int
    server_errors: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    sample_size: int


class _TenantRequests:
    RECENT = 2048

    def __init__(self):
        self.count = 0
        self.client_errors = 0
        self.server_errors = 0
        self.total_seconds = 0.0
        self.recent: deque[float] = deque(maxlen=self.RECENT)


class TenantRequestStore:
    """Request counts and latencies keyed by tenant id; read one tenant at a time."""

    def __init__(self):
        self.since = datetime.now(UTC)
        self._lock = threading.Lock()
        self._tenants: dict[uuid.UUID, _TenantRequests] = {}

    def observe(self, tenant_id: uuid.UUID, status: int, seconds: float) -> None:
        with self._lock:
            entry = self._tenants.setdefault(tenant_id, _TenantRequests())
            entry.count += 1
            entry.client_errors += int(400 <= status < 500)
            entry.server_errors += int(status >= 500)
            entry.total_seconds += seconds
            entry.recent.append(seconds)

    def figures(self, tenant_id: uuid.UUID) -> RequestFigures:
        with self._lock:
            entry = self._tenants.get(tenant_id) or _TenantRequests()
            count, total = entry.count, entry.total_seconds
            client_errors, server_errors = entry.client_errors, entry.server_errors
            recent = sorted(entry.recent)
        if not recent:
            return RequestFigures(self.since, count, client_errors, server_errors,
                                  None, None, None, None, 0)
        if len(recent) > 1:
            cuts = statistics.quantiles(recent, n=100, method="inclusive")
            p50, p95 = cuts[49], cuts[94]
        else:
            p50 = p95 = recent[0]
        return RequestFigures(
            since=self.since, count=count, client_errors=client_errors,
            server_errors=server_errors, mean_ms=total / count * 1000, p50_ms=p50 * 1000,
            p95_ms=p95 * 1000, max_ms=recent[-1] * 1000, sample_size=len(recent),
        )


def tenant_requests(tenant_id: uuid.UUID) -> RequestFigures:
    return current_app.extensions[EXTENSION]["tenants"].figures(tenant_id)


_process: psutil.Process | None = None


def current_process() -> psutil.Process:
    """This worker's process (re-created after a fork, so the pid is never the master's)."""
    global _process
    if _process is None or _process.pid != os.getpid():
        _process = psutil.Process()
    return _process


# --- wiring --------------------------------------------------------------------------------


def init_app(app) -> None:
    from portal.auth.context import tenant_refused

    metrics = PrometheusMetrics(CollectorRegistry(auto_describe=True))
    tenants = TenantRequestStore()
    app.extensions[EXTENSION] = {"prometheus": metrics, "tenants": tenants}
    # The bound method lives as long as the app's extension entry, which keeps blinker's
    # weak reference alive; `sender=app` keeps apps built in one process apart.
    tenant_refused.connect(metrics.count_refusal, sender=app)
    psutil.cpu_percent(interval=None)  # the first reading is meaningless; take it now

    @app.after_request
    def _observe_request(response):
        seconds = time.perf_counter() - g.get("started_at", time.perf_counter())
        method = request.method if request.method in METHODS else "OTHER"
        route = request.url_rule.rule if request.url_rule else UNMATCHED_ROUTE
        metrics.requests.labels(method, route, str(response.status_code)).inc()
        metrics.duration.labels(method, route).observe(seconds)
        tenant_id = g.get("tenant_id")
        if tenant_id is not None:
            tenants.observe(tenant_id, response.status_code, seconds)
        return response


def _token_matches(expected: str) -> bool:
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not supplied:
        return False
    return hmac.compare_digest(supplied.strip().encode(), expected.encode())


@bp.get("/metrics")
@public
def scrape():
    """Prometheus text format. Guarded by its own token, not a tenant's: without the setting
    or with a wrong token it answers the same 404 as any unknown URL, so it is not
    discoverable."""
    expected = current_app.config.get("METRICS_TOKEN")
    if not expected or not _token_matches(expected):
        raise NotFound()
    body = current_app.extensions[EXTENSION]["prometheus"].scrape()
    response = Response(body, content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response
