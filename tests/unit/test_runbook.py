"""Does docs/runbook.md still match the code it tells operators about?

Every 401 reason the request gate can log must have its row in section 1, and every curl
example must call a route that exists with that method, so a renamed reason or route fails
here instead of misleading someone during an incident.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = (ROOT / "docs" / "runbook.md").read_text()


GATES = (ROOT / "portal" / "auth" / "context.py", ROOT / "portal" / "apikeys" / "gate.py")


def refusal_reasons() -> list[str]:
    """The literal reasons passed to `refuse` in the request gate, tokens and API keys
    (f-strings: their prefix)."""
    nodes = [node for gate in GATES for node in ast.walk(ast.parse(gate.read_text()))]
    reasons = []
    for node in nodes:
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "refuse"
                and node.args):
            reason = node.args[0]
            if isinstance(reason, ast.Constant):
                reasons.append(reason.value)
            elif isinstance(reason, ast.JoinedStr) and isinstance(reason.values[0], ast.Constant):
                reasons.append(reason.values[0].value.strip())
    return sorted(set(reasons))


def test_the_request_gate_has_reasons_to_document():
    assert len(refusal_reasons()) >= 5


@pytest.mark.parametrize("reason", refusal_reasons())
def test_every_401_reason_has_its_log_line_in_the_runbook(reason):
    section = RUNBOOK.split("## 1.", 1)[1].split("\n## 2.", 1)[0]
    assert f"`{reason}" in section, f"docs/runbook.md section 1 lacks the reason {reason!r}"


def curl_calls() -> list[tuple[str, str]]:
    """(method, path) of every curl in the runbook that calls $BASE."""
    calls = []
    for command in re.split(r"\n(?=\S)", RUNBOOK.replace("\\\n", " ")):
        for line in command.splitlines():
            match = re.search(r'curl .*?"\$BASE(/[^"?]*)', line)
            if match:
                method = "POST" if re.search(r"-X POST|\s-d\s", line) else "GET"
                calls.append((method, match.group(1)))
    return calls


def test_the_runbook_has_curl_examples_for_scripts():
    assert len(curl_calls()) >= 5


@pytest.mark.parametrize(("method", "path"), curl_calls())
def test_every_curl_example_calls_a_real_route(app, method, path):
    adapter = app.url_map.bind("localhost")
    endpoint, _ = adapter.match(path.replace("<next_cursor>", "x"), method=method)
    assert endpoint
