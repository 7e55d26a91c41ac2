"""Is /internal/metrics hidden without its token, and do its counters count what happened,
with bounded labels, the verified tenant's id and nothing a client chose, also across several
gunicorn workers?"""

import math
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from portal import observability, tenancy
from portal.auth.models import Tenant
from portal.observability import ISOLATION_REASONS, isolation_reason
from tests import live
from tests.conftest import build_app, mint_token
from tests.helpers import bearer

TOKEN = live.METRICS_TOKEN


def sample(text: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def label_values(text: str, name: str, label: str) -> set[str]:
    return {
        s.labels[label]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and label in s.labels
    }


@pytest.fixture
def metrics_app(app, database):
    # `app` has migrated and seeded the shared database; this app reads the same one.
    return build_app(database, METRICS_TOKEN=TOKEN)


def scrape(client) -> str:
    response = client.get("/internal/metrics", headers=bearer(TOKEN))
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def test_without_the_setting_the_endpoint_is_an_ordinary_404(app, database):
    hidden = build_app(database, METRICS_TOKEN=None).test_client()
    response = hidden.get("/internal/metrics", headers=bearer(TOKEN))
    unknown = hidden.get("/internal/nothing-here")
    assert response.status_code == 404
    assert response.get_data() == unknown.get_data()


@pytest.mark.parametrize("header", [
    None, "Bearer wrong-token", f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer ", TOKEN,
])
def test_a_missing_or_wrong_token_is_an_ordinary_404(metrics_app, header):
    client = metrics_app.test_client()
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/internal/metrics", headers=headers)
    assert response.status_code == 404
    assert response.get_data() == client.get("/internal/nothing-here").get_data()
    assert b"api_requests_total" not in response.get_data()


def test_the_right_token_reads_counters_that_increase(metrics_app):
    client = metrics_app.test_client()
    before = scrape(client)
    for _ in range(3):
        assert client.get("/health").status_code == 200
    after = scrape(client)
    labels = {"method": "GET", "route": "/health", "status": "200"}
    assert sample(after, "api_requests_total", **labels) == (
        sample(before, "api_requests_total", **labels) + 3)
    duration = {"method": "GET", "route": "/health"}
    assert sample(after, "api_request_duration_seconds_count", **duration) == (
        sample(before, "api_request_duration_seconds_count", **duration) + 3)
    assert sample(after, "api_request_duration_seconds_bucket", le="+Inf", **duration) == (
        sample(after, "api_request_duration_seconds_count", **duration))
    # The first scrape itself was counted by the time of the second.
    assert sample(after, "api_requests_total", method="GET", route="/internal/metrics",
                  status="200") >= 1


def test_route_labels_are_templates_and_methods_are_bounded(metrics_app):
    client = metrics_app.test_client()
    token = mint_token(metrics_app, "viewer@acme.test")
    for window in ("1d", "7d", "all"):
        client.get(f"/api/metrics/trading?window={window}",
                   headers=bearer(token))
    for index in range(3):
        client.get(f"/no/such/page/{index}")
    client.open("/health", method="BREW")
    text = scrape(client)
    routes = label_values(text, "api_requests_total", "route")
    assert "/api/metrics/trading" in routes
    assert "<unmatched>" in routes
    assert not any("window=" in route or "/no/such" in route for route in routes)
    assert sample(text, "api_requests_total", method="GET", route="<unmatched>",
                  status="404") >= 3
    assert "BREW" not in label_values(text, "api_requests_total", "method")
    # An unknown verb matches no rule: 405 under the bounded labels.
    assert sample(text, "api_requests_total", method="OTHER", route="<unmatched>",
                  status="405") >= 1


def test_only_isolation_refusals_count_as_isolation_errors(metrics_app, tenant_a, tenant_b):
    from tests.helpers import forge

    client = metrics_app.test_client()
    before = scrape(client)
    routine = [
        {},  # signed out
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Bearer " + mint_token(metrics_app, "user@initech.test", "initech")},
        {"Authorization": "Bearer " + forge(metrics_app, tenant_a.id, exp=1)},  # expired
    ]
    for headers in routine:
        assert client.get("/api/metrics/portfolio", headers=headers).status_code == 401
    assert client.get("/alerts").status_code == 302  # a signed-out page visit
    isolation = {
        "bad_signature": forge(metrics_app, tenant_a.id, key="another-key-" + "x" * 40),
        "foreign_tenant": forge(metrics_app, uuid.uuid4()),
        "no_membership": forge(metrics_app, tenant_b.id),  # trader@acme in globex
    }
    for token in isolation.values():
        response = client.get("/api/metrics/portfolio",
                              headers=bearer(token))
        assert response.status_code == 401
    after = scrape(client)

    def grew(reason):
        return (sample(after, "tenant_isolation_errors_total", reason=reason)
                - sample(before, "tenant_isolation_errors_total", reason=reason))

    assert {reason: grew(reason) for reason in ISOLATION_REASONS} == {
        "bad_signature": 1, "foreign_tenant": 1, "no_membership": 1, "cross_tenant_access": 0}
    assert label_values(after, "tenant_isolation_errors_total", "reason") == set(
        ISOLATION_REASONS)


def test_refusals_are_logged_at_warning_with_their_reason(client, caplog, browser_as):
    with caplog.at_level("WARNING"):
        client.get("/api/alerts")
        browser_as("viewer@acme.test").post("/alerts", data={"title": "x"})
        client.post("/logout")
    refusals = [record for record in caplog.records
                if record.levelname == "WARNING" and "request refused" in record.getMessage()]
    messages = " | ".join(record.getMessage() for record in refusals)
    assert "NoAuthorizationError" in messages
    assert "(403)" in messages


def test_reasons_map_to_the_fixed_set():
    assert isolation_reason("invalid token: InvalidSignatureError") == "bad_signature"
    assert isolation_reason("unknown tenant") == "foreign_tenant"
    assert isolation_reason("user is not a member of the token's tenant") == "no_membership"
    assert isolation_reason("cross-tenant access: object belongs to another tenant") == (
        "cross_tenant_access")
    for routine in ("invalid token: NoAuthorizationError", "invalid token: ExpiredSignatureError",
                    "invalid token: DecodeError", "revoked token: its session has ended",
                    "suspended tenant", "unknown or deactivated user", "anything else at all"):
        assert isolation_reason(routine) is None, routine


def forged_token(app, tenant_id: str) -> str:
    """Correctly signed, with every claim a real token has, but for a tenant that does not
    exist."""
    from types import SimpleNamespace

    from portal.auth.context import issue_token

    with app.test_request_context():
        return issue_token(SimpleNamespace(id=uuid.uuid4()),
                           SimpleNamespace(tenant_id=tenant_id, role="admin"))


def test_requests_carry_the_verified_tenant_id_and_nothing_the_client_chose(
        metrics_app, tenant_a, tenant_b):
    client = metrics_app.test_client()
    route = "/api/metrics/portfolio"
    before = scrape(client)
    chosen = str(uuid.uuid4())  # a tenant id only the client names
    tokens = {tenant_a.id: mint_token(metrics_app, "viewer@acme.test"),
              tenant_b.id: mint_token(metrics_app, "trader@globex.test")}
    for tenant_id in (tenant_a.id, tenant_b.id, tenant_a.id):  # A, B, A
        client.get(f"{route}?tenant_id={chosen}", headers={
            "Authorization": f"Bearer {tokens[tenant_id]}", "X-Tenant-ID": chosen})
    client.get(route, headers={"X-Tenant-ID": chosen})  # no token
    client.get(route, headers=bearer(forged_token(metrics_app, chosen)))
    after = scrape(client)

    def grew(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    ok = {"method": "GET", "route": route, "status": "200"}
    assert grew("api_requests_total", tenant_id=str(tenant_a.id), **ok) == 2
    assert grew("api_requests_total", tenant_id=str(tenant_b.id), **ok) == 1
    assert grew("api_requests_total", method="GET", route=route, status="401",
                tenant_id="-") == 2
    assert grew("tenant_isolation_errors_total", reason="foreign_tenant", tenant_id="-") == 1
    assert grew("api_tenant_request_duration_seconds_count", tenant_id=str(tenant_a.id)) == 2
    assert grew("api_tenant_request_duration_seconds_count", tenant_id=str(tenant_b.id)) == 1
    # Only verified tenants' ids, never a slug, a name or an id the client sent.
    with metrics_app.app_context(), tenancy.unscoped_session() as db:
        known = {str(tenant_id) for tenant_id in db.scalars(select(Tenant.id))}
    for name in ("api_requests_total", "tenant_isolation_errors_total",
                 "api_tenant_request_duration_seconds_count"):
        assert label_values(after, name, "tenant_id") <= known | {"-"}
    for needle in (chosen, "acme", "globex", "Acme Capital"):
        assert needle not in after
    assert "tenant" not in "".join(label_values(after, "api_requests_total", "route"))


def test_latency_buckets_bracket_the_250ms_objective(metrics_app):
    client = metrics_app.test_client()
    token = mint_token(metrics_app, "viewer@acme.test")
    client.get("/api/status", headers=bearer(token))
    text = scrape(client)
    for name in ("api_request_duration_seconds_bucket",
                 "api_tenant_request_duration_seconds_bucket"):
        bounds = label_values(text, name, "le")
        assert {"0.2", "0.25", "0.3"} <= bounds, name
        assert {"0.005", "0.1", "0.5", "1.0", "10.0", "+Inf"} <= bounds, name  # defaults stay


@pytest.mark.parametrize(("buckets", "q", "expected"), [
    # 10 requests, all within 0.1-0.2 s: the median is interpolated half-way.
    ({0.2: 10}, 0.5, 0.15),
    # 100 requests: 90 at most 5 ms, 10 in 0.25-0.3 s: p95 is half-way into that bucket.
    ({0.005: 90, 0.3: 10}, 0.95, 0.275),
    ({0.005: 90, 0.3: 10}, 0.5, 0.005 * 50 / 90),
    # Beyond the last finite bound Prometheus answers that bound.
    ({math.inf: 4}, 0.5, 10.0),
])
def test_bucket_quantiles_follow_prometheus_histogram_quantile(buckets, q, expected):
    counts = [float(buckets.get(bound, 0)) for bound in observability.LATENCY_BUCKETS]
    assert observability.bucket_quantile(q, counts) == pytest.approx(expected)


def test_apps_in_one_process_keep_their_own_counters(metrics_app, app, database):
    other = build_app(database, METRICS_TOKEN=TOKEN).test_client()
    before = scrape(other)
    metrics_app.test_client().get("/health")
    assert sample(scrape(other), "api_requests_total", method="GET", route="/health",
                  status="200") == sample(before, "api_requests_total", method="GET",
                                          route="/health", status="200")


# --- several gunicorn workers ----------------------------------------------------------------


def test_counters_add_up_across_gunicorn_workers(app, database, tmp_path):
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"stale")  # wiped at start
    with live.gunicorn(database, tmp_path, workers=2, multiproc=multiproc) as base:
        assert not (multiproc / "counter_999999.db").exists()
        for _ in range(20):
            assert live.http_get(f"{base}/health")[0] == 200
        # Whichever worker answers a scrape, it reports every worker's requests.
        for _ in range(6):
            status, text = live.http_get(f"{base}/internal/metrics", TOKEN)
            assert status == 200
            assert sample(text, "api_requests_total", method="GET", route="/health",
                          status="200", tenant_id="-") == 20
            assert sample(text, "api_request_duration_seconds_count", method="GET",
                          route="/health") == 20
        assert len(list(multiproc.glob("counter_*.db"))) == 2  # one file per worker
        assert live.http_get(f"{base}/internal/metrics", "wrong")[0] == 404


def test_a_view_that_strays_across_tenants_is_refused_and_counted(app, database, tenant_a):
    """The session raises when a view flushes another tenant's row; the answer is a plain 500
    (no detail) and tenant_isolation_errors_total counts it under the tenant whose request
    strayed."""
    from portal.alerts.models import Alert

    strayed = build_app(database, METRICS_TOKEN=TOKEN)

    @strayed.post("/api/stray")
    def stray():
        tenancy.session.add(Alert(tenant_id=uuid.uuid4(), title="x", severity="info"))
        tenancy.session.flush()

    client = strayed.test_client()
    before = scrape(client)
    token = mint_token(strayed, "trader@acme.test")
    response = client.post("/api/stray", headers=bearer(token))
    assert response.status_code == 500
    assert "another tenant" not in response.text
    after = scrape(client)
    labels = {"reason": "cross_tenant_access", "tenant_id": str(tenant_a.id)}
    assert (sample(after, "tenant_isolation_errors_total", **labels)
            - sample(before, "tenant_isolation_errors_total", **labels)) == 1
