"""Does the dashboard show the signed-in tenant's own figures, and only those?"""

from decimal import Decimal

from portal import tenancy
from portal.alerts.models import Alert
from portal.trades.models import Fill, Trade


def add_rows(app, tenant, title):
    with app.app_context(), tenancy.tenant_session_scope(tenant.id) as db:
        db.add(Alert(title=title, severity="critical", source="dash"))
        trade = Trade(symbol="KO", side="buy", quantity=Decimal(7), order_type="market",
                      status="filled", fill_price=Decimal(50), fee=Decimal(0))
        trade.fills.append(Fill(price=Decimal(50), quantity=Decimal(7)))
        db.add(trade)


def test_the_dashboard_shows_only_this_tenants_alerts_orders_and_value(app, browser_as,
                                                                       fresh_tenant):
    a, b = fresh_tenant("Dash A"), fresh_tenant("Dash B")
    add_rows(app, a, "Alpha only alert")
    add_rows(app, b, "Bravo only alert")
    for tenant, own, other in ((a, "Alpha", "Bravo"), (b, "Bravo", "Alpha"),
                               (a, "Alpha", "Bravo")):
        page = browser_as(tenant.emails["viewer"]).get("/")
        assert page.status_code == 200
        assert f"{own} only alert" in page.text
        assert f"{other} only alert" not in page.text
        assert 'data-testid="open-alerts">1<' in page.text
        assert 'data-testid="pending-orders">0<' in page.text
        assert "buy 7 KO" in page.text
        assert "tenant_id" not in page.text


def test_an_empty_tenant_sees_empty_sections_not_errors(browser_as, fresh_tenant):
    tenant = fresh_tenant()
    page = browser_as(tenant.emails["admin"]).get("/")
    assert page.status_code == 200
    assert "No open alerts." in page.text
    assert "No orders yet." in page.text
    assert 'data-testid="portfolio-value">0.00<' in page.text
