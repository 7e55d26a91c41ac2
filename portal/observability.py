"""Request metrics: Prometheus series for operators, per-tenant figures for each tenant.

Prometheus (scraped at GET /internal/metrics with `Authorization: Bearer <METRICS_TOKEN>`):
- `api_requests_total{method, route, status, tenant_id}`: every request the app answers
- `api_request_duration_seconds{method, route}`: a histogram of the same requests
- `api_tenant_request_duration_seconds{tenant_id}`: the same durations by tenant, and
  `api_tenant_request_duration_max_seconds{tenant_id}` the longest
- `tenant_isolation_errors_total{reason, tenant_id}`: requests refused for a tenant-context
  reason
- `api_counters_since_timestamp_seconds`: when these counters started

Labels stay bounded: `route` is the matched URL rule (a template such as `/api/alerts/<id>`,
never the raw path) or `<unmatched>`, `method` is one of the standard verbs or `OTHER`,
`reason` comes from a fixed set, and `tenant_id` is the id of the tenant the request was
verified to belong to (`g.tenant_id`, set only after the token, the tenant and the membership
checked out) or `-` — never anything the client sent, so there are at most as many values as
active tenants. The per-tenant histogram carries no route, so a tenant costs a fixed number of
series.

Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR (portal/gunicorn_conf.py
does): each worker writes its series to files there and a scrape, whichever worker answers
it, sums all of them through a MultiProcessCollector.

A tenant's own figures (/api/metrics/system, /status) are read back from a store shared by
every worker, one tenant at a time: Redis when METRICS_STORAGE_URI names one (shared by several
hosts too), otherwise the Prometheus series above — the multiprocess files under gunicorn, the
app's own registry in a single process. Either way every worker answers the same figures.
"""

import hmac
import json
import logging
import math
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
from flask import Blueprint, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.utils import floatToGoString
from werkzeug.exceptions import NotFound

from portal.permissions import public

bp = Blueprint("internal", __name__, url_prefix="/internal")
log = logging.getLogger("portal.observability")

EXTENSION = "portal_observability"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"
NO_TENANT = "-"
# Prometheus' default buckets plus 0.2 and 0.3 s, so the 250 ms latency objective sits
# between close bucket bounds instead of being interpolated over 100-250 ms.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 1.0,
                   2.5, 5.0, 7.5, 10.0, math.inf)

# Refusals that concern isolation, and only those, count in tenant_isolation_errors_total: a
# token that verifies against no key (bad signature), a signed token naming a tenant that
# does not exist (foreign tenant), a user presenting a tenant they are no member of, and a
# statement or flush that tried to leave its tenant. A signed-out visit, an expired or
# revoked token, a suspended organisation or a deactivated user is routine: logged, not
# counted.
ISOLATION_REASONS = ("bad_signature", "foreign_tenant", "no_membership", "cross_tenant_access")
_REASON_PREFIXES = (
    ("invalid token: InvalidSignatureError", "bad_signature"),
    ("unknown tenant", "foreign_tenant"),
    ("user is not a member", "no_membership"),
    ("cross-tenant access", "cross_tenant_access"),
)


def isolation_reason(reason: str) -> str | None:
    """The isolation label of a refusal reason, or None when it is not an isolation error."""
    for prefix, label in _REASON_PREFIXES:
        if reason.startswith(prefix):
            return label
    return None


def tenant_label() -> str:
    """The verified tenant of the current request, or `-`. `g.tenant_id` is set by
    portal.auth.context only once token, tenant and membership checked out."""
    tenant_id = g.get("tenant_id")
    return str(tenant_id) if tenant_id is not None else NO_TENANT


class PrometheusMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.requests = Counter(
            "api_requests_total",
            "Requests answered, by method, route template, status and verified tenant.",
            ["method", "route", "status", "tenant_id"], registry=registry,
        )
        self.duration = Histogram(
            "api_request_duration_seconds", "Time to answer a request, by method and route.",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.tenant_duration = Histogram(
            "api_tenant_request_duration_seconds",
            "Time to answer a signed-in request, by tenant (all routes).",
            ["tenant_id"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.tenant_max = Gauge(
            "api_tenant_request_duration_max_seconds",
            "Longest time to answer a signed-in request, by tenant.",
            ["tenant_id"], multiprocess_mode="max", registry=registry,
        )
        self.since = Gauge(
            "api_counters_since_timestamp_seconds",
            "Unix time the request counters started (the first worker's start).",
            multiprocess_mode="min", registry=registry,
        )
        self.since.set(time.time())
        self.isolation_errors = Counter(
            "tenant_isolation_errors_total",
            "Requests refused for a tenant-context reason (token, tenant, membership).",
            ["reason", "tenant_id"], registry=registry,
        )
        for reason in ISOLATION_REASONS:  # every series exists from the start, at 0
            self.isolation_errors.labels(reason, NO_TENANT)
        self._max_lock = threading.Lock()
        self._max_seen: dict[str, float] = {}

    def count_refusal(self, _sender, reason: str = "", **_extra) -> None:
        label = isolation_reason(reason)
        if label is not None:
            self.isolation_errors.labels(label, tenant_label()).inc()

    def observe(self, method: str, route: str, status: int, seconds: float,
                tenant: str) -> None:
        self.requests.labels(method, route, str(status), tenant).inc()
        self.duration.labels(method, route).observe(seconds)
        if tenant == NO_TENANT:
            return
        self.tenant_duration.labels(tenant).observe(seconds)
        with self._max_lock:
            if seconds > self._max_seen.get(tenant, 0.0):
                self._max_seen[tenant] = seconds
                self.tenant_max.labels(tenant).set(seconds)

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
    """One tenant's requests answered since `since`, by every worker. The percentiles are
    estimated from the latency histogram's buckets (as Prometheus' histogram_quantile does)
    and never exceed the exact maximum; `sample_size` is the number of requests they cover."""

    since: datetime
    count: int
    client_errors: int
    server_errors: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    sample_size: int


@dataclass
class Tally:
    """One tenant's raw totals, the same shape whichever store kept them. `buckets` holds
    the non-cumulative count of each LATENCY_BUCKETS bucket."""

    count: int = 0
    client_errors: int = 0
    server_errors: int = 0
    total_seconds: float = 0.0
    max_seconds: float = 0.0
    buckets: list[float] | None = None

    def figures(self, since: datetime) -> RequestFigures:
        if not self.count:
            return RequestFigures(since, 0, self.client_errors, self.server_errors,
                                  None, None, None, None, 0)
        buckets = self.buckets or [0.0] * len(LATENCY_BUCKETS)

        def quantile_ms(q: float) -> float:
            return min(bucket_quantile(q, buckets), self.max_seconds) * 1000

        return RequestFigures(
            since=since, count=self.count, client_errors=self.client_errors,
            server_errors=self.server_errors, mean_ms=self.total_seconds / self.count * 1000,
            p50_ms=quantile_ms(0.5), p95_ms=quantile_ms(0.95),
            max_ms=self.max_seconds * 1000, sample_size=int(sum(buckets)),
        )


def bucket_quantile(q: float, buckets: list[float]) -> float:
    """Prometheus' histogram_quantile over non-cumulative bucket counts: linear within the
    bucket that holds the rank; the +Inf bucket answers the highest finite bound."""
    rank = q * sum(buckets)
    seen = 0.0
    for index, (bound, in_bucket) in enumerate(zip(LATENCY_BUCKETS, buckets, strict=True)):
        if in_bucket and seen + in_bucket >= rank:
            if math.isinf(bound):
                return LATENCY_BUCKETS[-2]
            lower = LATENCY_BUCKETS[index - 1] if index else 0.0
            return lower + (bound - lower) * (rank - seen) / in_bucket
        seen += in_bucket
    return LATENCY_BUCKETS[-2]


def bucket_index(seconds: float) -> int:
    return next(i for i, bound in enumerate(LATENCY_BUCKETS) if seconds <= bound)


SINCE_SERIES = "api_counters_since_timestamp_seconds"


class PrometheusFigures:
    """Reads one tenant's figures back from the Prometheus series: the multiprocess files
    every gunicorn worker writes, or this app's registry in a single process."""

    def __init__(self, metrics: PrometheusMetrics):
        self.metrics = metrics

    def observe(self, tenant: str, status: int, seconds: float) -> None:
        """Nothing more to do: PrometheusMetrics.observe already recorded the request."""

    def settle(self) -> None:
        """Nothing to wait for: the series are written in this process as the request ends."""

    def figures(self, tenant_id: uuid.UUID) -> RequestFigures:
        tenant = str(tenant_id)
        directory = multiprocess_dir()
        samples = (_file_samples(directory, tenant) if directory
                   else _registry_samples(self.metrics.registry, tenant))
        tally = Tally(buckets=[0.0] * len(LATENCY_BUCKETS))
        bounds = {bucket_bound(bound): index for index, bound in enumerate(LATENCY_BUCKETS)}
        since = time.time()
        for name, labels, value in samples:
            if name == SINCE_SERIES:
                since = min(since, value) if value > 0 else since
            elif name == "api_requests_total":
                status = int(labels["status"])
                tally.count += int(value)
                tally.client_errors += int(value) if 400 <= status < 500 else 0
                tally.server_errors += int(value) if status >= 500 else 0
            elif name == "api_tenant_request_duration_seconds_sum":
                tally.total_seconds += value
            elif name == "api_tenant_request_duration_seconds_bucket":
                tally.buckets[bounds[labels["le"]]] += value
            elif name == "api_tenant_request_duration_max_seconds":
                tally.max_seconds = max(tally.max_seconds, value)
        return tally.figures(datetime.fromtimestamp(since, UTC))


def _registry_samples(registry: CollectorRegistry, tenant: str):
    """(sample name, labels, value) of one tenant, histogram buckets made non-cumulative."""
    for family in registry.collect():
        below = 0.0
        for sample in family.samples:
            if sample.name == SINCE_SERIES:
                yield sample.name, sample.labels, sample.value
            elif sample.labels.get("tenant_id") == tenant:
                value = sample.value
                if sample.name.endswith("_bucket"):
                    value, below = sample.value - below, sample.value
                yield sample.name, sample.labels, value


def _file_samples(directory: str, tenant: str):
    """(sample name, labels, value) of one tenant, from every worker's file. Unlike a scrape
    it decodes only the entries that name the tenant (a cheap substring test first), so a
    tenant's read stays fast however many tenants the files hold. Each file holds one
    process's values: buckets as stored (non-cumulative), summed or maxed by the caller."""
    for path in Path(directory).glob("*.db"):
        since_file = path.name.startswith("gauge_min_")
        for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
            if tenant in key or (since_file and SINCE_SERIES in key):
                _family, name, labels, *_help = json.loads(key)
                if name == SINCE_SERIES or labels.get("tenant_id") == tenant:
                    yield name, labels, value


def bucket_bound(bound: float) -> str:
    """A bucket's `le` label as prometheus_client writes it."""
    return floatToGoString(bound)


# Adds one request to a tenant's hash in a single round trip. KEYS[1] the tenant's hash;
# ARGV: status field (client_errors | server_errors | ok), seconds, bucket field.
_REDIS_OBSERVE = """
redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBYFLOAT', KEYS[1], 'sum', ARGV[2])
redis.call('HINCRBY', KEYS[1], ARGV[3], 1)
local longest = tonumber(redis.call('HGET', KEYS[1], 'max') or '0')
if tonumber(ARGV[2]) > longest then redis.call('HSET', KEYS[1], 'max', ARGV[2]) end
"""


class RedisFigures:
    """Per-tenant figures in Redis, shared by every worker on every host: one hash per
    tenant under `<prefix>:<tenant_id>`. Redis trouble never fails a request: the write is
    skipped, reads fall back to the Prometheus series, a WARNING is logged, and Redis is left
    alone for RETRY_SECONDS before the next try.

    A request's figures are sent before its response goes out, on a connection of the
    thread's own, and Redis's answer is read once the response has gone (`settle`, which the
    app calls when the response closes, and which the next write or read of this thread calls
    first in any case): the write reaches Redis before the client has its answer, and the
    worker does not wait for the round trip in between."""

    RETRY_SECONDS = 30.0

    def __init__(self, url: str, prefix: str, fallback: PrometheusFigures):
        import redis

        self._errors = redis.RedisError
        self.client = redis.Redis.from_url(url, socket_timeout=0.5,
                                           socket_connect_timeout=0.5)
        self.prefix = prefix
        self.fallback = fallback
        self._local = threading.local()
        self._retry_at = 0.0
        self._call(lambda: self.client.set(f"{prefix}:since", time.time(), nx=True))

    def _call(self, action, *, even_while_away: bool = False):
        if not even_while_away and time.monotonic() < self._retry_at:
            return None
        try:
            return action()
        except self._errors as exc:
            self._retry_at = time.monotonic() + self.RETRY_SECONDS
            log.warning("per-tenant request figures: Redis unavailable (%s); using this "
                        "host's Prometheus figures for %.0f s", exc, self.RETRY_SECONDS)
            return None

    def observe(self, tenant: str, status: int, seconds: float) -> None:
        kind = ("server_errors" if status >= 500
                else "client_errors" if status >= 400 else "ok")
        bucket = f"le:{bucket_bound(LATENCY_BUCKETS[bucket_index(seconds)])}"
        self._call(lambda: self._send([f"{self.prefix}:{tenant}"],
                                      [kind, repr(seconds), bucket]))

    def _send(self, keys: list, args: list) -> None:
        self.settle()
        connection = self._connection()
        try:
            # The script itself rather than its hash: a Redis that restarted or flushed its
            # scripts still applies this request's figures at once (it caches the compiled
            # script by hash either way).
            connection.send_command("EVAL", _REDIS_OBSERVE, len(keys), *keys, *args)
        except BaseException:
            connection.disconnect()
            raise
        self._local.unsettled = True

    def settle(self) -> None:
        """Read Redis's answer to this thread's last figures."""
        if not getattr(self._local, "unsettled", False):
            return
        self._local.unsettled = False
        self._call(self._read_answer, even_while_away=True)

    def _read_answer(self) -> None:
        connection = self._connection()
        try:
            connection.read_response()
        except BaseException:
            connection.disconnect()
            raise

    def _connection(self):
        """This thread's own connection (made in this process: never one a fork inherited)."""
        held = getattr(self._local, "connection", None)
        if held is None or held[0] != os.getpid():
            held = self._local.connection = (os.getpid(),
                                             self.client.connection_pool.make_connection())
        return held[1]

    def figures(self, tenant_id: uuid.UUID) -> RequestFigures:
        self.settle()
        read = self._call(lambda: (self.client.get(f"{self.prefix}:since"),
                                   self.client.hgetall(f"{self.prefix}:{tenant_id}")))
        if read is None:
            return self.fallback.figures(tenant_id)
        since, stored = read
        fields = {key.decode(): float(value) for key, value in stored.items()}
        tally = Tally(
            count=int(fields.get("count", 0)),
            client_errors=int(fields.get("client_errors", 0)),
            server_errors=int(fields.get("server_errors", 0)),
            total_seconds=fields.get("sum", 0.0), max_seconds=fields.get("max", 0.0),
            buckets=[fields.get(f"le:{bucket_bound(bound)}", 0.0) for bound in LATENCY_BUCKETS],
        )
        started = float(since) if since is not None else time.time()
        return tally.figures(datetime.fromtimestamp(started, UTC))


def figures_store(app, metrics: PrometheusMetrics):
    from_prometheus = PrometheusFigures(metrics)
    url = app.config.get("METRICS_STORAGE_URI") or ""
    if url.split("://", 1)[0] in {"redis", "rediss", "unix"}:
        return RedisFigures(url, app.config.get("METRICS_REDIS_PREFIX", "portal:tenant-requests"),
                            from_prometheus)
    return from_prometheus


def tenant_requests(tenant_id: uuid.UUID) -> RequestFigures:
    return current_app.extensions[EXTENSION]["tenants"].figures(tenant_id)


_process: psutil.Process | None = None


def current_process() -> psutil.Process:
    """This worker's process (re-created after a fork, so the pid is never the master's)."""
    global _process
    if _process is None or _process.pid != os.getpid():
        _process = psutil.Process()
    return _process


# --- host figures --------------------------------------------------------------------------


@dataclass(frozen=True)
class HostFigures:
    """The host and this worker process, as operators read them beside the tenant's own
    request figures (nothing in here belongs to a tenant)."""

    cpu_percent: float
    cpu_count: int | None
    memory_total_bytes: int
    memory_used_bytes: int
    memory_percent: float
    disk_path: str
    disk_total_bytes: int
    disk_used_bytes: int
    disk_free_bytes: int
    disk_percent: float
    process_pid: int
    process_rss_bytes: int
    process_uptime_seconds: float


def host_figures() -> HostFigures:
    """CPU (since the previous reading in this process), memory, the disk that holds the
    instance folder, and this worker's pid, memory and uptime."""
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(current_app.instance_path)
    process = current_process()
    return HostFigures(
        cpu_percent=psutil.cpu_percent(interval=None),
        cpu_count=psutil.cpu_count(),
        memory_total_bytes=memory.total, memory_used_bytes=memory.used,
        memory_percent=memory.percent,
        disk_path="instance", disk_total_bytes=disk.total, disk_used_bytes=disk.used,
        disk_free_bytes=disk.free, disk_percent=disk.percent,
        process_pid=os.getpid(), process_rss_bytes=process.memory_info().rss,
        process_uptime_seconds=max(time.time() - process.create_time(), 0.0),
    )


# --- wiring --------------------------------------------------------------------------------


def init_app(app) -> None:
    from portal.tenancy import tenant_refused

    metrics = PrometheusMetrics(CollectorRegistry(auto_describe=True))
    tenants = figures_store(app, metrics)
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
        tenant = tenant_label()
        metrics.observe(method, route, response.status_code, seconds, tenant)
        if tenant != NO_TENANT:
            tenants.observe(tenant, response.status_code, seconds)
            response.call_on_close(tenants.settle)
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
