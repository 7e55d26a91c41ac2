"""A real Prometheus, configured from deploy/prometheus, scrapes a live portal (gunicorn, two
workers) serving two tenants: does each tenant's request rate come back through Prometheus'
query API, do the shipped alert rules evaluate on the real series, and does every dashboard
expression answer?"""

import json
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

from tests import live, promql
from tests.conftest import build_app, mint_token

DEADLINE_SECONDS = 60


def prometheus_config(tmp_path: Path, target: str) -> Path:
    """The shipped scrape configuration, pointed at the test's portal, token file and rules,
    scraping every second."""
    config = yaml.safe_load((promql.ALERT_RULES.parent / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(promql.ALERT_RULES)]
    (job,) = config["scrape_configs"]
    token = tmp_path / "portal-metrics-token"
    token.write_text(live.METRICS_TOKEN)
    job["authorization"]["credentials_file"] = str(token)
    job["static_configs"] = [{"targets": [target]}]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def query(prometheus: str, expr: str) -> list[dict]:
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    status, body = live.http_get(url)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def by_tenant(results: list[dict]) -> dict[str, float]:
    return {result["metric"]["tenant_id"]: float(result["value"][1]) for result in results}


def wait_for(check, what: str, log: Path):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}\n{log.read_text()[-3000:]}"
        time.sleep(0.5)


@pytest.fixture
def prometheus_binary() -> str:
    live.require(shutil.which("prometheus") is not None, "prometheus (Debian package)")
    live.require(shutil.which("promtool") is not None, "promtool (Debian package prometheus)")
    return shutil.which("prometheus")


def test_prometheus_reads_each_tenants_request_rate_from_a_live_portal(
        app, database, tmp_path, prometheus_binary, tenant_a, tenant_b):
    signer = build_app(database, SECRET_KEY=live.SECRET_KEY, JWT_SECRET_KEY=live.SECRET_KEY)
    tokens = {tenant_a.id: mint_token(signer, "trader@acme.test"),
              tenant_b.id: mint_token(signer, "trader@globex.test")}
    with live.gunicorn(database, tmp_path, workers=2) as portal:
        config = prometheus_config(tmp_path, portal.removeprefix("http://"))
        check = subprocess.run(["promtool", "check", "config", str(config)],
                               capture_output=True, text=True, timeout=60, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        port = live.free_port()
        prometheus = f"http://127.0.0.1:{port}"
        log = tmp_path / "prometheus.log"
        with log.open("w") as output:
            server = subprocess.Popen(
                [prometheus_binary, f"--config.file={config}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                stdout=output, stderr=subprocess.STDOUT)
            try:
                served(prometheus, portal, tokens, tenant_a, tenant_b, log, server)
            finally:
                server.terminate()
                server.wait(timeout=30)


def send(portal: str, token: str, count: int) -> None:
    for _ in range(count):
        assert live.http_get(f"{portal}/api/status", token)[0] == 200


def served(prometheus, portal, tokens, tenant_a, tenant_b, log, server):
    a, b = str(tenant_a.id), str(tenant_b.id)
    selector = 'api_requests_total{job="portal", route="/api/status", tenant_id!="-"}'

    def totals():
        assert server.poll() is None, log.read_text()
        try:
            return by_tenant(query(prometheus, f"sum by (tenant_id) ({selector})"))
        except OSError:
            return {}

    # Both tenants' series exist before the measured traffic, so both rates cover it alike.
    send(portal, tokens[tenant_a.id], 5)
    send(portal, tokens[tenant_b.id], 5)
    wait_for(lambda: totals() == {a: 5, b: 5}, "Prometheus never scraped the warm-up", log)

    # Then A sends three times B's traffic, spread over several scrapes.
    for _ in range(8):
        send(portal, tokens[tenant_a.id], 3)
        send(portal, tokens[tenant_b.id], 1)
        time.sleep(0.25)
    assert live.http_get(f"{portal}/api/status")[0] == 401  # an isolation error, tenant "-"
    wait_for(lambda: totals() == {a: 29, b: 13}, "Prometheus never saw every request", log)

    rates = by_tenant(query(prometheus, f"sum by (tenant_id) (rate({selector}[1m]))"))
    assert set(rates) == {a, b}  # each tenant on its own, nobody else
    assert rates[a] > 0 and rates[b] > 0
    assert 2.4 <= rates[a] / rates[b] <= 3.6  # 24 against 8 over the same scrapes

    # The shipped rules load and evaluate on the real series without error.
    def rules_evaluated():
        _, body = live.http_get(f"{prometheus}/api/v1/rules")
        rules = [rule for group in json.loads(body)["data"]["groups"]
                 for rule in group["rules"]]
        return rules if rules and all(rule["health"] == "ok" for rule in rules) else None

    rules = wait_for(rules_evaluated, "the alert rules never evaluated cleanly", log)
    assert {rule["name"] for rule in rules} >= {
        "PortalTenantIsolationErrors", "PortalLatencyP99High", "PortalServerErrors",
        "PortalTenantServerErrorRatio"}

    # Every dashboard query answers, with data wherever this traffic produced some.
    for dashboard in promql.DASHBOARDS:
        for where, expr in promql.dashboard_promql(dashboard, **{"$__rate_interval": "1m",
                                                                 "$__range": "1m"}):
            results = query(prometheus, expr)
            if "tenant_isolation_errors_total" in expr and 'tenant_id!="-"' in expr:
                continue  # only a cross-tenant refusal has a tenant: none happened here
            assert results, f"{where}: no data for {expr}"
