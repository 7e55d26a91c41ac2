"""Is /internal/metrics hidden without its token, and do its counters count what happened,
with bounded labels and nothing about tenants, also across several gunicorn workers?"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from portal.observability import ISOLATION_REASONS, isolation_reason
from tests.conftest import build_app, mint_token

TOKEN = "scrape-token-for-tests"
ROOT = Path(__file__).resolve().parents[2]


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
    response = client.get("/internal/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def test_without_the_setting_the_endpoint_is_an_ordinary_404(app, database):
    hidden = build_app(database, METRICS_TOKEN=None).test_client()
    response = hidden.get("/internal/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
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
                   headers={"Authorization": f"Bearer {token}"})
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


def test_refused_requests_count_as_isolation_errors_by_a_fixed_reason(metrics_app):
    client = metrics_app.test_client()
    before = scrape(client)
    client.get("/api/metrics/portfolio")  # no token
    client.get("/api/metrics/portfolio", headers={"Authorization": "Bearer not.a.jwt"})
    suspended = mint_token(metrics_app, "user@initech.test", "initech")
    client.get("/api/metrics/portfolio", headers={"Authorization": f"Bearer {suspended}"})
    after = scrape(client)

    def grew(reason):
        return (sample(after, "tenant_isolation_errors_total", reason=reason)
                - sample(before, "tenant_isolation_errors_total", reason=reason))

    assert grew("no_token") == 1
    assert grew("invalid_token") == 1
    assert grew("unknown_tenant") == 1
    assert label_values(after, "tenant_isolation_errors_total", "reason") == set(
        ISOLATION_REASONS)


def test_reasons_map_to_the_fixed_set():
    assert isolation_reason("invalid token: ExpiredSignatureError") == "expired_token"
    assert isolation_reason("invalid token: DecodeError") == "invalid_token"
    assert isolation_reason("revoked token") == "revoked_token"
    assert isolation_reason("user is not a member of the token's tenant") == "no_membership"
    assert isolation_reason("anything else at all") == "other"


def test_the_scrape_carries_no_tenant_data(metrics_app, tenant_a, tenant_b, api_as):
    client = metrics_app.test_client()
    for email in ("viewer@acme.test", "trader@globex.test"):
        token = mint_token(metrics_app, email)
        client.get("/api/metrics/portfolio", headers={"Authorization": f"Bearer {token}"})
    text = scrape(client)
    assert "tenant" not in "".join(label_values(text, "api_requests_total", "route"))
    for needle in ("tenant_id", str(tenant_a.id), str(tenant_b.id), "acme", "globex"):
        assert needle not in text


def test_apps_in_one_process_keep_their_own_counters(metrics_app, app, database):
    other = build_app(database, METRICS_TOKEN=TOKEN).test_client()
    before = scrape(other)
    metrics_app.test_client().get("/health")
    assert sample(scrape(other), "api_requests_total", method="GET", route="/health",
                  status="200") == sample(before, "api_requests_total", method="GET",
                                          route="/health", status="200")


# --- several gunicorn workers ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_counters_add_up_across_gunicorn_workers(app, database, tmp_path):
    port = free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"stale")  # wiped at start
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": database["DATABASE_URL"],
        "PORTAL_ADMIN_DATABASE_URL": database["ADMIN_DATABASE_URL"],
        "PORTAL_METRICS_TOKEN": TOKEN,
        "PORTAL_SECRET_KEY": "gunicorn-test-secret-key-long-enough-for-hs256",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:portal.gunicorn_conf",
         "--workers", "2", "--no-control-socket", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                http_get(f"{base}/internal/metrics", TOKEN)
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
                assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
                time.sleep(0.2)
        assert not (multiproc / "counter_999999.db").exists()
        for _ in range(20):
            assert http_get(f"{base}/health")[0] == 200
        # Whichever worker answers a scrape, it reports every worker's requests.
        for _ in range(6):
            status, text = http_get(f"{base}/internal/metrics", TOKEN)
            assert status == 200
            assert sample(text, "api_requests_total", method="GET", route="/health",
                          status="200") == 20
            assert sample(text, "api_request_duration_seconds_count", method="GET",
                          route="/health") == 20
        assert len(list(multiproc.glob("counter_*.db"))) == 2  # one file per worker
        assert http_get(f"{base}/internal/metrics", "wrong")[0] == 404
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_a_view_that_strays_across_tenants_is_refused_and_counted(app, database):
    """The session raises when a view flushes another tenant's row; the answer is a plain 500
    (no detail) and tenant_isolation_errors_total counts it."""
    from portal import tenancy
    from portal.alerts.models import Alert

    strayed = build_app(database, METRICS_TOKEN=TOKEN)

    @strayed.post("/api/stray")
    def stray():
        import uuid

        tenancy.session.add(Alert(tenant_id=uuid.uuid4(), title="x", severity="info"))
        tenancy.session.flush()

    client = strayed.test_client()
    before = scrape(client)
    token = mint_token(strayed, "trader@acme.test")
    response = client.post("/api/stray", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500
    assert "another tenant" not in response.text
    after = scrape(client)
    assert (sample(after, "tenant_isolation_errors_total", reason="cross_tenant_access")
            - sample(before, "tenant_isolation_errors_total", reason="cross_tenant_access")) == 1
