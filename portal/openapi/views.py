"""The API's own description: the OpenAPI document for tools, a reference page for people."""

from flask import Blueprint, current_app
from markupsafe import Markup, escape

from portal.openapi.document import document
from portal.openapi.reference import reference
from portal.openapi.registry import documented
from portal.permissions import public, public_keeping_sign_in
from portal.web import json_response, render_page

bp = Blueprint("openapi", __name__, url_prefix="/api")


@bp.get("/openapi.json")
@documented(summary="This API's OpenAPI 3.1 document", responses={200: None},
            tags=("reference",))
@public
def openapi_json():
    return json_response(document(current_app))


@bp.get("/docs")
@documented(summary="This reference as a web page", responses={200: None},
            content_type="text/html", tags=("reference",))
@public_keeping_sign_in
def docs():
    return render_page("openapi/docs.html", ref=reference(document(current_app)))


@bp.app_template_filter("inline_code")
def inline_code(text: str) -> Markup:
    """The document's descriptions mark code with backticks (CommonMark); show it as code."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick stays a backtick
        parts[-2:] = ["`".join(parts[-2:])]
    code = Markup("<code>{}</code>")
    return Markup("").join(code.format(part) if i % 2 else escape(part)
                           for i, part in enumerate(parts))

