"""Walks every route: is each one guarded by the permission SPEC §3/§4 give it?

The table below is the contract. A route missing from it must still require a token, and any
route that changes state must name a permission (or be one of the few session routes).
"""

import uuid

import pytest

from portal.permissions import ROLE_PERMISSIONS

SIGNED_IN = "signed in"
PUBLIC = "public"

CONTRACT = {
    ("GET", "/api/alerts"): "view_alerts",
    ("POST", "/api/alerts"): "create_alerts",
    ("GET", "/api/alerts/<id>"): "view_alerts",
    ("POST", "/api/alerts/<id>/acknowledge"): "acknowledge_alerts",
    ("GET", "/api/trades"): "view_trades",
    ("POST", "/api/trades"): "execute_trades",
    ("GET", "/api/trades/<id>"): "view_trades",
    ("GET", "/api/trades/history"): "view_trades",
    ("GET", "/api/trades/pending"): "view_trades",
    ("POST", "/api/trades/<id>/cancel"): "execute_trades",
    ("GET", "/api/metrics/system"): "view_system",
    ("GET", "/api/metrics/trading"): "view_metrics",
    ("GET", "/api/metrics/risk"): "view_metrics",
    ("GET", "/api/metrics/portfolio"): "view_portfolio",
    ("GET", "/api/correlation/matrix"): "view_metrics",
    ("GET", "/api/correlation/analysis"): "view_metrics",
    ("GET", "/api/status"): SIGNED_IN,
    ("GET", "/api/audit"): "view_audit_logs",
    ("GET", "/health"): PUBLIC,
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/keys"): SIGNED_IN,
    ("POST", "/api/keys"): "manage_api_keys",
    ("POST", "/api/keys/<id>/revoke"): "manage_api_keys",
    ("GET", "/settings/api-keys"): SIGNED_IN,
    ("POST", "/api/auth/token"): PUBLIC,
    ("POST", "/api/auth/logout"): SIGNED_IN,
    ("GET", "/"): SIGNED_IN,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): SIGNED_IN,
    ("POST", "/switch-tenant"): SIGNED_IN,
    ("GET", "/alerts"): "view_alerts",
    ("GET", "/alerts/<id>"): "view_alerts",
    ("GET", "/trades"): "view_trades",
    ("GET", "/trades/<id>"): "view_trades",
    ("GET", "/metrics"): "view_metrics",
    ("GET", "/correlation"): "view_metrics",
    ("GET", "/status"): SIGNED_IN,
    ("GET", "/audit"): "view_audit_logs",
    ("GET", "/api/members"): "manage_users",
    ("PATCH", "/api/members/<id>"): "manage_users",
    ("DELETE", "/api/members/<id>"): "manage_users",
    ("POST", "/api/invitations"): "manage_users",
    ("GET", "/api/invitations"): "manage_users",
    ("POST", "/api/invitations/<id>/revoke"): "manage_users",
    ("GET", "/admin/members"): "manage_users",
    # Opening and accepting an invitation: the person has no token for the organisation yet.
    ("GET", "/invite/<id>"): PUBLIC,
    ("POST", "/invite/<id>"): PUBLIC,
}
# Public for the JWT hook; guarded by their own bearer setting.
OWN_GUARD = {("GET", "/internal/metrics")}


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", "<id>").replace(f"<uuid:{name}>", "<id>")
            path = path.replace(f"<string:{name}>", "<id>")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path, app.view_functions[rule.endpoint]


def guard_of(view) -> str:
    if getattr(view, "is_public", False):
        return PUBLIC
    return getattr(view, "required_permission", SIGNED_IN)


def test_every_contract_route_exists(app):
    present = {(method, path) for method, path, _view in routes(app)}
    assert set(CONTRACT) <= present, sorted(set(CONTRACT) - present)


def test_every_route_has_the_contracts_guard(app):
    for method, path, view in routes(app):
        guard = guard_of(view)
        if (method, path) in CONTRACT:
            assert guard == CONTRACT[(method, path)], (method, path)
        elif (method, path) in OWN_GUARD:
            assert guard == PUBLIC
        else:
            # Extra page routes (form posts behind htmx controls, fragments) must not be public,
            # and a state change must name its permission.
            assert guard != PUBLIC, (method, path)
            if method != "GET" and path not in ("/logout", "/switch-tenant"):
                assert guard != SIGNED_IN, f"{method} {path} changes state without a permission"


@pytest.mark.parametrize("role", ["viewer", "trader", "admin"])
def test_each_role_reaches_exactly_its_read_routes(app, api_as, browser_as, role):
    """Every GET of the contract, as each role of acme: 403 exactly where the role lacks the
    permission; otherwise anything but 401/403/500 (a random id answers 404)."""
    email = f"{role}@acme.test"
    api = api_as(email)
    browser = browser_as(email)
    allowed = ROLE_PERMISSIONS[role]
    for (method, path), guard in CONTRACT.items():
        if method != "GET" or guard == PUBLIC:
            continue
        url = path.replace("<id>", str(uuid.uuid4()))
        client = api if path.startswith("/api/") else browser
        response = client.get(url)
        if guard in (SIGNED_IN,) or guard in allowed:
            found = 404 if "<id>" in path else 200
            assert response.status_code == found, (role, url, response.status_code)
        else:
            assert response.status_code == 403, (role, url, response.status_code)
