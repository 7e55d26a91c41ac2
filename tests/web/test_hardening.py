"""Odd input at the edges is a 4xx, never a 500; headers keep signed-in answers private;
the portal refuses to start with a short key (issue 8, SPEC §7)."""

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from portal.times import parse_instant
from tests.helpers import bearer, forge

ROOT = Path(__file__).resolve().parents[2]
LISTS = ["/api/alerts", "/api/trades", "/api/trades/history", "/api/trades/pending",
         "/api/audit", "/alerts", "/audit"]
PAGED = [*LISTS, "/trades/history", "/trades/pending"]  # the trade pages take no date filter
EDGE_INSTANTS = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                 "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59.999999-00:01"]


def cursor_of(created_at: str) -> str:
    raw = json.dumps([created_at, str(uuid.uuid4())]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class TestTimesAtTheCalendarsEdges:
    @pytest.mark.parametrize("path", LISTS)
    def test_since_and_until_off_the_utc_calendar_are_a_400_naming_the_field(
            self, api_as, path):
        api = api_as("admin@acme.test")
        for field in ("since", "until"):
            for value in EDGE_INSTANTS:
                response = api.get(path, query_string={field: value})
                assert response.status_code == 400, (path, field, value, response.status_code)
                if path.startswith("/api/"):
                    assert response.json["error"]["field"] == field
            for value in ("0001-01-01", "9999-12-31", "0001-01-01T00:00:00-14:00",
                          "9999-12-31T23:59:59+14:00"):
                assert api.get(path, query_string={field: value}).status_code == 200, value

    @pytest.mark.parametrize("path", PAGED)
    def test_a_cursor_with_an_edge_time_or_a_bare_date_is_a_400(self, api_as, path):
        api = api_as("admin@acme.test")
        for value in [*EDGE_INSTANTS, "2024-01-01", "0001-01-01", "2024-01-01T00:00:00"]:
            response = api.get(path, query_string={"cursor": cursor_of(value)})
            assert response.status_code == 400, (path, value, response.status_code)
        fine = api.get(path, query_string={"cursor": cursor_of("0001-01-01T00:00:00+00:00")})
        assert fine.status_code == 200

    def test_alert_polling_refuses_an_edge_cursor(self, browser_as):
        browser = browser_as("trader@acme.test")
        for value in [*EDGE_INSTANTS, "2024-01-01"]:
            response = browser.get("/alerts/updates", htmx=True,
                                   query_string={"after": cursor_of(value)})
            assert response.status_code == 400, value

    def test_one_parser_a_bare_date_is_the_start_of_its_utc_day(self):
        assert parse_instant("2024-05-01").isoformat() == "2024-05-01T00:00:00+00:00"
        assert parse_instant("2024-05-01T12:00:00").isoformat() == "2024-05-01T12:00:00+00:00"
        assert parse_instant("2024-05-01T02:00:00+02:00").isoformat() == (
            "2024-05-01T00:00:00+00:00")
        for bad in ("2024-13-01", "yesterday", *EDGE_INSTANTS):
            with pytest.raises(ValueError):
                parse_instant(bad)


class TestJsonTimesEndInZ:
    def test_alerts_trades_and_audit_write_utc_with_z(self, api_as):
        api = api_as("admin@acme.test")
        for path, fields in (("/api/alerts", ("created_at",)),
                             ("/api/trades", ("created_at",)),
                             ("/api/audit", ("created_at",))):
            items = api.get(path, query_string={"limit": 5}).json["items"]
            assert items, path
            for item in items:
                for field in fields:
                    assert item[field].endswith("Z") and "+00:00" not in item[field], (path, item)


class TestOddTokens:
    """Tokens signed with the right key but odd standard claims are a 401, not a 500."""

    @pytest.mark.parametrize("changes", [
        {"exp": None}, {"exp": "4102444800"}, {"exp": 4102444800}, {"exp": 10**12},
        {"exp": 10**30},
        {"exp": 1e300}, {"exp": float("inf")}, {"exp": [1]}, {"exp": True},
        {"iat": "x"}, {"iat": 10**30}, {"iat": float("inf")}, {"nbf": [1]},
        {"nbf": float("inf")}, {"nbf": 10**30},
    ])
    def test_odd_standard_claims_are_refused(self, app, client, tenant_a, changes):
        token = forge(app, tenant_a.id, **changes)
        response = client.get("/api/status", headers=bearer(token))
        assert response.status_code == 401, response.status_code
        cookie = app.test_client()
        cookie.set_cookie(app.config["JWT_ACCESS_COOKIE_NAME"], token)
        page = cookie.get("/status")
        assert page.status_code == 302 and page.location.startswith("/login")


class TestRequestSize:
    def test_a_body_over_the_limit_is_a_413_in_the_json_error_shape(self, api_as, client):
        api = api_as("admin@acme.test")
        big = "x" * (1024 * 1024 + 1)
        for response in (
            api.post("/api/alerts", data=big, content_type="application/json"),
            client.post("/api/auth/token", data=big, content_type="application/json"),
        ):
            assert response.status_code == 413
            assert response.json["error"]["code"] == "payload_too_large"
            assert response.json["error"]["field"] == "body"
        page = client.post("/login", data={"email": "a@b.test", "password": big})
        assert page.status_code == 413

    def test_just_under_the_limit_is_read(self, api_as):
        api = api_as("admin@acme.test")
        body = json.dumps({"title": "t", "severity": "info", "message": "m" * 900_000})
        response = api.post("/api/alerts", data=body, content_type="application/json")
        assert response.status_code == 400
        assert response.json["error"]["field"] == "message"

    @pytest.mark.parametrize("depth", [40, 5_000, 200_000])
    def test_json_nested_deep_is_a_400_naming_the_body(self, api_as, client, depth):
        api = api_as("admin@acme.test")
        body = "[" * depth + "]" * depth
        for response in (api.post("/api/alerts", data=body, content_type="application/json"),
                         client.post("/api/auth/token", data=body,
                                     content_type="application/json")):
            assert response.status_code == 400, depth
            assert response.json["error"]["field"] == "body"


class TestMethods:
    def test_options_on_every_route_answers_allow_without_data_signed_in_or_not(
            self, app, api_as, client):
        api = api_as("admin@acme.test")
        for rule in app.url_map.iter_rules():
            path = rule.rule.replace("<path:filename>", "css/portal.css")
            for argument in rule.arguments:
                path = path.replace(f"<{argument}>", str(uuid.uuid4()))
            for response in (client.options(path), api.client.options(
                    path, headers=bearer(api.token))):
                assert response.status_code == 200, (path, response.status_code)
                assert set(response.headers["Allow"].split(", ")) >= rule.methods - {"HEAD"}
                assert response.data == b""

    def test_head_answers_like_get_without_a_body(self, api_as, client):
        api = api_as("admin@acme.test")
        for path in ("/api/alerts", "/api/status", "/health"):
            head = api.client.head(path, headers=bearer(api.token))
            get = api.get(path)
            assert head.status_code == get.status_code == 200
            assert head.data == b""
        assert client.head("/alerts").status_code == 302
        assert client.head("/api/alerts").status_code == 401


class TestRedirectTargets:
    @pytest.mark.parametrize("target", ["/status\r\nSet-Cookie: x=y", "/status\nX: y",
                                        "/st\tatus", "/\x7fstatus"])
    def test_control_characters_in_next_fall_back_to_a_safe_page(self, client, target):
        response = client.post("/login", data={"email": "trader@acme.test",
                                               "password": "demo-password", "next": target})
        assert response.status_code == 303
        assert response.location == "/"

    def test_a_change_committed_before_the_redirect_is_kept_once(self, browser_as, api_as):
        trader = api_as("trader@acme.test")
        alert = trader.post("/api/alerts", json={"title": "crlf", "severity": "info"}).json
        browser = browser_as("trader@acme.test")
        response = browser.post(f"/alerts/{alert['id']}/acknowledge",
                                data={"next": "/alerts\r\nSet-Cookie: x=y"})
        assert response.status_code == 303
        assert response.location == f"/alerts/{alert['id']}"
        again = trader.get(f"/api/alerts/{alert['id']}").json
        assert again["acknowledged"] is True


class TestPrivateAnswers:
    def test_every_signed_in_answer_is_no_store_and_varies_by_cookie(self, browser_as, api_as):
        browser = browser_as("trader@acme.test")
        api = api_as("trader@acme.test")
        for response in (browser.get("/alerts"), browser.get("/alerts", htmx=True),
                         browser.get("/api/alerts"), api.get("/api/alerts"),
                         browser.get("/trades"), api.get("/api/metrics/portfolio")):
            assert response.headers["Cache-Control"] == "no-store"
            assert "Cookie" in response.headers["Vary"]

    def test_refusals_of_protected_routes_are_private_too(self, client):
        for response in (client.get("/alerts"), client.get("/api/alerts")):
            assert response.headers["Cache-Control"] == "no-store"

    def test_public_answers_are_left_alone(self, client):
        for path in ("/health", "/login"):
            assert "no-store" not in client.get(path).headers.get("Cache-Control", "")


class TestKeyLength:
    def run_portal(self, **env):
        environment = {name: value for name, value in os.environ.items()
                       if not name.startswith("PORTAL_")}
        environment.update({"PORTAL_ENV": "production", **env})
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "routes"], cwd=ROOT,
            env=environment, capture_output=True, text=True, timeout=120, check=False)

    @pytest.mark.parametrize("env", [
        {"PORTAL_SECRET_KEY": "short"},
        {"PORTAL_SECRET_KEY": "s" * 40, "PORTAL_JWT_SECRET_KEY": "j" * 31},
        {"PORTAL_SECRET_KEY": "s" * 40, "PORTAL_JWT_PREVIOUS_KEYS": "p" * 10},
    ])
    def test_outside_development_a_short_key_stops_the_start_with_one_line(self, env):
        result = self.run_portal(**env)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "at least 32 bytes" in lines[0], result.stderr

    def test_a_long_enough_key_starts(self, tmp_path):
        result = self.run_portal(PORTAL_SECRET_KEY="k" * 32,
                                 PORTAL_DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3")
        assert result.returncode == 0, result.stderr
