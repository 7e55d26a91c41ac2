"""What the shipped dashboards and alert rules ask Prometheus for, checked against what the
portal really exports: the metric names and label names inside PromQL expressions, the
expressions of deploy/grafana and deploy/prometheus, and promtool for their syntax."""

import json
import re
import subprocess
from pathlib import Path

import yaml

from tests.live import ROOT

DEPLOY = ROOT / "deploy"
ALERT_RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARDS = sorted((DEPLOY / "grafana").glob("*.json"))
# Labels Prometheus adds to every scraped series, and the histogram's bucket label.
TARGET_LABELS = {"job", "instance"}

_STRING = re.compile(r'"(?:\\.|[^"\\])*"')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
             "or", "unless", "offset", "inf", "nan"}
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$")

# What Grafana puts in place of its variables before it sends a query.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "5m", "$__interval": "15s",
                     "$job": "portal", "$tenant": ".+"}


def grafana_to_promql(expr: str, **overrides) -> str:
    for name, value in sorted({**GRAFANA_VARIABLES, **overrides}.items(),
                              key=lambda item: -len(item[0])):
        expr = expr.replace(name, value)
    return expr


def metric_names(expr: str) -> set[str]:
    """Every series name the expression selects (not functions, keywords or labels)."""
    text = _STRING.sub('""', expr)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        if text[match.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        if match.group().lower() in _KEYWORDS:
            continue
        names.add(match.group())
    return names


def matcher_labels(expr: str) -> dict[str, set[str]]:
    """Series name -> label names its selectors match on."""
    text = _STRING.sub('""', expr)
    found: dict[str, set[str]] = {}
    for name, matchers in _SELECTOR.findall(text):
        found.setdefault(name, set()).update(_MATCHER_LABEL.findall(matchers))
    return found


def grouping_labels(expr: str) -> set[str]:
    return {label.strip() for _, labels in _GROUPING.findall(_STRING.sub('""', expr))
            for label in labels.split(",") if label.strip()}


def label_values_query(query: str) -> tuple[str, str] | None:
    """Grafana's `label_values(selector, label)` as (PromQL selector, label)."""
    match = _LABEL_VALUES.match(query)
    return (match.group(1), match.group(2)) if match else None


def dashboard_queries(path: Path) -> list[tuple[str, str]]:
    """(where, expression) for every panel target and query variable of a dashboard."""
    dashboard = json.loads(path.read_text())
    queries = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                queries.append((f"{path.name}: panel {panel['title']!r}", target["expr"]))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            queries.append((f"{path.name}: variable ${variable['name']}",
                            query["query"] if isinstance(query, dict) else query))
    return queries


def dashboard_promql(path: Path, **variables) -> list[tuple[str, str]]:
    """A dashboard's queries as the PromQL Grafana would send (`label_values(selector,
    label)` becomes `count by (label) (selector)`, so its label is checked too)."""
    queries = []
    for where, query in dashboard_queries(path):
        query = grafana_to_promql(query, **variables)
        label_values = label_values_query(query)
        if label_values:
            selector, label = label_values
            query = f"count by ({label}) ({selector})"
        queries.append((where, query))
    return queries


def alert_expressions() -> list[tuple[str, str]]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [(f"alerts.yml: {rule['alert']}", rule["expr"])
            for group in groups for rule in group["rules"]]


def exported_series(scrape_text: str) -> dict[str, set[str]]:
    """Sample name -> label names, from a /internal/metrics answer."""
    from prometheus_client.parser import text_string_to_metric_families

    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(scrape_text):
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


def problems(where: str, expr: str, series: dict[str, set[str]]) -> list[str]:
    """Why the expression would select nothing from what the portal exports."""
    found = []
    names = metric_names(expr)
    if not names:
        found.append(f"{where}: selects no series: {expr}")
    for name in names:
        if name not in series:
            found.append(f"{where}: {name} is not exported")
    for name, labels in matcher_labels(expr).items():
        known = (series.get(name, set()) if name else set().union(*series.values()))
        for label in labels - known - TARGET_LABELS:
            found.append(f"{where}: {name or 'selector'} has no label {label}")
    available = set().union(*(series.get(name, set()) for name in names)) | TARGET_LABELS
    for label in grouping_labels(expr) - available:
        found.append(f"{where}: groups by {label}, which {sorted(names)} do not carry")
    return found


def promtool_check(expressions: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Parse every expression with Prometheus' own parser (as recording rules)."""
    rules = {"groups": [{"name": "expression-check", "rules": [
        {"record": f"check:expression_{index}", "expr": expr}
        for index, expr in enumerate(expressions)]}]}
    path = tmp_path / "expressions.yml"
    path.write_text(yaml.safe_dump(rules))
    return subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
