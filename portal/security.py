"""What every request and response must satisfy whatever the view: the browser's security
headers, input PostgreSQL cannot hold (NUL) or no endpoint needs (deep JSON), form posts
another site made a browser send, and redirects only to this site."""

from typing import Any
from urllib.parse import urlsplit

from flask import request

from portal.errors import Forbidden, InvalidInput

MAX_JSON_DEPTH = 32
CROSS_SITE_REFUSED = "Cross-site sign-in refused; sign in from this site's own page."


def security_headers(config) -> dict[str, str]:
    """The browser's security headers for every response of an app with these settings:
    worked out once at start-up, not on every response."""
    htmx_url = config["HTMX_URL"]
    integrity = config["HTMX_INTEGRITY"]
    # A local copy (PORTAL_HTMX_SOURCE=local) is a path on this site: 'self' admits it.
    script_src = "'self'" if htmx_url.startswith("/") else f"'self' {htmx_url}"
    if integrity:
        script_src += f" '{integrity}'"
    headers = {
        "Content-Security-Policy": (
            "default-src 'self'; "
            f"script-src {script_src}; "
            # Styles only from portal.css: no template writes a style attribute or element
            # (htmx's own indicator styles are turned off in base.html).
            "style-src 'self'; "
            "img-src 'self' data:; "
            "connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }
    if config["JWT_COOKIE_SECURE"]:
        # Served over HTTPS (secure cookies): browsers should never try plain HTTP again.
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


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
                raise InvalidInput(f"{name}: must not contain a NUL character", field=name)
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            raise InvalidInput(f"body: must not nest more than {MAX_JSON_DEPTH} levels deep",
                               field="body")
        problem = _json_problem(body)
        if problem is not None:
            field, message = problem
            raise InvalidInput(f"{field}: {message}", field=field)


def refuse_cross_site_post() -> None:
    """403 for a form post another site made a browser send (login CSRF: a hostile page
    signing the victim in as the attacker). Browsers say where a request comes from in
    `Sec-Fetch-Site` and `Origin`; a request with neither (an old browser, a script) passes,
    as it cannot have been forged by a page."""
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if ((site is not None and site not in ("same-origin", "none"))
            or (origin is not None and urlsplit(origin).netloc != request.host)):
        raise Forbidden(CROSS_SITE_REFUSED, code="cross_site")


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
