"""Can two sells at once spend the same position? The sell check holds a per-tenant,
per-symbol advisory lock until commit, so the second sell waits and then sees the first."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from portal import tenancy
from portal.trades.models import Fill, Trade
from tests.conftest import make_fresh_tenant
from tests.postgres.conftest import wait_behind_a_held_lock

pytestmark = pytest.mark.postgres


@pytest.fixture
def holder(app):
    """A fresh tenant holding exactly 10 KO."""
    tenant = make_fresh_tenant(app)
    now = datetime.now(UTC)
    with app.app_context(), tenancy.tenant_session_scope(tenant.id) as db:
        trade = Trade(symbol="KO", side="buy", quantity=Decimal(10), order_type="market",
                      status="filled", fill_price=Decimal(60), created_at=now, filled_at=now)
        trade.fills.append(Fill(price=Decimal(60), quantity=Decimal(10), executed_at=now))
        db.add(trade)
    return tenant


def sell_all(api) -> int:
    return api.post("/api/trades", json={"symbol": "KO", "side": "sell", "quantity": "10",
                                         "order_type": "market"}).status_code


def test_a_sell_waits_for_a_concurrent_sell_of_the_same_position(app, api_as, holder):
    api = api_as(holder.emails["trader"], holder.slug)
    assert wait_behind_a_held_lock(app, holder.id, "position:KO", lambda: sell_all(api)) == 201


def test_two_sells_at_once_fill_only_one(app, api_as, holder):
    apis = [api_as(holder.emails["trader"], holder.slug) for _ in range(2)]
    start = threading.Barrier(2)
    results = []

    def sell(api):
        start.wait()
        results.append(sell_all(api))

    threads = [threading.Thread(target=sell, args=(api,)) for api in apis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(results) == [201, 422]


def test_the_lock_is_per_tenant(app, api_as, holder):
    other = make_fresh_tenant(app)
    with app.app_context():
        blocker = tenancy.tenant_session(other.id)
        tenancy.lock_within_tenant(blocker, "position:KO")
        try:
            # Another tenant holding the same-named lock does not delay this one.
            assert sell_all(api_as(holder.emails["trader"], holder.slug)) == 201
        finally:
            blocker.rollback()
            blocker.close()
