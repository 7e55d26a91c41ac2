"""Demo data (SPEC §5): three tenants, their users, market data, alerts and trades.

Idempotent: every piece is created only when missing, so running it again changes nothing.
"""

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from portal import tenancy
from portal.alerts.models import Alert
from portal.audit.models import AuditRecord
from portal.auth.models import Membership, Tenant, User
from portal.auth.passwords import hash_password
from portal.market.models import Price
from portal.market.services import ensure_demo_market
from portal.trades.models import Fill, Trade

DEMO_PASSWORD = "demo-password"

TENANTS = [
    ("acme", "Acme Capital", "pro", "active"),
    ("globex", "Globex Trading", "starter", "active"),
    ("initech", "Initech Funds", "starter", "suspended"),
]

USERS = [
    ("admin@acme.test", "Acme Admin", [("acme", "admin")]),
    ("trader@acme.test", "Acme Trader", [("acme", "trader")]),
    ("viewer@acme.test", "Acme Viewer", [("acme", "viewer")]),
    ("admin@globex.test", "Globex Admin", [("globex", "admin")]),
    ("trader@globex.test", "Globex Trader", [("globex", "trader")]),
    ("ops@example.test", "Ops (shared)", [("acme", "viewer"), ("globex", "trader")]),
    ("user@initech.test", "Initech Trader", [("initech", "trader")]),
]

# Each active tenant trades its own book, so the two tenants' data visibly differ.
BOOKS = {
    "acme": {"symbols": ["AAPL", "MSFT", "NVDA", "JPM", "GS", "KO"], "alerts": 320,
             "trades": 260, "sources": ["risk-engine", "oms", "market-data", "compliance"]},
    "globex": {"symbols": ["XOM", "CVX", "JNJ", "PFE", "BAC", "PG"], "alerts": 210,
               "trades": 180, "sources": ["surveillance", "oms", "pricing", "ops-desk"]},
}

def _by_level(*steps: tuple[int, str]):
    """Severity from a figure: the first step whose bound the figure is below."""
    def severity(figure: int) -> str:
        return next((level for bound, level in steps if figure < bound), "critical")
    return severity


_LIMIT_USAGE = _by_level((80, "info"), (95, "warning"), (100, "error"))

# Each kind of alert: its title, the range its figure is drawn from (or None), its severity
# (fixed, or from the figure, so a 12% intraday move is never "info"), and how often it comes.
ALERT_KINDS = [
    ("{symbol} moved {pct}% intraday", (2, 14),
     _by_level((4, "info"), (7, "warning"), (10, "error")), 30),
    ("Position limit at {pct}% for {symbol}", (60, 108), _LIMIT_USAGE, 20),
    ("VaR usage {pct}% of limit", (55, 106), _LIMIT_USAGE, 10),
    ("Unusual volume in {symbol}", None, "info", 15),
    ("Stale price feed for {symbol}", None, "warning", 10),
    ("Order rejected by venue for {symbol}", None, "error", 10),
    ("Settlement break on {symbol}", None, "critical", 5),
]


def last_weekday_before(today: date) -> date:
    day = today - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def seed_demo(now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    created: dict[str, int] = {}
    with tenancy.unscoped_session(admin=True) as db:
        tenants = {}
        for slug, name, plan, status in TENANTS:
            tenant = db.scalar(select(Tenant).where(Tenant.slug == slug))
            if tenant is None:
                tenant = Tenant(slug=slug, name=name, plan=plan, status=status)
                db.add(tenant)
            tenants[slug] = tenant
        users = {}
        password_hash = None
        for email, display_name, _memberships in USERS:
            user = db.scalar(select(User).where(User.email == email))
            if user is None:
                password_hash = password_hash or hash_password(DEMO_PASSWORD)
                user = User(email=email, display_name=display_name,
                            password_hash=password_hash)
                db.add(user)
            users[email] = user
        created["prices"] = ensure_demo_market(db, last_weekday_before(now.date()))
        db.flush()
        tenant_ids = {slug: tenant.id for slug, tenant in tenants.items()}
        user_ids = {email: user.id for email, user in users.items()}

    for email, _name, memberships in USERS:
        for slug, role in memberships:
            with tenancy.tenant_session_scope(tenant_ids[slug], admin=True) as db:
                if db.get(Membership, (tenant_ids[slug], user_ids[email])) is None:
                    db.add(Membership(user_id=user_ids[email], role=role))

    for slug, book in BOOKS.items():
        staff = [user_ids[email] for email, _n, ms in USERS
                 if any(s == slug and r != "viewer" for s, r in ms)]
        emails = {user_id: email for email, user_id in user_ids.items()}
        with tenancy.tenant_session_scope(tenant_ids[slug], admin=True) as db:
            created[f"{slug}.alerts"] = _seed_alerts(db, slug, book, staff, now)
            created[f"{slug}.trades"] = _seed_trades(db, slug, book, staff, now)
            created[f"{slug}.audit"] = _seed_audit(db, emails)
    return created


def _seed_alerts(db, slug, book, staff, now) -> int:
    if db.scalar(select(func.count()).select_from(Alert)):
        return 0
    rng = random.Random(f"alerts-{slug}")  # noqa: S311 (deterministic demo data)
    for _ in range(book["alerts"]):
        created_at = now - timedelta(minutes=rng.randint(5, 90 * 24 * 60))
        symbol = rng.choice(book["symbols"])
        title, figures, severity_of, _weight = rng.choices(
            ALERT_KINDS, weights=[kind[3] for kind in ALERT_KINDS])[0]
        figure = rng.randint(*figures) if figures else 0
        severity = severity_of(figure) if callable(severity_of) else severity_of
        alert = Alert(
            title=title.format(symbol=symbol, pct=figure),
            message=f"Raised by {slug} monitoring for {symbol}.",
            severity=severity,
            source=rng.choice(book["sources"]),
            tags=[symbol.lower(), severity],
            created_at=created_at,
        )
        if created_at < now - timedelta(days=3) and rng.random() < 0.8:
            alert.acknowledged_at = created_at + timedelta(minutes=rng.randint(1, 600))
            alert.acknowledged_by = rng.choice(staff)
        db.add(alert)
    return book["alerts"]


def _seed_trades(db, slug, book, staff, now) -> int:
    if db.scalar(select(func.count()).select_from(Trade)):
        return 0
    rng = random.Random(f"trades-{slug}")  # noqa: S311 (deterministic demo data)
    closes = {
        symbol: list(db.execute(
            select(Price.day, Price.close).where(Price.symbol == symbol).order_by(Price.day)
        ))
        for symbol in book["symbols"]
    }
    holdings = {symbol: Decimal(0) for symbol in book["symbols"]}
    fee_rate = Decimal("0.001")
    # Spread the book over the last 250 trading days, oldest first, so sells follow buys.
    steps = sorted(rng.randint(1, 250) for _ in range(book["trades"]))
    for back in reversed(steps):
        symbol = rng.choice(book["symbols"])
        day, close = closes[symbol][-back]
        created_at = datetime.combine(day, time(14, 30), UTC) + timedelta(
            minutes=rng.randint(0, 390))
        side = "sell" if holdings[symbol] > 50 and rng.random() < 0.35 else "buy"
        quantity = Decimal(rng.randint(10, 200))
        if side == "sell":
            quantity = min(quantity, (holdings[symbol] / 2).to_integral_value())
        trade = Trade(symbol=symbol, side=side, quantity=quantity, created_at=created_at,
                      created_by=rng.choice(staff), order_type="market")
        roll = rng.random()
        if roll < 0.05:
            trade.status, trade.reject_reason = "rejected", "Exceeded the desk's order limit"
        elif roll < 0.10:
            trade.order_type, trade.status = "limit", "cancelled"
            trade.limit_price = (close * Decimal("0.95")).quantize(Decimal("0.01"))
            trade.cancelled_at = created_at + timedelta(hours=2)
        else:
            fee = (close * quantity * fee_rate).quantize(Decimal("0.0001"))
            trade.status, trade.fill_price, trade.fee = "filled", close, fee
            trade.filled_at = created_at
            trade.fills.append(Fill(price=close, quantity=quantity, fee=fee,
                                    executed_at=created_at))
            holdings[symbol] += quantity if side == "buy" else -quantity
        db.add(trade)
    # A few resting limit orders well away from the market.
    for index, symbol in enumerate(book["symbols"][:4]):
        _day, close = closes[symbol][-1]
        db.add(Trade(
            symbol=symbol, side="buy", quantity=Decimal(25 + 5 * index), order_type="limit",
            limit_price=(close * Decimal("0.80")).quantize(Decimal("0.01")), status="pending",
            created_at=now - timedelta(hours=index + 1), created_by=staff[0],
        ))
    return book["trades"] + 4


def _seed_audit(db, emails) -> int:
    """The audit trail the seeded orders and acknowledgements would have left."""
    if db.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.client_addr == "seed")):
        return 0
    entries = []
    for trade in db.scalars(select(Trade)):
        entries.append(("order.placed", "trade", trade.id, trade.created_by, trade.created_at,
                        {"symbol": trade.symbol, "side": trade.side,
                         "quantity": str(trade.quantity), "order_type": trade.order_type}))
        if trade.cancelled_at:
            entries.append(("order.cancelled", "trade", trade.id, trade.created_by,
                            trade.cancelled_at, {}))
    for alert in db.scalars(select(Alert).where(Alert.acknowledged_at.is_not(None))):
        entries.append(("alert.acknowledged", "alert", alert.id, alert.acknowledged_by,
                        alert.acknowledged_at, {}))
    for action, target_type, target_id, actor_id, at, details in entries:
        db.add(AuditRecord(action=action, target_type=target_type, target_id=str(target_id),
                           actor_id=actor_id, actor_email=emails.get(actor_id, ""),
                           created_at=at, client_addr="seed", details=details))
    return len(entries)
