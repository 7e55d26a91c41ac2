"""Is every /api route described by the generated OpenAPI document, and does the description
match what the routes really answer? Is the /api/docs page readable by people?"""

import re
import uuid

import jsonschema_rs
import pytest
import schemathesis
from flask import Blueprint

from portal.openapi import documented
from portal.openapi.document import document, undocumented_routes
from portal.web import json_response
from tests.conftest import build_app


def _documented_operations(doc) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, methods in doc["paths"].items()
            for method in methods}


def _url_map_operations(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        found |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_the_document_is_public_openapi_3_1(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["components"]["securitySchemes"]) == {"bearerToken", "apiKey"}
    assert "tenant_id" not in response.text


def test_no_api_route_in_the_url_map_is_undocumented(app, client):
    """The one test a new /api route must pass: add `@documented(...)` to its view."""
    doc = client.get("/api/openapi.json").get_json()
    missing = _url_map_operations(app) - _documented_operations(doc)
    assert not missing, f"undocumented /api routes (add @documented to the view): {missing}"
    assert _documented_operations(doc) == _url_map_operations(app)
    assert undocumented_routes(app) == []


def test_a_new_undocumented_route_is_caught(database):
    extra = Blueprint("extra_api", __name__, url_prefix="/api/extra")

    @extra.get("/<thing_id>")
    def thing(thing_id):
        return json_response({"id": thing_id})

    @extra.post("")
    @documented(summary="Make a thing", responses={201: None})
    def make_thing():
        return json_response({}, 201)

    app = build_app(database)
    app.register_blueprint(extra)
    assert undocumented_routes(app) == ["GET /api/extra/<thing_id>"]
    with app.app_context():
        doc = document(app)
    assert ("GET", "/api/extra/{thing_id}") in _url_map_operations(app) - _documented_operations(
        doc)
    assert "/api/extra/{thing_id}" not in doc["paths"]
    assert doc["paths"]["/api/extra"]["post"]["summary"] == "Make a thing"


def test_schemathesis_loads_every_operation(client):
    schema = schemathesis.openapi.from_dict(client.get("/api/openapi.json").get_json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(_documented_operations(schema.raw_schema))


def test_guards_become_security_and_statuses(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    token = paths["/api/auth/token"]["post"]
    assert token["security"] == []
    assert "401" in token["responses"] and "429" in token["responses"]
    audit = paths["/api/audit"]["get"]
    assert "security" not in audit  # the document's default: a bearer token or an API key
    assert audit["x-permission"] == "view_audit_logs"
    assert {"400", "401", "403", "429"} <= set(audit["responses"])
    one_alert = paths["/api/alerts/{alert_id}"]["get"]
    assert "404" in one_alert["responses"]
    assert [p["name"] for p in one_alert["parameters"]] == ["alert_id"]
    cancel = paths["/api/trades/{trade_id}/cancel"]["post"]
    assert "409" in cancel["responses"]
    place = paths["/api/trades"]["post"]
    assert place["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OrderRequest"}
    assert "Idempotency-Key" in [p["name"] for p in place["parameters"]]
    assert set(place["responses"]) >= {"201", "400", "422"}


def _validator(doc, status: str, path: str, method: str = "get"):
    schema = doc["paths"][path][method]["responses"][status]["content"]["application/json"][
        "schema"]
    return jsonschema_rs.validator_for(
        {**schema, "components": doc["components"]}, validate_formats=True)


SIMPLE_GETS = [
    "/api/alerts", "/api/trades", "/api/trades/history", "/api/trades/pending",
    "/api/metrics/portfolio", "/api/metrics/trading", "/api/metrics/risk",
    "/api/metrics/system", "/api/correlation/matrix", "/api/correlation/analysis",
    "/api/status", "/api/audit",
]


@pytest.mark.parametrize("path", SIMPLE_GETS)
def test_real_answers_match_their_documented_schema(client, api_as, path):
    doc = client.get("/api/openapi.json").get_json()
    response = api_as("admin@acme.test").get(path)
    assert response.status_code == 200, response.text
    validator = _validator(doc, "200", path)
    errors = [str(error) for error in validator.iter_errors(response.get_json())]
    assert not errors, errors[:3]


def test_errors_match_the_documented_error_shape(client, api_as):
    doc = client.get("/api/openapi.json").get_json()
    viewer = api_as("viewer@acme.test")
    cases = [
        (client.get("/api/alerts"), "/api/alerts", "get"),
        (viewer.get("/api/audit"), "/api/audit", "get"),
        (viewer.get(f"/api/alerts/{uuid.uuid4()}"), "/api/alerts/{alert_id}", "get"),
        (viewer.get("/api/alerts?limit=0"), "/api/alerts", "get"),
    ]
    for response, path, method in cases:
        status = str(response.status_code)
        assert status in doc["paths"][path][method]["responses"], (path, status)
        validator = _validator(doc, status, path, method)
        assert validator.is_valid(response.get_json()), response.text


def test_a_pages_json_changes_when_its_schema_would_not_validate(client, api_as):
    """The check above can fail: a body missing a documented required field is invalid."""
    doc = client.get("/api/openapi.json").get_json()
    body = api_as("trader@acme.test").get("/api/status").get_json()
    del body["role"]
    assert not _validator(doc, "200", "/api/status").is_valid(body)


def test_the_docs_page_lists_every_operation_for_anyone(client):
    doc = client.get("/api/openapi.json").get_json()
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.text
    assert html.count('data-testid="operation"') == len(_documented_operations(doc))
    for path in doc["paths"]:
        assert f"<code>{path}</code>" in html
    assert 'id="schema-AlertOut"' in html
    assert "Log out" not in html  # nobody is signed in


def test_signed_in_operators_keep_their_navigation_on_the_docs(browser_as, tenant_a, tenant_b):
    for email, tenant, other in (("trader@acme.test", tenant_a, tenant_b),
                                 ("trader@globex.test", tenant_b, tenant_a),
                                 ("viewer@acme.test", tenant_a, tenant_b)):
        browser = browser_as(email)
        page = browser.get("/api/docs")
        assert page.status_code == 200
        assert tenant.name in page.text and "Log out" in page.text
        assert other.name not in page.text
        assert str(tenant.id) not in page.text and "tenant_id" not in page.text
        dashboard = browser.get("/")
        assert 'href="/api/docs">API</a>' in dashboard.text


def test_a_bad_cookie_still_gets_the_public_page(client, app):
    client.set_cookie(app.config["JWT_ACCESS_COOKIE_NAME"], "not-a-token")
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "Log out" not in response.text


def test_backticks_become_code_and_nothing_else_becomes_markup(app):
    from portal.openapi.views import inline_code

    assert str(inline_code("send `Authorization: Bearer <key>` <b>")) == (
        "send <code>Authorization: Bearer &lt;key&gt;</code> &lt;b&gt;")
