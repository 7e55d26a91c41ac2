"""Done-when of the metrics issue, on the demo tenants themselves: acme's portfolio, trading
and risk figures follow from acme's trades only, and globex's from globex's. Each side's
trades are changed and the other side's figures must not move; the change is undone after."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal import tenancy
from portal.trades.models import Fill, Trade


def figures(api) -> dict:
    trading = api.get("/api/metrics/trading?window=all").get_json()
    trading.pop("as_of", None)
    return {
        "portfolio": api.get("/api/metrics/portfolio").get_json(),
        "trading": trading,
        "risk": api.get("/api/metrics/risk?lookback_days=60").get_json(),
    }


def symbols_held(snapshot) -> set[str]:
    return {p["symbol"] for p in snapshot["portfolio"]["positions"]}


@pytest.fixture
def change_trades(app):
    """Add a large filled buy and double an existing fill in a tenant; undo both afterwards."""
    undo = []

    def change(tenant, symbol):
        at = datetime.now(UTC) - timedelta(hours=1)
        with app.app_context(), tenancy.tenant_session_scope(tenant.id) as db:
            close = Decimal("100")
            added = Trade(symbol=symbol, side="buy", quantity=Decimal(900), order_type="market",
                          status="filled", fill_price=close, fee=Decimal(0), created_at=at,
                          filled_at=at)
            added.fills.append(Fill(price=close, quantity=Decimal(900), executed_at=at))
            db.add(added)
            existing = db.scalar(select(Trade).where(Trade.status == "filled",
                                                     Trade.side == "buy").limit(1))
            original = existing.quantity
            existing.quantity = original * 2
            for fill in existing.fills:
                fill.quantity = fill.quantity * 2
            db.flush()
            undo.append((tenant, added.id, existing.id, original))

    yield change
    for tenant, added_id, existing_id, original in undo:
        with app.app_context(), tenancy.tenant_session_scope(tenant.id) as db:
            db.delete(db.get(Trade, (tenant.id, added_id)))
            existing = db.get(Trade, (tenant.id, existing_id))
            existing.quantity = original
            for fill in existing.fills:
                fill.quantity = original


def test_acme_and_globex_figures_follow_only_their_own_trades(api_as, tenant_a, tenant_b,
                                                              change_trades):
    acme, globex = api_as("trader@acme.test"), api_as("trader@globex.test")
    acme_before, globex_before = figures(acme), figures(globex)
    assert symbols_held(acme_before) and symbols_held(globex_before)
    assert symbols_held(acme_before).isdisjoint(symbols_held(globex_before))

    # globex buys one of acme's symbols and changes an old trade: acme's figures stay put.
    acme_symbol = sorted(symbols_held(acme_before))[0]
    change_trades(tenant_b, acme_symbol)
    globex_after = figures(globex)
    assert globex_after != globex_before
    assert acme_symbol in symbols_held(globex_after)
    assert figures(acme) == acme_before

    # And the other way round.
    globex_symbol = sorted(symbols_held(globex_before))[0]
    change_trades(tenant_a, globex_symbol)
    assert figures(acme) != acme_before
    assert figures(globex) == globex_after
