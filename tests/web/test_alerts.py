"""Alerts: the list, one alert, raising and acknowledging, as pages, htmx fragments and JSON.

Tenant A is acme, tenant B is globex. Tests raise their own alerts (with a unique title or
source) and assert on those; exact counts come from a fresh tenant.
"""

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal import tenancy
from portal.alerts.models import Alert
from portal.audit.models import AuditRecord
from tests.helpers import audit_actions, is_full_page, root_selector, soup

NEW_ALERT_KEYS = {
    "id", "title", "message", "severity", "source", "tags", "created_at", "created_by",
    "acknowledged", "acknowledged_at", "acknowledged_by",
}
SQLISH = "' OR 1=1 --"
FILTERS = ("severity", "acknowledged", "source", "since", "until", "cursor", "limit")


def unique(prefix: str = "alert") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def raise_alert(api, **fields) -> dict:
    body = {"title": unique("Feed stale"), "severity": "warning", "message": "Check the feed.",
            "source": "pytest", "tags": ["feed"], **fields}
    response = api.post("/api/alerts", json=body)
    assert response.status_code == 201, response.text
    return response.get_json()


def insert_alerts(app, tenant_id, specs) -> list[uuid.UUID]:
    """Hand-made alerts with chosen timestamps (the API always stamps `now`)."""
    ids = []
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        for spec in specs:
            alert = Alert(**{"message": "", "source": "", "tags": [], **spec})
            db.add(alert)
            db.flush()
            ids.append(alert.id)
    return ids


def open_alerts(api) -> int:
    return api.get("/api/status").get_json()["open_alerts"]


def badge(html: str) -> int:
    element = soup(html).find(id="open-alerts-badge")
    assert element is not None, "no open-alerts badge in the page"
    return int(element.get_text(strip=True))


def alert_ids(response) -> list[str]:
    return [row["data-alert-id"] for row in soup(response).select("[data-alert-id]")]


def poller_url(response) -> str:
    return soup(response).find(id="alerts-poller")["hx-get"]


def list_ids(api, query: str = "") -> list[str]:
    response = api.get(f"/api/alerts?limit=200&{query}")
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.get_json()["items"]]


# The three shapes of the list and the detail.

def test_a_new_alert_shows_on_the_page_in_the_fragment_and_in_the_json(api_as, browser_as):
    alert = raise_alert(api_as("trader@acme.test"))
    browser = browser_as("viewer@acme.test")

    page = browser.get("/alerts")
    assert page.status_code == 200
    assert is_full_page(page) and alert["title"] in page.text

    fragment = browser.get("/alerts", htmx=True)
    assert fragment.status_code == 200
    assert root_selector(fragment) == "section#alert-list"
    assert alert["title"] in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]

    listing = browser.get("/api/alerts")
    assert listing.status_code == 200
    assert alert["id"] in [item["id"] for item in listing.get_json()["items"]]
    for response in (page, fragment, listing):
        assert "tenant_id" not in response.text


def test_the_detail_is_a_page_a_fragment_and_json(api_as, browser_as):
    alert = raise_alert(api_as("trader@acme.test"), tags=["fx", "latency"])
    browser = browser_as("viewer@acme.test")

    page = browser.get(f"/alerts/{alert['id']}")
    assert page.status_code == 200
    assert is_full_page(page) and alert["title"] in page.text and "fx, latency" in page.text

    fragment = browser.get(f"/alerts/{alert['id']}", htmx=True)
    assert fragment.status_code == 200
    assert not is_full_page(fragment) and alert["title"] in fragment.text

    one = browser.get(f"/api/alerts/{alert['id']}")
    assert one.status_code == 200
    assert one.get_json() == alert
    for response in (page, fragment, one):
        assert "tenant_id" not in response.text


def test_alert_json_has_exactly_the_contract_fields(app, api_as, tenant_a):
    api = api_as("trader@acme.test")
    alert = raise_alert(api, title="  Margin call  ", severity="critical", source="risk",
                        tags=["margin"], message="Top up by noon.\nThen call the desk.")
    assert set(alert) == NEW_ALERT_KEYS
    assert alert["title"] == "Margin call"  # surrounding whitespace is trimmed
    assert alert["severity"] == "critical" and alert["source"] == "risk"
    assert alert["tags"] == ["margin"]
    assert alert["message"] == "Top up by noon.\nThen call the desk."
    assert alert["acknowledged"] is False
    assert alert["acknowledged_at"] is None and alert["acknowledged_by"] is None
    assert alert["created_at"].endswith("Z")
    status = api.get("/api/status").get_json()
    assert alert["created_by"] == status["user"]["id"]
    assert uuid.UUID(alert["id"]).version == 4


def test_a_malformed_id_answers_the_same_404_as_an_unknown_one(browser_as):
    browser = browser_as("trader@acme.test")
    for prefix in ("/api/alerts/", "/alerts/"):
        unknown = browser.get(prefix + str(uuid.uuid4()))
        malformed = browser.get(prefix + "not-a-uuid")
        assert unknown.status_code == malformed.status_code == 404
        assert unknown.data == malformed.data


# Filters.

@pytest.fixture
def filter_book(app, fresh_tenant, api_as):
    """A fresh tenant with six alerts at known times, severities, sources and states."""
    tenant = fresh_tenant()
    trader = api_as(tenant.emails["trader"])
    user_id = trader.get("/api/status").get_json()["user"]["id"]
    day = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    specs = [
        {"title": "a", "severity": "info", "source": "oms", "created_at": day},
        {"title": "b", "severity": "warning", "source": "oms", "created_at": day + timedelta(1)},
        {"title": "c", "severity": "critical", "source": "risk",
         "created_at": day + timedelta(2)},
        {"title": "d", "severity": "critical", "source": "oms", "created_at": day + timedelta(3),
         "acknowledged_at": day + timedelta(3, hours=1), "acknowledged_by": uuid.UUID(user_id)},
        {"title": "e", "severity": "error", "source": "risk", "created_at": day + timedelta(4),
         "acknowledged_at": day + timedelta(4, hours=1), "acknowledged_by": uuid.UUID(user_id)},
        {"title": "f", "severity": "info", "source": "risk", "created_at": day + timedelta(5)},
    ]
    ids = insert_alerts(app, tenant.id, specs)
    by_title = {spec["title"]: str(alert_id) for spec, alert_id in zip(specs, ids, strict=True)}
    return trader, by_title


def titles(trader, query: str) -> list[str]:
    response = trader.get(f"/api/alerts?{query}")
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.get_json()["items"]]


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["f", "e", "d", "c", "b", "a"]),
    ("severity=critical", ["d", "c"]),
    ("severity=info", ["f", "a"]),
    ("acknowledged=true", ["e", "d"]),
    ("acknowledged=false", ["f", "c", "b", "a"]),
    ("acknowledged=FALSE", ["f", "c", "b", "a"]),
    ("source=oms", ["d", "b", "a"]),
    ("since=2024-05-04", ["f", "e", "d"]),
    # since is inclusive, until exclusive, a bare date the start of its UTC day (SPEC §7).
    ("until=2024-05-02", ["a"]),
    ("until=2024-05-03", ["b", "a"]),
    ("since=2024-05-02T12:00:00Z&until=2024-05-03T12:00:00Z", ["b"]),
    ("since=2024-05-02T14:00:00%2B02:00", ["f", "e", "d", "c", "b"]),
    ("until=2024-05-01T12:00:00", []),
    ("until=2024-05-01T12:00:00.000001", ["a"]),
    ("severity=critical&acknowledged=false", ["c"]),
    ("source=risk&acknowledged=false&since=2024-05-03", ["f", "c"]),
    ("severity=&acknowledged=&source=", ["f", "e", "d", "c", "b", "a"]),
    ("source=nobody", []),
])
def test_each_filter_and_their_combinations_select_the_right_alerts(filter_book, query,
                                                                      expected):
    trader, _ = filter_book
    assert titles(trader, query) == expected


@pytest.mark.parametrize(("query", "field"), [
    ("severity=urgent", "severity"),
    ("acknowledged=maybe", "acknowledged"),
    ("acknowledged=1", "acknowledged"),
    ("since=yesterday", "since"),
    ("until=2024-13-01", "until"),
    ("since=2024-05-03&until=2024-05-02", "until"),
    ("source=" + "x" * 101, "source"),
    ("limit=0", "limit"),
    ("limit=201", "limit"),
    ("limit=ten", "limit"),
    ("cursor=not-a-cursor", "cursor"),
])
def test_a_bad_filter_answers_400_naming_the_field(api_as, browser_as, query, field):
    response = api_as("viewer@acme.test").get(f"/api/alerts?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["field"] == field and field in error["message"]
    page = browser_as("viewer@acme.test").get(f"/alerts?{query}")
    assert page.status_code == 400
    assert field in page.text


@pytest.mark.parametrize("name", FILTERS)
def test_sql_in_any_filter_is_refused_or_matches_nothing(filter_book, api_as, browser_as, name):
    """Free text (source) matches nothing; every filter with a grammar refuses it by name."""
    trader, _ = filter_book
    expected = 200 if name == "source" else 400
    response = trader.get(f"/api/alerts?{name}={SQLISH}")
    assert response.status_code == expected
    if expected == 200:
        assert response.get_json()["items"] == []
    else:
        assert response.get_json()["error"]["field"] == name
    # The demo tenants' pages never error either, and never show the other tenant.
    page = browser_as("trader@acme.test").get(f"/alerts?{name}={SQLISH}", htmx=True)
    assert page.status_code == expected
    assert "globex" not in page.text.lower()


def test_a_nul_byte_in_a_filter_is_refused_not_a_server_error(api_as):
    response = api_as("viewer@acme.test").get("/api/alerts?source=oms%00")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "source"


@pytest.mark.parametrize(("created_at", "status"), [
    ("2024-01-01T00:00:00", 400),  # no zone: not a time this portal ever wrote
    ("9999-12-31T23:59:59+00:00", 200),
    ("0001-01-01T00:00:00+00:00", 200),
    ("nonsense", 400),
])
def test_a_hand_made_cursor_never_causes_a_server_error(api_as, created_at, status):
    raw = json.dumps([created_at, str(uuid.uuid4())]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = api_as("viewer@acme.test").get(f"/api/alerts?cursor={cursor}")
    assert response.status_code == status
    if status == 400:
        assert response.get_json()["error"]["field"] == "cursor"


# Pagination.

def test_pages_walk_every_alert_once_newest_first(fresh_tenant, api_as, browser_as):
    tenant = fresh_tenant()
    trader = api_as(tenant.emails["trader"])
    created = [raise_alert(trader, title=f"alert {n}")["id"] for n in range(7)]

    seen, sizes, cursor = [], [], None
    while True:
        response = trader.get("/api/alerts?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        body = response.get_json()
        seen += [item["id"] for item in body["items"]]
        sizes.append(len(body["items"]))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sizes == [3, 3, 1]
    assert len(set(seen)) == len(seen) == 7
    assert seen == list(reversed(created))

    # The page's "Older" link carries the cursor and keeps the filters.
    browser = browser_as(tenant.emails["viewer"])
    first = browser.get("/alerts?limit=3&severity=warning")
    older = soup(first).select_one('[data-testid="older"]')
    href = older["href"]
    assert older["rel"] == ["next"] and "cursor=" in href
    assert "severity=warning" in href and "limit=3" in href
    second = browser.get(href, htmx=True)
    assert not is_full_page(second)
    assert alert_ids(second) == list(reversed(created))[3:6]


# Raising alerts: validation, permissions, idempotency, audit.

@pytest.mark.parametrize(("body", "field"), [
    ({"severity": "info"}, "title"),
    ({"title": "", "severity": "info"}, "title"),
    ({"title": "   ", "severity": "info"}, "title"),
    ({"title": "x" * 201, "severity": "info"}, "title"),
    ({"title": "t"}, "severity"),
    ({"title": "t", "severity": "fatal"}, "severity"),
    ({"title": "t", "severity": "info", "tags": "a,b"}, "tags"),
    ({"title": "t", "severity": "info", "tags": ["x" * 41]}, "tags"),
    ({"title": "t", "severity": "info", "tags": [""]}, "tags"),
    ({"title": "t", "severity": "info", "tags": [str(n) for n in range(21)]}, "tags"),
    ({"title": "t", "severity": "info", "tenant_id": str(uuid.uuid4())}, "tenant_id"),
    ({"title": "t", "severity": "info", "acknowledged": True}, "acknowledged"),
    ({"title": "nul\u0000byte", "severity": "info"}, "title"),
    ({"title": "t", "severity": "info", "source": "two\nlines"}, "source"),
    ({"title": "t", "severity": "info", "tags": ["a\u0000"]}, "tags"),
    ({"title": "t", "severity": "info", "message": "bell\u0007"}, "message"),
])
def test_a_bad_alert_is_refused_naming_the_field_and_nothing_is_stored(fresh_tenant, api_as,
                                                                       body, field):
    tenant = fresh_tenant()
    trader = api_as(tenant.emails["trader"])
    response = trader.post("/api/alerts", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"].split(".")[0] == field
    assert list_ids(trader) == []


@pytest.mark.parametrize("send", [
    {"data": "title=x&severity=info", "content_type": "application/x-www-form-urlencoded"},
    {"data": "{not json", "content_type": "application/json"},
    {"data": '["a list"]', "content_type": "application/json"},
    {},
])
def test_a_body_that_is_not_a_json_object_answers_400(api_as, send):
    response = api_as("trader@acme.test").post("/api/alerts", **send)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "body"


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("trader", 201), ("admin", 201)])
def test_who_may_raise_an_alert(fresh_tenant, api_as, browser_as, role, status):
    tenant = fresh_tenant()
    api = api_as(tenant.emails[role])
    response = api.post("/api/alerts", json={"title": "By API", "severity": "info"})
    assert response.status_code == status
    browser = browser_as(tenant.emails[role])
    form = browser.post("/alerts", {"title": "By form", "severity": "info"})
    assert form.status_code == (403 if status == 403 else 303)
    page = browser.get("/alerts")
    assert ('id="new-alert-form"' in page.text) == (status != 403)
    expected = set() if status == 403 else {"By API", "By form"}
    assert {item["title"] for item in api.get("/api/alerts").get_json()["items"]} == expected


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("trader", 200), ("admin", 200)])
def test_who_may_acknowledge_an_alert(fresh_tenant, api_as, browser_as, role, status):
    tenant = fresh_tenant()
    first, second = (raise_alert(api_as(tenant.emails["admin"]))["id"] for _ in range(2))
    api = api_as(tenant.emails[role])
    assert api.post(f"/api/alerts/{first}/acknowledge").status_code == status
    browser = browser_as(tenant.emails[role])
    page = browser.get("/alerts")
    assert ('data-testid="acknowledge"' in page.text) == (status == 200)
    form = browser.post(f"/alerts/{second}/acknowledge", {"next": "/alerts"})
    assert form.status_code == (403 if status == 403 else 303)
    states = {item["id"]: item["acknowledged"] for item in api.get("/api/alerts").get_json()[
        "items"]}
    assert states == {first: status == 200, second: status == 200}


def test_retrying_a_create_with_the_same_key_returns_the_first_alert(app, fresh_tenant,
                                                                      api_as):
    tenant = fresh_tenant()
    trader = api_as(tenant.emails["trader"])
    body = {"title": "Once only", "severity": "error", "tags": ["a"]}
    headers = {"Idempotency-Key": "create-once-1"}
    first = trader.post("/api/alerts", json=body, headers=headers)
    retry = trader.post("/api/alerts", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert first.get_json() == retry.get_json()
    assert list_ids(trader) == [first.get_json()["id"]]
    assert audit_actions(app, tenant.id, first.get_json()["id"]) == ["alert.created"]

    changed = trader.post("/api/alerts", json={**body, "title": "Twice"}, headers=headers)
    assert changed.status_code == 422
    assert changed.get_json()["error"]["field"] == "Idempotency-Key"
    assert len(list_ids(trader)) == 1

    # Without a key every post is a new alert; another key is another alert.
    trader.post("/api/alerts", json=body)
    trader.post("/api/alerts", json=body, headers={"Idempotency-Key": "create-once-2"})
    assert len(list_ids(trader)) == 3


def test_an_idempotency_key_belongs_to_its_tenant(fresh_tenant, api_as):
    one, other = fresh_tenant(), fresh_tenant()
    headers = {"Idempotency-Key": "shared-key"}
    body = {"title": "Same key", "severity": "info"}
    a = api_as(one.emails["trader"]).post("/api/alerts", json=body, headers=headers)
    b = api_as(other.emails["trader"]).post("/api/alerts", json=body, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.get_json()["id"] != b.get_json()["id"]
    assert list_ids(api_as(other.emails["trader"])) == [b.get_json()["id"]]


def test_a_bad_idempotency_key_is_refused(api_as):
    response = api_as("trader@acme.test").post(
        "/api/alerts", json={"title": "t", "severity": "info"},
        headers={"Idempotency-Key": "x" * 256},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "Idempotency-Key"


def test_acknowledging_twice_keeps_the_first_who_and_when(app, fresh_tenant, api_as):
    tenant = fresh_tenant()
    trader, admin = api_as(tenant.emails["trader"]), api_as(tenant.emails["admin"])
    alert = raise_alert(trader)
    first = trader.post(f"/api/alerts/{alert['id']}/acknowledge")
    assert first.status_code == 200
    acked = first.get_json()
    assert acked["acknowledged"] is True
    assert acked["acknowledged_by"] == trader.get("/api/status").get_json()["user"]["id"]
    assert acked["acknowledged_at"].endswith("Z")

    again = admin.post(f"/api/alerts/{alert['id']}/acknowledge")
    assert again.status_code == 200
    assert again.get_json() == acked
    assert admin.get(f"/api/alerts/{alert['id']}").get_json() == acked
    assert audit_actions(app, tenant.id, alert["id"]) == ["alert.created", "alert.acknowledged"]


def test_audit_records_say_who_raised_and_acknowledged(app, fresh_tenant, api_as):
    tenant = fresh_tenant()
    trader = api_as(tenant.emails["trader"])
    alert = raise_alert(trader, severity="critical")
    trader.post(f"/api/alerts/{alert['id']}/acknowledge")
    with app.app_context(), tenancy.tenant_session_scope(tenant.id, admin=True) as db:
        records = db.scalars(select(AuditRecord).where(AuditRecord.target_id == alert["id"])
                             .order_by(AuditRecord.created_at)).all()
        assert [(r.action, r.target_type, r.actor_email) for r in records] == [
            ("alert.created", "alert", tenant.emails["trader"]),
            ("alert.acknowledged", "alert", tenant.emails["trader"]),
        ]
        assert records[0].details["severity"] == "critical"
        assert all(record.request_id for record in records)


# The pages: forms with and without htmx, live updates.

def test_the_new_alert_form_works_without_javascript(browser_as, api_as):
    browser = browser_as("trader@acme.test")
    title = unique("Form alert")
    response = browser.post("/alerts", {"title": title, "severity": "error", "source": "desk",
                                        "tags": "fx, eur ,", "message": "hello"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/alerts")
    page = browser.get("/alerts")
    assert title in page.text
    created = next(item for item in browser.get("/api/alerts?source=desk").get_json()["items"]
                   if item["title"] == title)
    assert created["tags"] == ["fx", "eur"] and created["severity"] == "error"


def test_an_invalid_form_shows_its_errors_inline_with_and_without_htmx(browser_as, api_as):
    browser = browser_as("trader@acme.test")
    source = unique("src")
    page = browser.post("/alerts", {"title": "", "severity": "info", "source": source})
    assert page.status_code == 422
    assert is_full_page(page) and 'data-field="title"' in page.text
    assert f'value="{source}"' in page.text  # what was typed stays

    fragment = browser.post("/alerts", {"title": "ok", "severity": "loud", "source": source},
                            htmx=True)
    assert fragment.status_code == 422
    assert root_selector(fragment) == "form#new-alert-form"
    assert 'data-field="severity"' in fragment.text
    assert browser.get(f"/api/alerts?source={source}").get_json()["items"] == []


def test_the_htmx_form_answers_a_fresh_form_and_tells_the_list_to_refresh(browser_as):
    browser = browser_as("trader@acme.test")
    title = unique("Htmx alert")
    response = browser.post("/alerts", {"title": title, "severity": "info"}, htmx=True)
    assert response.status_code == 200
    assert not is_full_page(response)
    assert response.headers["HX-Trigger"] == "alerts-changed"
    assert 'data-testid="alert-created"' in response.text
    assert f'value="{title}"' not in response.text


def test_acknowledging_in_place_swaps_the_row_and_the_badge(browser_as, api_as):
    api = api_as("trader@acme.test")
    alert = raise_alert(api)
    browser = browser_as("trader@acme.test")
    before = badge(browser.get("/alerts").text)
    assert before == open_alerts(api)

    response = browser.post(f"/alerts/{alert['id']}/acknowledge", htmx=True)
    assert response.status_code == 200
    assert root_selector(response) == f"tr#alert-{alert['id']}"
    assert 'data-state="acknowledged"' in response.text
    assert 'data-testid="acknowledge"' not in response.text
    assert 'hx-swap-oob="true"' in response.text
    assert badge(response.text) == before - 1 == open_alerts(api)


def test_acknowledging_with_a_plain_form_returns_to_the_page_it_came_from(browser_as, api_as):
    alert = raise_alert(api_as("trader@acme.test"))
    browser = browser_as("trader@acme.test")
    back = "/alerts?severity=warning&acknowledged=false"
    response = browser.post(f"/alerts/{alert['id']}/acknowledge", {"next": back})
    assert response.status_code == 303
    assert response.headers["Location"] == back
    detail = browser.get(f"/alerts/{alert['id']}")
    assert "Acknowledged" in detail.text and 'data-testid="acknowledge"' not in detail.text

    # Anywhere else goes to the alert itself, never off-site.
    other = raise_alert(api_as("trader@acme.test"))
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = browser.post(f"/alerts/{other['id']}/acknowledge", {"next": target})
        assert response.headers["Location"] == f"/alerts/{other['id']}"


def test_the_list_offers_new_alerts_to_its_poller(browser_as, api_as):
    api = api_as("trader@acme.test")
    source = unique("poll")
    browser = browser_as("viewer@acme.test")
    page = browser.get(f"/alerts?source={source}&severity=critical")
    poll = poller_url(page)
    assert "source=" + source in poll and "severity=critical" in poll

    assert browser.get(poll, htmx=True).status_code == 204
    wanted = raise_alert(api, source=source, severity="critical")
    raise_alert(api, source=source, severity="info")  # filtered out
    update = browser.get(poll, htmx=True)
    assert update.status_code == 200
    assert not is_full_page(update)
    assert alert_ids(update) == [wanted["id"]]
    assert soup(update).find(id="open-alerts-badge") is not None
    # The new poller continues from the newest row it delivered.
    assert browser.get(poller_url(update), htmx=True).status_code == 204


def test_the_poller_needs_a_valid_cursor(browser_as):
    browser = browser_as("viewer@acme.test")
    for query in ("", "?after=garbage"):
        response = browser.get(f"/alerts/updates{query}", htmx=True)
        assert response.status_code == 400


def test_the_page_links_the_dashboard_open_alerts_filter(browser_as, api_as):
    api = api_as("trader@acme.test")
    open_one, done = raise_alert(api), raise_alert(api)
    api.post(f"/api/alerts/{done['id']}/acknowledge")
    page = browser_as("viewer@acme.test").get("/alerts?acknowledged=false&limit=200")
    assert open_one["title"] in page.text and done["title"] not in page.text
    assert '<option value="false" selected>Open</option>' in page.text


# Tenant isolation, from both sides.

def test_each_tenant_sees_only_its_own_alerts_a_b_a(api_as, browser_as):
    a_api, b_api = api_as("trader@acme.test"), api_as("trader@globex.test")
    a_browser, b_browser = browser_as("trader@acme.test"), browser_as("trader@globex.test")
    a_open, b_open = open_alerts(a_api), open_alerts(b_api)
    a_alert = raise_alert(a_api, title=unique("A only"), source="shared-source")
    b_alert = raise_alert(b_api, title=unique("B only"), source="shared-source")

    for api, browser, mine, theirs, expected_open in (
        (a_api, a_browser, a_alert, b_alert, a_open + 1),
        (b_api, b_browser, b_alert, a_alert, b_open + 1),
        (a_api, a_browser, a_alert, b_alert, a_open + 1),
    ):
        ids = list_ids(api, "source=shared-source")
        assert mine["id"] in ids and theirs["id"] not in ids
        for query in ("", "?source=shared-source", "?acknowledged=false&limit=200"):
            page = browser.get("/alerts" + query)
            fragment = browser.get("/alerts" + query, htmx=True)
            for response in (page, fragment):
                assert response.status_code == 200
                assert mine["title"] in response.text
                assert theirs["title"] not in response.text and theirs["id"] not in response.text
                assert "tenant_id" not in response.text
        # Counts: the nav badge and /api/status count only this tenant's open alerts.
        assert open_alerts(api) == expected_open
        assert badge(browser.get("/alerts").text) == expected_open


def test_another_tenants_alert_is_a_404_like_a_random_id_and_stays_open(api_as, browser_as):
    b_api = api_as("trader@globex.test")
    theirs = raise_alert(b_api)
    random_id = str(uuid.uuid4())
    a_api, a_browser = api_as("admin@acme.test"), browser_as("admin@acme.test")
    a_open = open_alerts(a_api)

    for client in (a_api, a_browser):
        for method, path in (("get", "/api/alerts/{}"), ("post", "/api/alerts/{}/acknowledge")):
            foreign = getattr(client, method)(path.format(theirs["id"]))
            unknown = getattr(client, method)(path.format(random_id))
            assert foreign.status_code == unknown.status_code == 404
            assert foreign.data == unknown.data
    for htmx in (False, True):
        for method, path in (("get", "/alerts/{}"), ("post", "/alerts/{}/acknowledge")):
            foreign = getattr(a_browser, method)(path.format(theirs["id"]), htmx=htmx)
            unknown = getattr(a_browser, method)(path.format(random_id), htmx=htmx)
            assert foreign.status_code == unknown.status_code == 404
            assert foreign.data == unknown.data
            assert theirs["title"] not in foreign.text

    assert b_api.get(f"/api/alerts/{theirs['id']}").get_json() == theirs
    assert open_alerts(a_api) == a_open


def test_another_tenants_alerts_never_reach_the_poller(api_as, browser_as):
    a_browser = browser_as("viewer@acme.test")
    source = unique("poll-b")
    page = a_browser.get(f"/alerts?source={source}")
    poll = poller_url(page)
    raise_alert(api_as("trader@globex.test"), source=source)
    assert a_browser.get(poll, htmx=True).status_code == 204

