"""The OpenAPI document as a person reads it: operations grouped by area, every schema as a
field table, every type as a short phrase. The /api/docs page renders only this."""

from dataclasses import dataclass, field
from typing import Any

REF_PREFIX = "#/components/schemas/"


@dataclass(frozen=True)
class Row:
    name: str
    type: str
    required: bool
    notes: str


@dataclass(frozen=True)
class Response:
    status: str
    description: str
    type: str


@dataclass
class OperationDoc:
    id: str
    method: str
    path: str
    summary: str
    access: str
    parameters: list[Row] = field(default_factory=list)
    body: str | None = None
    responses: list[Response] = field(default_factory=list)


@dataclass(frozen=True)
class SchemaDoc:
    name: str
    description: str
    fields: list[Row]


@dataclass(frozen=True)
class Reference:
    title: str
    version: str
    description: str
    groups: dict[str, list[OperationDoc]]
    schemas: list[SchemaDoc]


def type_phrase(schema: dict[str, Any]) -> str:
    """`string (uuid)`, `Alert`, `array of Trade`, `"buy" | "sell"`, `string | null`."""
    if "$ref" in schema:
        return schema["$ref"].removeprefix(REF_PREFIX)
    if "const" in schema:
        return repr(schema["const"]).replace("'", '"')
    if "enum" in schema:
        return " | ".join(repr(value).replace("'", '"') for value in schema["enum"])
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return " | ".join(type_phrase(branch) for branch in schema[combinator])
    kind = schema.get("type", "any")
    if kind == "array":
        items = schema.get("items") or schema.get("prefixItems")
        if isinstance(items, list):
            return "[" + ", ".join(type_phrase(item) for item in items) + "]"
        return f"array of {type_phrase(items or {})}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_phrase(schema['additionalProperties'])}"
    if isinstance(kind, list):
        return " | ".join(kind)
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def constraint_notes(schema: dict[str, Any]) -> str:
    notes = []
    for key, text in (("minimum", "≥ {}"), ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}"),
                      ("exclusiveMaximum", "< {}"), ("minLength", "at least {} characters"),
                      ("maxLength", "at most {} characters"), ("maxItems", "at most {} items"),
                      ("pattern", "matches {}"), ("default", "default {}")):
        if key in schema:
            notes.append(text.format(schema[key]))
    for branch in schema.get("anyOf", ()):
        notes.extend(note for note in constraint_notes(branch).split("; ") if note)
    if schema.get("description"):
        notes.insert(0, schema["description"])
    return "; ".join(notes)


def _rows(schema: dict[str, Any]) -> list[Row]:
    required = set(schema.get("required", ()))
    return [Row(name, type_phrase(prop), name in required, constraint_notes(prop))
            for name, prop in schema.get("properties", {}).items()]


def _content_type(content: dict[str, Any]) -> str:
    for media_type, body in content.items():
        if media_type == "application/json":
            return type_phrase(body.get("schema", {}))
        return media_type
    return "—"


def reference(document: dict[str, Any]) -> Reference:
    groups: dict[str, list[OperationDoc]] = {}
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            doc = OperationDoc(
                id=op["operationId"], method=method.upper(), path=path,
                summary=op.get("summary", ""), access=op.get("description", ""),
            )
            for parameter in op.get("parameters", ()):
                schema = {**parameter.get("schema", {})}
                if parameter.get("description"):
                    schema["description"] = parameter["description"]
                doc.parameters.append(Row(
                    f"{parameter['name']} ({parameter['in']})", type_phrase(schema),
                    parameter.get("required", False), constraint_notes(schema)))
            if "requestBody" in op:
                doc.body = _content_type(op["requestBody"]["content"])
            for status, response in op["responses"].items():
                doc.responses.append(Response(status, response.get("description", ""),
                                              _content_type(response.get("content", {}))))
            groups.setdefault(op["tags"][0], []).append(doc)
    schemas = [SchemaDoc(name, schema.get("description", ""), _rows(schema))
               for name, schema in document["components"]["schemas"].items()]
    info = document["info"]
    return Reference(info["title"], info["version"], info.get("description", ""),
                     groups, schemas)
