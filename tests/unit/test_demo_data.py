"""Does the demo look like a real desk: severities that match what the alert says, and
instruments priced near where those stocks trade?"""

import re
from collections import Counter

from sqlalchemy import func, select

from portal import tenancy
from portal.alerts.models import Alert
from portal.market.models import Price
from portal.market.services import DEMO_INSTRUMENTS

ORDER = ["info", "warning", "error", "critical"]


def seeded_alerts(app, tenant) -> list[Alert]:
    with app.app_context(), tenancy.tenant_session_scope(tenant.id, admin=True) as db:
        return list(db.scalars(select(Alert).where(Alert.message.like("Raised by %"))))


def test_severities_match_the_figures_in_the_titles(app, tenant_a, tenant_b):
    for tenant in (tenant_a, tenant_b):
        alerts = seeded_alerts(app, tenant)
        assert len(alerts) >= 200
        assert set(Counter(alert.severity for alert in alerts)) == set(ORDER)
        for alert in alerts:
            rank = ORDER.index(alert.severity)
            if move := re.search(r"moved (\d+)% intraday", alert.title):
                pct = int(move.group(1))
                assert pct <= 15, alert.title
                assert (rank >= 2) == (pct >= 7), (alert.title, alert.severity)
                assert (rank == 0) == (pct < 4), (alert.title, alert.severity)
            elif usage := re.search(r"(?:limit at|VaR usage) (\d+)%", alert.title):
                pct = int(usage.group(1))
                assert (alert.severity == "critical") == (pct >= 100), alert.title
                assert (rank == 0) == (pct < 80), (alert.title, alert.severity)
            elif alert.title.startswith("Settlement break"):
                assert alert.severity == "critical"
            elif alert.title.startswith("Unusual volume"):
                assert alert.severity == "info"
            assert alert.severity in alert.tags


def test_demo_instruments_end_at_their_real_price_level_and_stay_plausible(app):
    with app.app_context(), tenancy.unscoped_session() as db:
        for symbol, (_name, _sector, latest, *_rest) in DEMO_INSTRUMENTS.items():
            last_day = db.scalar(select(func.max(Price.day)).where(Price.symbol == symbol))
            last = db.scalar(select(Price.close).where(Price.symbol == symbol,
                                                       Price.day == last_day))
            low, high = db.execute(select(func.min(Price.close), func.max(Price.close))
                                   .where(Price.symbol == symbol)).one()
            assert float(last) == latest, symbol
            # Three years of a plausible stock: never a tenth of today's level nor 3 times it.
            assert latest / 10 < float(low) and float(high) < latest * 3, (symbol, low, high)
