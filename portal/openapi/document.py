"""Build the OpenAPI 3.1 document from the app's URL map and the views' `@documented`
declarations; the schemas are pydantic's own JSON schemas of the models the views use.

Built once per app (the URL map and the models do not change while it runs).
"""

import re
from http import HTTPStatus
from typing import Any

from flask import Flask
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from portal import __version__
from portal.openapi.registry import Operation, PaginationQuery
from portal.permissions import ROLE_PERMISSIONS

API_PREFIX = "/api/"
EXTENSION = "portal_openapi"
REF = "#/components/schemas/{model}"
SECURITY = [{"bearerToken": []}, {"apiKey": []}]
METHODS = ("get", "post", "put", "patch", "delete")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable code, e.g. `invalid_input`.")
    message: str = Field(description="A sentence a person can act on.")
    field: str | None = Field(default=None, description="The input the error is about.")


class ErrorOut(BaseModel):
    """Every error under /api (portal.web.error_payload)."""

    error: ErrorDetail


def api_rules(app: Flask):
    """Every (rule, method, view) of the URL map under /api."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIX):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method.lower(), view


def undocumented_routes(app: Flask) -> list[str]:
    return [f"{method.upper()} {rule.rule}" for rule, method, view in api_rules(app)
            if getattr(view, "openapi", None) is None]


def openapi_path(rule) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


def document(app: Flask) -> dict:
    cached = app.extensions.get(EXTENSION)
    if cached is None:
        cached = app.extensions[EXTENSION] = _Builder(app).build()
    return cached


class _Builder:
    def __init__(self, app: Flask):
        self.app = app
        self.schemas: dict[str, Any] = {}

    def build(self) -> dict:
        operations = [(rule, method, view, view.openapi) for rule, method, view in api_rules(
            self.app) if getattr(view, "openapi", None) is not None]
        refs = self._model_refs(operations)
        paths: dict[str, dict] = {}
        for rule, method, view, op in operations:
            paths.setdefault(openapi_path(rule), {})[method] = self._operation(
                rule, method, view, op, refs)
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "AlphaPulse Portal API",
                "version": __version__,
                "description": (
                    "JSON for scripts. Every endpoint except the token exchange and this "
                    "document answers for the organisation of the credentials only: send "
                    "`Authorization: Bearer <token or API key>`. Lists are newest first with "
                    "keyset pages (`limit`, `cursor` → `{items, next_cursor}`). Errors are "
                    "`{\"error\": {\"code\", \"message\", \"field\"?}}`."
                ),
            },
            "servers": [{"url": "/"}],
            "security": SECURITY,
            "paths": paths,
            "components": {
                "schemas": dict(sorted(self.schemas.items())),
                "securitySchemes": {
                    "bearerToken": {
                        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                        "description": "An access token from `POST /api/auth/token`.",
                    },
                    "apiKey": {
                        "type": "http", "scheme": "bearer",
                        "description": "An API key from `POST /api/keys` or "
                                       "/settings/api-keys (starts with `ap_`).",
                    },
                },
            },
        }

    def _model_refs(self, operations) -> dict:
        wanted = {(ErrorOut, "serialization")}
        for _rule, _method, _view, op in operations:
            if op.body is not None:
                wanted.add((op.body, "validation"))
            for model in op.responses.values():
                if model is not None:
                    wanted.add((model, "serialization"))
        keys = sorted(wanted, key=lambda pair: (pair[0].__module__, pair[0].__qualname__,
                                                pair[1]))
        refs, definitions = models_json_schema(keys, ref_template=REF)
        self.schemas.update(definitions.get("$defs", {}))
        return refs

    def _operation(self, rule, method: str, view, op: Operation, refs) -> dict:
        public = getattr(view, "is_public", False)
        permission = getattr(view, "required_permission", None)
        operation: dict[str, Any] = {
            "operationId": rule.endpoint.replace(".", "_") + ("" if method in (
                "get", "post") else f"_{method}"),
            "summary": op.summary,
            "tags": list(op.tags or (_tag(rule.rule),)),
        }
        description = _access_text(public, permission)
        if description:
            operation["description"] = description
        if permission:
            operation["x-permission"] = permission
        if public:
            operation["security"] = []
        parameters = self._path_parameters(rule) + self._query_parameters(op)
        if op.idempotent:
            parameters.append({
                "name": "Idempotency-Key", "in": "header", "required": False,
                "description": "Retrying with the same key returns the first answer "
                               "(header `Idempotent-Replayed: true`) instead of acting twice.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            })
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        operation["responses"] = self._responses(rule, view, op, refs, public, permission)
        return operation

    @staticmethod
    def _path_parameters(rule) -> list[dict]:
        parameters = []
        for name in sorted(rule.arguments):
            converter = type(rule._converters[name]).__name__
            schema = {"type": "integer"} if converter == "IntegerConverter" else {
                "type": "string", "format": "uuid"}
            parameters.append({
                "name": name, "in": "path", "required": True, "schema": schema,
                "description": "The id the API gave; any other value answers 404.",
            })
        return parameters

    def _query_parameters(self, op: Operation) -> list[dict]:
        parameters = []
        for model in (op.query, PaginationQuery if op.paginated else None):
            if model is None:
                continue
            schema = model.model_json_schema(mode="validation", ref_template=REF)
            self.schemas.update(schema.pop("$defs", {}))
            required = set(schema.get("required", ()))
            for name, prop in schema.get("properties", {}).items():
                prop = _without_null(prop)
                description = prop.pop("description", None)
                prop.pop("title", None)
                parameter = {"name": name, "in": "query", "required": name in required,
                             "schema": prop}
                if op.blank_query_is_absent and name not in required:
                    parameter["allowEmptyValue"] = True
                if description:
                    parameter["description"] = description
                parameters.append(parameter)
        return parameters

    def _responses(self, rule, view, op: Operation, refs, public: bool,
                   permission: str | None) -> dict:
        responses: dict[str, Any] = {}
        for status, model in sorted(op.responses.items()):
            if status == 204:  # No Content: nothing to describe
                responses["204"] = {"description": HTTPStatus(204).phrase}
                continue
            if op.content_type != "application/json":
                schema = {"type": "string"}
            else:
                schema = refs[(model, "serialization")] if model else {"type": "object"}
            responses[str(status)] = {
                "description": HTTPStatus(status).phrase,
                "content": {op.content_type: {"schema": schema}},
            }
        for status in sorted(_error_statuses(rule, op, public, permission)):
            responses[str(status)] = {
                "description": _ERROR_TEXT.get(status, HTTPStatus(status).phrase),
                "content": {"application/json": {"schema": refs[(ErrorOut, "serialization")]}},
            }
        return responses


_ERROR_TEXT = {
    400: "Bad input; `error.field` names it.",
    401: "No valid token or API key.",
    403: "The role lacks the permission.",
    404: "No such object in this organisation.",
    413: "The body is too large.",
    429: "Rate limited; see `Retry-After`.",
    503: "The database is unreachable; see `Retry-After`.",
}


def _error_statuses(rule, op: Operation, public: bool, permission: str | None) -> set[int]:
    statuses = set(op.errors)
    if op.query or op.body or op.paginated or op.idempotent:
        statuses.add(400)
    if op.body:
        statuses.add(413)
    if op.idempotent:
        statuses.add(422)
    if rule.arguments:
        statuses.add(404)
    if not public:
        statuses |= {401, 429, 503}
    if permission:
        statuses.add(403)
    return statuses


def _access_text(public: bool, permission: str | None) -> str:
    if public:
        return "Public: needs no token."
    if permission:
        roles = [role for role, granted in ROLE_PERMISSIONS.items() if permission in granted]
        return f"Needs the `{permission}` permission (roles: {', '.join(roles)})."
    return "Any signed-in member."


def _tag(path: str) -> str:
    return path.removeprefix(API_PREFIX).split("/", 1)[0] or "api"


def _without_null(schema: dict) -> dict:
    """A query parameter is absent rather than null: drop the `null` branch pydantic gives an
    optional field."""
    schema = dict(schema)
    branches = schema.get("anyOf")
    if branches:
        kept = [branch for branch in branches if branch.get("type") != "null"]
        schema.pop("anyOf")
        if len(kept) == 1:
            schema = {**kept[0], **schema}
        else:
            schema["anyOf"] = kept
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    return schema
