"""/status and /api/status: who am I, in which organisation, and how is it doing?"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from portal import __version__, tenancy
from portal.alerts.models import Alert
from portal.permissions import ROLE_PERMISSIONS
from portal.trades.models import Trade
from tests.conftest import backend
from tests.helpers import is_full_page


def add_alert(app, tenant_id, acknowledged: bool = False) -> None:
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        db.add(Alert(title="Test alert", severity="warning",
                     acknowledged_at=datetime.now(UTC) if acknowledged else None))


def add_order(app, tenant_id, status: str) -> None:
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        db.add(Trade(symbol="AAPL", side="buy", quantity=Decimal(5), order_type="limit",
                     limit_price=Decimal(1), status=status))


@pytest.mark.parametrize("role", ["viewer", "trader", "admin"])
def test_json_names_tenant_user_role_permissions_version_and_database(api_as, fresh_tenant,
                                                                      role):
    tenant = fresh_tenant()
    response = api_as(tenant.emails[role]).get("/api/status")
    assert response.status_code == 200
    assert response.json == {
        "tenant": {"name": tenant.name, "slug": tenant.slug, "plan": "pro"},
        "user": {"id": response.json["user"]["id"], "email": tenant.emails[role],
                 "name": f"{role} {tenant.slug}"},
        "role": role,
        "permissions": sorted(ROLE_PERMISSIONS[role]),
        "open_alerts": 0,
        "pending_orders": 0,
        "version": __version__,
        "database": backend(),
    }


def test_demo_tenants_report_their_own_name_and_plan(api_as):
    acme = api_as("viewer@acme.test").get("/api/status").json
    globex = api_as("ops@example.test", "globex").get("/api/status").json
    assert acme["tenant"] == {"name": "Acme Capital", "slug": "acme", "plan": "pro"}
    assert globex["tenant"] == {"name": "Globex Trading", "slug": "globex", "plan": "starter"}
    assert globex["role"] == "trader" and "execute_trades" in globex["permissions"]


def test_counts_are_the_tenants_own_a_b_a(app, api_as, browser_as, fresh_tenant):
    a, b = fresh_tenant(), fresh_tenant()
    client_a, client_b = api_as(a.emails["viewer"]), api_as(b.emails["viewer"])
    browser_a = browser_as(a.emails["viewer"])

    add_alert(app, a.id)
    add_alert(app, a.id, acknowledged=True)  # acknowledged: not open
    add_order(app, a.id, "pending")
    add_order(app, a.id, "cancelled")

    for client, expected in ((client_a, (1, 1)), (client_b, (0, 0)), (client_a, (1, 1))):
        body = client.get("/api/status").json
        assert (body["open_alerts"], body["pending_orders"]) == expected
    for htmx in (False, True):
        html = browser_a.get("/status", htmx=htmx).text
        assert "<dt>Open alerts</dt><dd>1</dd>" in html
        assert "<dt>Pending orders</dt><dd>1</dd>" in html

    add_alert(app, b.id)
    add_alert(app, b.id)
    assert client_b.get("/api/status").json["open_alerts"] == 2
    assert client_a.get("/api/status").json["open_alerts"] == 1


def test_page_shows_the_facts_and_htmx_gets_only_the_content_block(browser_as, fresh_tenant):
    tenant = fresh_tenant()
    browser = browser_as(tenant.emails["trader"])
    page = browser.get("/status")
    assert page.status_code == 200
    assert is_full_page(page) and 'data-testid="current-tenant"' in page.text
    fragment = browser.get("/status", htmx=True)
    assert fragment.status_code == 200
    assert not is_full_page(fragment) and "<nav" not in fragment.text
    assert "HX-Request" in fragment.headers.get("Vary", "")
    for html in (page.text, fragment.text):
        assert 'data-testid="status"' in html
        assert f"{tenant.name} ({tenant.slug}, plan pro)" in html
        assert tenant.emails["trader"] in html
        assert "<dt>Role</dt><dd>trader</dd>" in html
        assert ", ".join(sorted(ROLE_PERMISSIONS["trader"])) in html
        assert f"<dt>Version</dt><dd>{__version__}</dd>" in html
        assert f"<dt>Database</dt><dd>{backend()}</dd>" in html


def test_a_boosted_request_gets_the_whole_page(browser_as, fresh_tenant):
    browser = browser_as(fresh_tenant().emails["viewer"])
    response = browser.get("/status", htmx=True, headers={"HX-Boosted": "true"})
    assert is_full_page(response)


def test_status_needs_a_signed_in_user(client):
    assert client.get("/api/status").status_code == 401
    page = client.get("/status")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    htmx = client.get("/status", headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login")


def test_no_response_mentions_tenant_id_or_another_tenant(api_as, browser_as, tenant_b):
    browser = browser_as("admin@acme.test")
    responses = [api_as("admin@acme.test").get("/api/status"), browser.get("/status"),
                 browser.get("/status", htmx=True)]
    for response in responses:
        text = response.get_data(as_text=True)
        assert "tenant_id" not in text
        assert str(tenant_b.id) not in text and "Globex" not in text
