"""Request plumbing every page and endpoint shares: logs, headers, errors, health."""

import io
import logging

import pytest

from portal.config import HTMX_DEFAULT_INTEGRITY, HTMX_DEFAULT_URL
from tests.conftest import build_app, mint_token


@pytest.fixture
def portal_log():
    """The real stderr handler of the portal logger, pointed at a buffer."""
    handler = next(h for h in logging.getLogger("portal").handlers if getattr(h, "_portal", 0))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_every_request_logs_one_line_with_its_tenant(app, client, tenant_a, tenant_b,
                                                     portal_log):
    for email, tenant in (("trader@acme.test", tenant_a), ("trader@globex.test", tenant_b),
                          ("trader@acme.test", tenant_a)):
        token = mint_token(app, email)
        client.get("/api/status", headers={"Authorization": f"Bearer {token}",
                                           "X-Request-ID": f"req-{tenant.slug}"})
        line = portal_log.getvalue().strip().splitlines()[-1]
        assert f"[Tenant: {tenant.id}]" in line
        assert f"[Request: req-{tenant.slug}]" in line
        assert "GET /api/status 200" in line


def test_requests_without_a_tenant_log_a_dash(client, portal_log):
    client.get("/health")
    line = portal_log.getvalue().strip().splitlines()[-1]
    assert "[Tenant: -]" in line and "GET /health 200" in line


def test_log_calls_inside_a_view_carry_the_tenant_without_saying_so(app, tenant_b,
                                                                    portal_log):
    with app.test_request_context("/"):
        from flask import g

        g.tenant_id = tenant_b.id
        g.request_id = "inside"
        logging.getLogger("portal.anything").warning("hello")
    assert f"[Tenant: {tenant_b.id}] [Request: inside] portal.anything: hello" in (
        portal_log.getvalue())


def test_security_headers_admit_only_the_pinned_htmx(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' {HTMX_DEFAULT_URL} '{HTMX_DEFAULT_INTEGRITY}'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert f'integrity="{HTMX_DEFAULT_INTEGRITY}"' in response.text
    assert f'src="{HTMX_DEFAULT_URL}"' in response.text


def test_the_htmx_url_is_a_setting(app, database):
    url = "https://static.example.test/htmx.min.js"
    app = build_app(database, HTMX_URL=url)
    response = app.test_client().get("/login")
    assert f'src="{url}"' in response.text
    assert url in response.headers["Content-Security-Policy"]


def test_request_ids_are_echoed_or_made(client):
    assert client.get("/health", headers={"X-Request-ID": "abc-1"}).headers[
        "X-Request-ID"] == "abc-1"
    made = client.get("/health", headers={"X-Request-ID": "bad id <script>"})
    assert made.headers["X-Request-ID"] != "bad id <script>"
    assert len(made.headers["X-Request-ID"]) == 32


def test_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json == {"error": {"code": "not_found", "message": "Not found."}}


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text


def test_a_crash_shows_no_stack_trace_or_sql(app, database):
    app = build_app(database)

    @app.get("/api/boom")
    def boom():
        raise RuntimeError("SELECT secret FROM tenants -- Traceback")

    @app.get("/boom")
    def boom_page():
        raise RuntimeError("SELECT secret FROM tenants -- Traceback")

    from portal.permissions import public

    public(boom)
    public(boom_page)
    client = app.test_client()
    api = client.get("/api/boom")
    assert api.status_code == 500
    assert api.json["error"]["code"] == "internal_error"
    page = client.get("/boom")
    assert page.status_code == 500
    for body in (api.text, page.text):
        assert "SELECT" not in body and "Traceback" not in body


def test_wrong_method_is_405_json_under_api(client):
    response = client.put("/api/auth/token")
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"


def test_health_reports_the_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json["database"] == "ok"
    assert "tenant" not in response.text


def test_health_is_503_when_the_database_is_unreachable(tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "db.sqlite3"
    app = build_app({"DATABASE_URL": f"sqlite:///{missing}",
                     "ADMIN_DATABASE_URL": f"sqlite:///{missing}"})
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"


def test_https_deployments_get_hsts_and_secure_cookies(app, database):
    secure = build_app(database, JWT_COOKIE_SECURE=True, SESSION_COOKIE_SECURE=True)
    client = secure.test_client()
    assert client.get("/health").headers["Strict-Transport-Security"] == "max-age=31536000"
    response = client.post("/login", data={"email": "trader@acme.test",
                                           "password": "demo-password"})
    access = next(c for c in response.headers.getlist("Set-Cookie") if "portal_access=" in c)
    assert "Secure" in access


def test_development_over_http_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/health").headers
