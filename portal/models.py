"""Imports every model so `Base.metadata` is complete (for Alembic and tests)."""

from portal.alerts.models import Alert
from portal.apikeys.models import ApiKey
from portal.audit.models import AuditRecord
from portal.auth.models import Membership, RevokedSession, Tenant, User
from portal.db import Base
from portal.idempotency.models import IdempotencyRecord
from portal.market.models import Instrument, Price
from portal.members.models import Invitation
from portal.trades.models import Fill, Trade

__all__ = [
    "Alert",
    "ApiKey",
    "AuditRecord",
    "Base",
    "Fill",
    "IdempotencyRecord",
    "Instrument",
    "Invitation",
    "Membership",
    "Price",
    "RevokedSession",
    "Tenant",
    "Trade",
    "User",
]
