"""Property: no request is a 5xx. Generated query strings, bodies and headers go to every route
of the app's URL map (so routes added later are covered without touching this file), signed
in and not, on whichever database the suite runs (SQLite or PostgreSQL).

Bounded for CI: a fixed number of examples, derandomized (the same examples every run), no
example database, no deadline.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_fresh_tenant, mint_token

BOUNDED = settings(max_examples=150, derandomize=True, database=None, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Names the routes read, so generated queries reach the parsers and not only unknown names.
KNOWN_PARAMS = ["since", "until", "cursor", "after", "limit", "next", "severity",
                "acknowledged", "source", "symbol", "side", "status", "window", "lookback_days",
                "symbols", "method", "threshold", "action", "tenant", "role", "weighting"]
EDGE_TEXT = ["", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01",
             "9999-12-31", "2024-02-30", "1e309", "NaN", "-1", "0", "9" * 40, "/\\evil.test",
             "//evil.test", "/x\r\nSet-Cookie: a=b", "true", "AAPL", "' OR 1=1 --",
             "\u202e\u0000", "eyJ4Ijoi", "WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzE0OjAwIiwiMSJd"]
text = st.one_of(st.sampled_from(EDGE_TEXT), st.text(max_size=40))
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
BODY_FIELDS = [*KNOWN_PARAMS, "title", "email", "password", "quantity", "order_type",
               "limit_price", "tags", "name", "expires_in_days"]
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(BODY_FIELDS), text), children, max_size=5)),
    max_leaves=12,
)
bodies = st.one_of(
    st.none(),
    st.builds(lambda value: ("json", json.dumps(value)), json_values),
    st.builds(lambda form: ("form", form),
              st.dictionaries(st.one_of(st.sampled_from(KNOWN_PARAMS), text), text,
                              max_size=5)),
    st.builds(lambda raw: ("raw", raw), st.binary(max_size=200)),
)
headers = st.dictionaries(
    st.sampled_from(["Content-Type", "HX-Request", "HX-Boosted", "Accept", "Origin",
                     "Sec-Fetch-Site", "Idempotency-Key", "X-Request-ID", "Authorization",
                     "If-None-Match", "Range"]),
    st.one_of(st.sampled_from(["application/json", "true", "text/html", "cross-site",
                               "same-origin", "Bearer x.y.z", "null", "*/*"]), header_text),
    max_size=4,
)
queries = st.lists(st.tuples(st.one_of(st.sampled_from(KNOWN_PARAMS), text), text), max_size=5)
methods = st.sampled_from(["GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"])


def _routes(app) -> list:
    return sorted((rule for rule in app.url_map.iter_rules()), key=lambda rule: rule.rule)


def _path(rule, draw) -> str:
    path = rule.rule
    for argument in rule.arguments:
        value = draw(st.one_of(st.uuids().map(str), st.sampled_from(["x", "0", "..", "%00"]),
                               st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                                                     exclude_characters="/?#%"),
                                       min_size=1, max_size=12)))
        path = path.replace(f"<{argument}>", value).replace(f"<path:{argument}>", value)
    return path


@pytest.fixture(scope="module")
def signed_in(app):
    """An admin of a tenant of its own, so what the examples create and change (alerts,
    orders, keys, a logout) stays out of every other test's data."""
    tenant = make_fresh_tenant(app)
    return lambda: mint_token(app, tenant.emails["admin"], tenant.slug)


def _send(app, draw, token: str | None):
    rule = draw(st.sampled_from(_routes(app)))
    method = draw(methods)
    request_headers = draw(headers)
    client = app.test_client()
    if token is not None:
        # The browser's way (cookie + CSRF header), so posts get past the CSRF check and
        # reach the views; some examples use the script's bearer header instead.
        if draw(st.booleans()):
            client.set_cookie(app.config["JWT_ACCESS_COOKIE_NAME"], token)
            from flask_jwt_extended import decode_token

            with app.app_context():
                request_headers.setdefault("X-CSRF-TOKEN", decode_token(token)["csrf"])
        else:
            request_headers["Authorization"] = f"Bearer {token}"
    body = draw(bodies)
    kwargs = {"query_string": draw(queries), "headers": request_headers}
    if body is not None:
        kind, content = body
        if kind == "json":
            kwargs.update(data=content, content_type="application/json")
        elif kind == "form":
            kwargs["data"] = content
        else:
            kwargs["data"] = content
    path = _path(rule, draw)
    response = client.open(path, method=method, **kwargs)
    return path, method, kwargs, response


def _check(path, method, kwargs, response) -> None:
    assert response.status_code < 500, (method, path, kwargs, response.status_code,
                                        response.get_data(as_text=True)[:300])
    if path.startswith("/api/") and response.status_code >= 400 and method != "HEAD":
        error = response.get_json(silent=True)
        assert isinstance(error, dict) and "code" in error.get("error", {}), (
            method, path, kwargs, response.status_code, response.get_data(as_text=True)[:300])


@BOUNDED
@given(data=st.data())
def test_no_request_signed_out_is_a_server_error(app, data):
    _check(*_send(app, data.draw, None))


@BOUNDED
@given(data=st.data())
def test_no_request_signed_in_is_a_server_error(app, signed_in, data):
    _check(*_send(app, data.draw, signed_in()))
