"""Where a response takes its shape: whole page, htmx fragment or JSON; and the errors.

Views call `render_page` for HTML and `json_response`/`api_error` for JSON; which HTML
(the whole page or one named block of it) is decided here, once.
"""

import logging
import re
import time
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

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
from jinja2_fragments.flask import render_block
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from portal.db import database_unavailable
from portal.tenancy import TenantContextError

log = logging.getLogger("portal.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

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


class ApiError(Exception):
    """An error with a status, a stable code and a message a person can act on."""

    def __init__(
        self, status: int, message: str, code: str | None = None, field: str | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or ERROR_CODES.get(status, "error")
        self.field = field


class NotFound(ApiError):
    def __init__(self, message: str = "Not found."):
        super().__init__(404, message)


def is_api_request() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


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


def json_response(payload: Any, status: int = 200, headers: dict | None = None):
    """`payload` is JSON-ready data, or a pydantic model, which encodes itself (in one pass
    in Rust, the quickest way for a page of items)."""
    if isinstance(payload, BaseModel):
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


def validation_message(exc: ValidationError) -> tuple[str, str]:
    """The first problem of a pydantic error as (field, sentence)."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ()) if part != "__root__") or "body"
    message = first.get("msg", "is invalid")
    message = message.removeprefix("Value error, ")
    return field, f"{field}: {message}"


def _number(value) -> str:
    return f"{Decimal(str(value)):,f}"


# pydantic's messages speak of inputs and types; beside a form field people need what to enter.
_FOR_PEOPLE = {
    "missing": lambda ctx: "Required.",
    "string_too_short": lambda ctx: "Required." if ctx.get("min_length") == 1
    else f"Use at least {ctx['min_length']} characters.",
    "string_too_long": lambda ctx: f"Use at most {ctx['max_length']} characters.",
    "greater_than": lambda ctx: f"Enter a number above {_number(ctx['gt'])}.",
    "greater_than_equal": lambda ctx: f"Enter {_number(ctx['ge'])} or more.",
    "less_than": lambda ctx: f"Enter a number below {_number(ctx['lt'])}.",
    "less_than_equal": lambda ctx: f"Enter {_number(ctx['le'])} or less.",
    "decimal_parsing": lambda ctx: "Enter a number, such as 12.5.",
    "decimal_type": lambda ctx: "Enter a number, such as 12.5.",
    "int_parsing": lambda ctx: "Enter a whole number.",
    "decimal_max_places": lambda ctx: f"Use at most {ctx['decimal_places']} decimal places.",
    "decimal_max_digits": lambda ctx: f"Use at most {ctx['max_digits']} digits.",
    "literal_error": lambda ctx: "Choose " + ctx["expected"].replace("'", "") + ".",
    "datetime_from_date_parsing": lambda ctx: "Enter a date such as 2026-01-31.",
    "datetime_parsing": lambda ctx: "Enter a date such as 2026-01-31, or 2026-01-31T09:30.",
    "extra_forbidden": lambda ctx: "This form has no such field.",
}


def message_for_people(error: dict) -> str:
    """One pydantic error as a sentence for a person filling in a form."""
    explain = _FOR_PEOPLE.get(error.get("type", ""))
    if explain is not None:
        try:
            return explain(error.get("ctx") or {})
        except (KeyError, ArithmeticError, ValueError):
            pass
    text = error.get("msg", "is invalid").removeprefix("Value error, ")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def field_errors(exc: ValidationError) -> dict[str, str]:
    """The first problem with each top-level field, for showing next to a form's inputs."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else "form"
        errors.setdefault(field, message_for_people(error))
    return errors


def _error_response(status: int, message: str, code: str | None = None, field: str | None = None,
                    headers: dict | None = None):
    if status in (401, 403, 429):
        # Refusals are what an attack looks like from here: visible at WARNING, with why.
        log.warning("request refused (%s): %s", status, code or message)
    if is_api_request() or request.accept_mimetypes.best == "application/json":
        response = api_error(status, message, code, field)
    else:
        response = current_app.make_response(
            (render_template("error.html", status=status, message=message), status)
        )
    if headers:
        response.headers.update(headers)
    return response


UNAVAILABLE_MESSAGE = "The portal cannot reach its database right now; retry in a few seconds."


def database_unavailable_response(exc: Exception):
    """503 with Retry-After: JSON under /api, a page that retries by itself for browsers.

    The request's transaction never committed (or committed before the failure and will be
    found on retry with the same Idempotency-Key), so nothing is half written. The pool
    replaces dead connections at the next checkout (pool_pre_ping): no restart needed.
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
            "unavailable.html", message=UNAVAILABLE_MESSAGE, retry_after=retry_after), 503))
    response.headers.update(headers)
    return response


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        if exc.status == 401:
            from portal.auth.context import unauthorized_response

            return unauthorized_response(exc.message)
        return _error_response(exc.status, exc.message, exc.code, exc.field)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        field, message = validation_message(exc)
        return _error_response(400, message, "invalid_input", field)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        if status == 401:
            from portal.auth.context import unauthorized_response

            return unauthorized_response("Authentication required.")
        headers = {}
        if status == 429:
            message = "Too many requests; slow down and retry later."
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
        from portal.auth.context import tenant_refused

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


def _security_headers(response):
    htmx_url = current_app.config["HTMX_URL"]
    integrity = current_app.config["HTMX_INTEGRITY"]
    # A local copy (PORTAL_HTMX_SOURCE=local) is a path on this site: 'self' admits it.
    script_src = "'self'" if htmx_url.startswith("/") else f"'self' {htmx_url}"
    if integrity:
        script_src += f" '{integrity}'"
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; "
        f"script-src {script_src}; "
        # htmx's own indicator styles are turned off in base.html; SVG charts and the
        # heatmap colour cells with inline styles, which carry no script.
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["JWT_COOKIE_SECURE"]:
        # Served over HTTPS (secure cookies): browsers should never try plain HTTP again.
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


MAX_JSON_DEPTH = 32


def _json_problem(body: Any) -> tuple[str, str] | None:
    """(field, problem) for the first place in a parsed JSON body that holds a NUL character
    or nests deeper than any endpoint needs; walked without recursion."""
    stack = [(body, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path or "body", "must not contain a NUL character"
            continue
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, list):
            items = list(enumerate(value))
        else:
            continue
        if depth >= MAX_JSON_DEPTH:
            return "body", f"must not nest more than {MAX_JSON_DEPTH} levels deep"
        for key, item in reversed(items):
            if isinstance(key, str) and "\x00" in key:
                return path or "body", "must not contain a NUL character"
            stack.append((item, f"{path}.{key}" if path else str(key), depth + 1))
    return None


def refuse_unusable_input() -> None:
    """No text field anywhere may hold a NUL (PostgreSQL cannot store or compare one, and no
    real input needs it), and a JSON body may not nest past MAX_JSON_DEPTH (or past what the
    parser itself survives). Checked once for every request, so no endpoint can forget."""
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if "\x00" in value or "\x00" in name:
                raise ApiError(400, f"{name}: must not contain a NUL character",
                               "invalid_input", name)
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            raise ApiError(400, f"body: must not nest more than {MAX_JSON_DEPTH} levels deep",
                           "invalid_input", "body")
        problem = _json_problem(body)
        if problem is not None:
            field, message = problem
            raise ApiError(400, f"{field}: {message}", "invalid_input", field)


def init_app(app: Flask) -> None:
    app.json = OrjsonProvider(app)
    from portal import formats

    formats.register(app)

    @app.before_request
    def _start_request() -> None:
        g.started_at = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        refuse_unusable_input()

    @app.after_request
    def _finish_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        _security_headers(response)
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


def refuse_cross_site_post() -> None:
    """403 for a form post another site made a browser send (login CSRF: a hostile page
    signing the victim in as the attacker). Browsers say where a request comes from in
    `Sec-Fetch-Site` and `Origin`; a request with neither (an old browser, a script) passes,
    as it cannot have been forged by a page."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise ApiError(403, "Cross-site sign-in refused; sign in from this site's own page.",
                       "cross_site")
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise ApiError(403, "Cross-site sign-in refused; sign in from this site's own page.",
                       "cross_site")


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: the guard for every redirect a
    request names (`next`), so none can send a user to another host. `//host` and `/\\host`
    are other hosts to a browser."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None  # CR/LF would split the Location header; no real path holds them
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def get_or_404(model, raw_id: Any):
    """The current tenant's row with this public id, else the one 404 every miss gets.

    A malformed id, an unknown id and another tenant's id are indistinguishable.
    """
    from sqlalchemy import select

    from portal.tenancy import session

    try:
        row_id = uuid.UUID(str(raw_id))
    except ValueError:
        raise NotFound()
    row = session.scalar(select(model).where(model.id == row_id))
    if row is None:
        raise NotFound()
    return row
