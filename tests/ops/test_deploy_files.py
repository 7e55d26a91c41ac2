"""Do the shipped alert rules behave as documented (promtool's unit tests), and does every
expression of the rules and the Grafana dashboard ask for series and labels the portal really
exports, in PromQL Prometheus accepts?"""

import re
import shutil
import subprocess

import pytest
import yaml

from portal.observability import ISOLATION_REASONS
from tests import live, promql
from tests.conftest import build_app, mint_token
from tests.helpers import bearer


@pytest.fixture(scope="module")
def promtool() -> str:
    live.require(shutil.which("promtool") is not None, "promtool (Debian package prometheus)")
    return shutil.which("promtool")


@pytest.fixture(scope="module")
def series(app, database) -> dict[str, set[str]]:
    """What /internal/metrics exports once a tenant was served and a request refused."""
    exporter = build_app(database, METRICS_TOKEN=live.METRICS_TOKEN)
    client = exporter.test_client()
    token = mint_token(exporter, "trader@acme.test")
    client.get("/api/status", headers=bearer(token))
    client.get("/api/status")  # refused: no token
    scrape = client.get("/internal/metrics",
                        headers=bearer(live.METRICS_TOKEN))
    assert scrape.status_code == 200
    return promql.exported_series(scrape.get_data(as_text=True))


def all_queries() -> list[tuple[str, str]]:
    queries = promql.alert_expressions()
    for dashboard in promql.DASHBOARDS:
        queries += promql.dashboard_promql(dashboard)
    return queries


def test_the_alert_rules_pass_their_unit_tests(promtool):
    result = subprocess.run([promtool, "test", "rules", "alerts.test.yml"],
                            cwd=promql.ALERT_RULES.parent, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_shipped_rules_and_scrape_config_are_valid(promtool):
    rules = subprocess.run([promtool, "check", "rules", str(promql.ALERT_RULES)],
                           capture_output=True, text=True, timeout=60, check=False)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = subprocess.run(
        [promtool, "check", "config", "--syntax-only",
         str(promql.ALERT_RULES.parent / "prometheus.yml")],
        capture_output=True, text=True, timeout=60, check=False)
    assert config.returncode == 0, config.stdout + config.stderr


def test_the_dashboard_covers_tenants_volume_errors_latency_and_isolation():
    assert promql.DASHBOARDS, "deploy/grafana has no dashboard"
    expressions = " ".join(expr for dashboard in promql.DASHBOARDS
                           for _, expr in promql.dashboard_queries(dashboard))
    for needle in ("sum by (tenant_id) (rate(api_requests_total",  # volume per tenant
                   'status=~"5.."',  # errors
                   "api_tenant_request_duration_seconds_bucket",  # latency per tenant
                   "tenant_isolation_errors_total",  # isolation errors
                   "increase(api_requests_total"):  # distribution over the range
        assert needle in expressions


def test_every_expression_asks_for_series_and_labels_the_portal_exports(series):
    queries = all_queries()
    assert len(queries) > 20
    found = [problem for where, expr in queries
             for problem in promql.problems(where, expr, series)]
    assert found == []


def test_the_checker_catches_a_misspelt_series_or_label(series):
    """The check above can fail: names the portal does not export are reported."""
    assert promql.problems("x", "sum(rate(api_request_total[5m]))", series) == [
        "x: api_request_total is not exported"]
    assert promql.problems(
        "x", 'sum by (tenant) (rate(api_requests_total{tenant_id!="-"}[5m]))', series) == [
        "x: groups by tenant, which ['api_requests_total'] do not carry"]
    assert promql.problems(
        "x", 'rate(api_request_duration_seconds_count{tenant_id="a"}[5m])', series) == [
        "x: api_request_duration_seconds_count has no label tenant_id"]


def test_every_expression_is_promql_prometheus_accepts(promtool, tmp_path):
    result = promql.promtool_check([expr for _, expr in all_queries()], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = promql.promtool_check(["sum by (tenant_id (rate(api_requests_total[5m]))"],
                                   tmp_path)
    assert broken.returncode != 0


def runbook_anchors() -> set[str]:
    """GitHub's anchors of the runbook's headings."""
    text = (live.ROOT / "docs" / "runbook.md").read_text()
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}


def test_every_alert_links_a_runbook_section_that_exists():
    groups = yaml.safe_load(promql.ALERT_RULES.read_text())["groups"]
    anchors = runbook_anchors()
    assert "2-isolation-alerts" in anchors
    for rule in (rule for group in groups for rule in group["rules"]):
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/runbook.md", rule["alert"]
        assert anchor in anchors, (rule["alert"], anchor)


def test_the_runbook_explains_every_isolation_reason_and_alert():
    text = (live.ROOT / "docs" / "runbook.md").read_text()
    isolation = text[text.index("## 2. Isolation alerts"):text.index("## 3.")]
    for reason in ISOLATION_REASONS:
        assert f"`{reason}`" in isolation, reason
    groups = yaml.safe_load(promql.ALERT_RULES.read_text())["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        assert f"`{rule['alert']}`" in text, rule["alert"]
