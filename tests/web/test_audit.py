"""/api/audit and the /audit page: admins read their own tenant's audit log, nothing else."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from portal import tenancy
from portal.audit.services import record
from tests.helpers import is_full_page, root_selector, soup, walk_pages

ITEM_FIELDS = {"id", "created_at", "actor_id", "actor_email", "action", "target_type",
               "target_id", "client_addr", "request_id", "details"}


def add_records(app, tenant_id, entries) -> list[str]:
    """Write audit records straight into a tenant's log: (action, created_at, details)."""
    ids = []
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        for action, created_at, details in entries:
            entry = record(db, action, target_type="thing", target_id=uuid.uuid4(),
                           details=details, actor_email="script@example.test")
            entry.created_at = created_at
            db.flush()
            ids.append(str(entry.id))
    return ids


T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def logged(app, fresh_tenant):
    """A fresh tenant with 23 records, several sharing a timestamp, two kinds of action."""
    tenant = fresh_tenant()
    entries = []
    for index in range(23):
        action = "order.placed" if index % 3 else "alert.created"
        # Records come in pairs sharing a timestamp, to exercise the id tie-break.
        created_at = T0 + timedelta(minutes=index // 2)
        entries.append((action, created_at, {"n": index}))
    ids = add_records(app, tenant.id, entries)
    return tenant, dict(zip(ids, entries, strict=True))


def test_admin_reads_the_log_newest_first_with_every_field(api_as, logged):
    tenant, entries = logged
    body = api_as(tenant.emails["admin"]).get("/api/audit?limit=200").json
    assert [item["id"] for item in body["items"]] and body["next_cursor"] is None
    assert {item["id"] for item in body["items"]} == set(entries)
    for item in body["items"]:
        assert set(item) == ITEM_FIELDS
        assert item["details"] == entries[item["id"]][2]
        assert item["created_at"].endswith("Z")
        assert item["actor_email"] == "script@example.test"
        assert item["target_type"] == "thing"
    keys = [(item["created_at"], item["id"]) for item in body["items"]]
    assert keys == sorted(keys, reverse=True)


@pytest.mark.parametrize("limit", [1, 4, 5, 23, 50])
def test_pages_have_no_gaps_and_no_duplicates(api_as, logged, limit):
    tenant, entries = logged
    items = walk_pages(api_as(tenant.emails["admin"]), "/api/audit", limit)
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) == len(entries)
    assert set(ids) == set(entries)
    keys = [(item["created_at"], item["id"]) for item in items]
    assert keys == sorted(keys, reverse=True)


def test_action_filter_is_exact(api_as, logged):
    tenant, entries = logged
    client = api_as(tenant.emails["admin"])
    alerts = walk_pages(client, "/api/audit", 3, action="alert.created")
    assert {item["id"] for item in alerts} == {
        record_id for record_id, (action, _at, _d) in entries.items() if action == "alert.created"
    }
    assert client.get("/api/audit?action=alert").json["items"] == []
    assert client.get("/api/audit?action=ALERT.CREATED").json["items"] == []


def test_since_is_inclusive_and_until_exclusive(api_as, logged):
    tenant, entries = logged
    client = api_as(tenant.emails["admin"])
    since, until = T0 + timedelta(minutes=2), T0 + timedelta(minutes=5)
    body = client.get("/api/audit", query_string={
        "since": since.isoformat(), "until": until.isoformat(), "limit": 200}).json
    expected = {record_id for record_id, (_a, at, _d) in entries.items() if since <= at < until}
    assert {item["id"] for item in body["items"]} == expected and len(expected) == 6
    naive = client.get("/api/audit", query_string={
        "since": "2024-05-01T12:02:00", "until": "2024-05-01T12:05:00", "limit": 200}).json
    assert naive == body


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"),
    ("limit=201", "limit"),
    ("limit=ten", "limit"),
    ("cursor=not-a-cursor", "cursor"),
    ("since=yesterday", "since"),
    ("until=2024-13-01", "until"),
    ("action=" + "x" * 65, "action"),
])
def test_bad_filters_answer_400_naming_the_field(api_as, logged, query, field):
    tenant, _entries = logged
    response = api_as(tenant.emails["admin"]).get(f"/api/audit?{query}")
    assert response.status_code == 400
    assert response.json["error"]["field"] == field


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("trader", 403), ("viewer", 403)])
def test_only_admins_read_the_audit_log(api_as, browser_as, fresh_tenant, role, status):
    tenant = fresh_tenant()
    assert api_as(tenant.emails[role]).get("/api/audit").status_code == status
    browser = browser_as(tenant.emails[role])
    assert browser.get("/audit").status_code == status
    assert browser.get("/audit", htmx=True).status_code == status
    nav_link = 'href="/audit"' in browser.get("/status").text
    assert nav_link is (status == 200)


def test_demo_users_permissions_on_the_audit_log(api_as):
    assert api_as("admin@acme.test").get("/api/audit").status_code == 200
    assert api_as("trader@acme.test").get("/api/audit").status_code == 403
    assert api_as("viewer@acme.test").get("/api/audit").status_code == 403
    assert api_as("ops@example.test", "globex").get("/api/audit").status_code == 403


def test_without_a_token_the_audit_log_is_closed(client):
    assert client.get("/api/audit").status_code == 401
    assert client.get("/audit").status_code == 302


def test_another_tenants_records_never_show_a_b_a(app, api_as, browser_as, tenant_a, tenant_b):
    marker = {slug: f"test.marker-{slug}-{uuid.uuid4().hex[:8]}" for slug in ("acme", "globex")}
    now = datetime.now(UTC)
    ids = {
        "acme": add_records(app, tenant_a.id, [(marker["acme"], now, {"who": "acme"})])[0],
        "globex": add_records(app, tenant_b.id, [(marker["globex"], now, {"who": "globex"})])[0],
    }
    clients = {"acme": api_as("admin@acme.test"), "globex": api_as("admin@globex.test")}
    browsers = {"acme": browser_as("admin@acme.test"), "globex": browser_as("admin@globex.test")}
    other = {"acme": "globex", "globex": "acme"}
    for slug in ("acme", "globex", "acme"):
        newest = clients[slug].get("/api/audit?limit=200").json["items"]
        seen = {item["id"] for item in newest}
        assert ids[slug] in seen and ids[other[slug]] not in seen
        assert clients[slug].get(f"/api/audit?action={marker[other[slug]]}").json == {
            "items": [], "next_cursor": None}
        own = clients[slug].get(f"/api/audit?action={marker[slug]}").json["items"]
        assert [item["id"] for item in own] == [ids[slug]]
        for htmx in (False, True):
            html = browsers[slug].get("/audit?limit=200", htmx=htmx).text
            assert marker[slug] in html
            assert marker[other[slug]] not in html and ids[other[slug]] not in html
            filtered = browsers[slug].get(f"/audit?action={marker[other[slug]]}", htmx=htmx)
            assert filtered.status_code == 200 and ids[other[slug]] not in filtered.text


def test_a_login_is_in_the_log_with_its_request_and_client(api_as, browser_as, fresh_tenant):
    tenant = fresh_tenant()
    browser_as(tenant.emails["trader"])
    items = api_as(tenant.emails["admin"]).get("/api/audit?action=auth.login").json["items"]
    assert [item["actor_email"] for item in items] == [tenant.emails["trader"]]
    assert items[0]["client_addr"] and items[0]["request_id"]


def test_page_filters_by_action_and_pages_to_older_records(browser_as, logged):
    tenant, entries = logged
    browser = browser_as(tenant.emails["admin"])
    page = browser.get("/audit?action=alert.created&limit=5")
    assert page.status_code == 200 and is_full_page(page)
    assert '<option value="alert.created" selected>' in page.text
    assert '<option value="order.placed"' in page.text
    assert 'hx-trigger="change, submit"' in page.text and 'method="get"' in page.text
    alerts = [i for i, (action, _at, _d) in entries.items() if action == "alert.created"]
    newest_five = sorted(alerts, key=lambda i: (entries[i][1], i), reverse=True)[:5]
    assert page.text.count('data-testid="audit-row"') == 5
    for record_id in newest_five:
        assert f'data-id="{record_id}"' in page.text
    assert 'data-testid="audit-older"' in page.text

    seen: list[str] = []
    path = "/audit?action=order.placed&limit=4"
    while path:
        fragment = browser.get(path, htmx=True)
        assert fragment.status_code == 200
        assert root_selector(fragment) == "section#audit-records"
        html = soup(fragment)
        seen += [row["data-id"] for row in html.select("[data-id]")]
        older = html.select_one('[data-testid="audit-older"]')
        path = older["href"] if older else None
    placed = {i for i, (action, _at, _d) in entries.items() if action == "order.placed"}
    assert len(seen) == len(set(seen)) == len(placed) and set(seen) == placed


def test_no_response_mentions_tenant_id(app, api_as, browser_as, fresh_tenant):
    tenant = fresh_tenant()
    add_records(app, tenant.id, [("test.details", T0, {"tenant_id": str(tenant.id), "ok": 1})])
    body = api_as(tenant.emails["admin"]).get("/api/audit")
    assert body.json["items"][0]["details"] == {"ok": 1}
    browser = browser_as(tenant.emails["admin"])
    for response in (body, browser.get("/audit"), browser.get("/audit", htmx=True)):
        assert "tenant_id" not in response.get_data(as_text=True)
        assert str(tenant.id) not in response.get_data(as_text=True)


def test_an_audit_time_filter_that_is_not_iso_8601_is_a_400(api_as):
    response = api_as("admin@acme.test").get("/api/audit?since=0.5")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "since"


def test_the_table_keeps_dates_on_one_line_and_shortens_ids_with_the_full_value_on_hover(
        app, browser_as, fresh_tenant):
    tenant = fresh_tenant()
    target = uuid.uuid4()
    with app.app_context(), tenancy.tenant_session_scope(tenant.id, admin=True) as db:
        entry = record(db, "test.shortened", target_type="trade", target_id=target)
        entry.created_at, entry.request_id = T0, uuid.uuid4().hex
    page = soup(browser_as(tenant.emails["admin"]).get("/audit"))
    assert "wide" in page.select_one("main#main")["class"]
    row = next(row for row in page.select('[data-testid="audit-row"]')
               if "test.shortened" in row.get_text())
    when, _who, _action, target_cell, _from, _details, request_cell = row.find_all("td")
    assert "nowrap" in when["class"] and when.time.get_text() == "2024-05-01 12:00:00"
    short = target_cell.select_one(".short-id")
    assert short["title"] == str(target) and short.get_text() == str(target)[:8] + "…"
    assert "nowrap" in target_cell["class"]
    request_id = request_cell.select_one(".short-id")
    assert len(request_id["title"]) > 8 and request_id.get_text() == request_id["title"][:8] + "…"
