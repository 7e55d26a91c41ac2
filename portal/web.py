"""Where a response takes its shape: whole page, htmx fragment or JSON; and how errors are
answered.

Views call `render_page` for HTML and `json_response`/`api_error` for JSON; which HTML
(the whole page or one named block of it) is decided here, once. Every `PortalError` a view
lets through is answered here from `portal.errors.http_status`, with its code, message and
field: JSON under /api, the error page for browsers.
"""

import logging
import re
import time
import uuid
from typing import Any

import orjson
from flask import (
    Flask,
    current_app,
    g,
    jsonify,
    render_template,
    request,
)
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from jinja2_fragments.flask import render_block
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from portal.db import database_unavailable
from portal.errors import InvalidInput, PortalError, http_status
from portal.extensions import limiter
from portal.forms import validation_message
from portal.ratelimits import retry_after_seconds
from portal.security import refuse_unusable_input, security_headers
from portal.tenancy import TenantContextError, tenant_refused

log = logging.getLogger("portal.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# What the web layer answers for itself, not a domain refusal (those are portal.errors').
RATE_LIMITED_MESSAGE = "Too many requests; slow down and retry later."
UNAVAILABLE_MESSAGE = "The portal cannot reach its database right now; retry in a few seconds."
# The code of an answer no PortalError names (werkzeug's own 400, 405, 413, 415; a 500).
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def is_api_request() -> bool:
    return is_api_path(request.path)


def is_api_path(path: str) -> bool:
    return path.startswith("/api/") or path == "/api"


class PageSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, which only pages use (the notice after placing an
    order, `flash`). The JSON API never reads or writes one, so an API request gets the null
    session instead of a signing serializer built and a cookie checked on every call."""

    def open_session(self, app, request):
        if is_api_path(request.path):
            return self.make_null_session(app)
        return super().open_session(app, request)


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_fragment() -> bool:
    """A fragment only for a plain htmx swap; boosted requests and history restores need the
    whole page."""
    return (
        is_htmx()
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render_page(template: str, block: str | None = None, status: int = 200, **context: Any):
    if block and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = current_app.make_response((body, status))
    response.vary.add("HX-Request")
    return response


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON encoded by orjson: the same documents (sorted keys; Flask's own
    encoding of dates, decimals and dataclasses), several times faster than the json module.
    NaN and infinities become null instead of invalid JSON."""

    OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
               | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=self.default, option=self.OPTIONS).decode()

    def response(self, *args: Any, **kwargs: Any):
        body = orjson.dumps(self._prepare_response_obj(args, kwargs), default=self.default,
                            option=self.OPTIONS)
        return self._app.response_class(body, mimetype=self.mimetype)


def json_body(fields: str) -> dict:
    """The request's JSON object, else a 400 naming what to send (`fields`)."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise InvalidInput(f"body: send a JSON object with {fields}", field="body")
    return payload


def json_response(payload: Any, status: int = 200, headers: dict | None = None):
    """`payload` is JSON-ready data, a pydantic model, which encodes itself (in one pass in
    Rust), or an encoded document (`bytes`, such as `PageOut.json`'s)."""
    if isinstance(payload, bytes):
        response = current_app.response_class(payload, mimetype="application/json")
    elif isinstance(payload, BaseModel):
        response = current_app.response_class(payload.model_dump_json(),
                                              mimetype="application/json")
    else:
        response = jsonify(payload)
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def error_payload(status: int, message: str, code: str | None = None, field: str | None = None):
    error: dict[str, Any] = {"code": code or ERROR_CODES.get(status, "error"), "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def api_error(status: int, message: str, code: str | None = None, field: str | None = None):
    return json_response(error_payload(status, message, code, field), status)


def _error_response(status: int, message: str, code: str | None = None, field: str | None = None,
                    headers: dict | None = None):
    if status in (401, 403, 429):
        # Refusals are what an attack looks like from here: visible at WARNING, with why.
        log.warning("request refused (%s): %s", status, code or message)
    if is_api_request() or request.accept_mimetypes.best == "application/json":
        response = api_error(status, message, code, field)
    else:
        # For htmx, the error block alone: a refused 400 is swapped into the target (see
        # responseHandling in base.html), where a whole page would nest a second header.
        response = render_page("error.html", "error", status=status, error_status=status,
                               message=message)
    if headers:
        response.headers.update(headers)
    return response


def database_unavailable_response(exc: Exception):
    """503 with Retry-After: JSON under /api, a page that retries by itself for browsers.

    The request's transaction never committed (or committed before the failure and will be
    found on retry with the same Idempotency-Key), so nothing is half written. The pool
    replaces dead connections (portal.db: idle ones are pinged at checkout, a busy one that
    fails empties the pool of its siblings): no restart needed.
    """
    log.warning("database unavailable: %s", type(getattr(exc, "orig", None) or exc).__name__)
    retry_after = current_app.config["DATABASE_RETRY_AFTER_SECONDS"]
    headers = {"Retry-After": str(retry_after)}
    if is_api_request() or request.accept_mimetypes.best == "application/json":
        response = api_error(503, UNAVAILABLE_MESSAGE)
    elif is_htmx():
        # A fragment swap has nowhere to show a page; htmx keeps what is on screen.
        response = current_app.make_response(("", 503))
    else:
        # A page of its own, not base.html: the header would query the database again.
        response = current_app.make_response((render_template(
            "unavailable.html", message=UNAVAILABLE_MESSAGE, retry_after=retry_after),
            503))
    response.headers.update(headers)
    return response


def register_errorhandlers(app: Flask) -> None:
    # Flask picks the most specific handler along the exception's MRO: portal.auth answers
    # NotAuthenticated (and a bare 401) itself, with the sign-in redirect.
    @app.errorhandler(PortalError)
    def _portal_error(exc: PortalError):
        return _error_response(http_status(exc), exc.message, exc.code, exc.field)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        field, message = validation_message(exc)
        return _error_response(400, message, "invalid_input", field)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        headers = {}
        if status == 429:
            message = RATE_LIMITED_MESSAGE
            headers = {"Retry-After": str(retry_after_seconds(exc, limiter))}
        elif status == 405:
            message = "Method not allowed."
            headers = dict(exc.get_response().headers)
            headers.pop("Content-Type", None)
            headers.pop("Content-Length", None)
        elif status == 404:
            message = "Not found."
        elif status == 413:
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            message = f"body: the request is larger than the {limit // 1024} KiB limit"
            return _error_response(status, message, field="body")
        else:
            message = exc.description or "Request failed."
        return _error_response(status, message, headers=headers)

    @app.errorhandler(TenantContextError)
    def _tenant_context_error(exc: TenantContextError):
        # A statement or flush that tried to leave the request's tenant: a bug, refused by the
        # session. Counted, logged, and answered like any other server error.
        tenant_refused.send(current_app._get_current_object(),
                            reason=f"cross-tenant access: {exc}")
        log.error("tenant context violation refused: %s", exc)
        return _error_response(500, "Something went wrong on our side. It has been logged.")

    @app.errorhandler(SQLAlchemyError)
    def _database_error(exc: SQLAlchemyError):
        if not database_unavailable(exc):
            return _unexpected(exc)
        return database_unavailable_response(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return _error_response(500, "Something went wrong on our side. It has been logged.")


def init_app(app: Flask) -> None:
    app.json = OrjsonProvider(app)
    app.session_interface = PageSessions()
    from portal import formats

    formats.register(app)
    always = security_headers(app.config)

    @app.before_request
    def _start_request() -> None:
        g.started_at = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        refuse_unusable_input()

    @app.after_request
    def _finish_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        for name, value in always.items():
            response.headers.setdefault(name, value)
        elapsed = time.perf_counter() - g.get("started_at", time.perf_counter())
        g.request_seconds = elapsed
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        log.info(
            "%s %s %s %.1fms", request.method, route, response.status_code, elapsed * 1000
        )
        return response

    @app.context_processor
    def _template_globals() -> dict:
        return {
            "htmx_url": current_app.config["HTMX_URL"],
            "htmx_integrity": current_app.config["HTMX_INTEGRITY"],
            "current_user": g.get("user"),
            "current_tenant": g.get("tenant"),
            "current_role": g.get("role"),
            "permissions": g.get("permissions", frozenset()),
            "can": lambda permission: permission in g.get("permissions", frozenset()),
        }
