"""How requests are counted for rate limiting.

The JSON API is limited per tenant, with the limit taken from the tenant's plan, so one
tenant's busy scripts never spend another tenant's allowance. Keys are namespaced by tenant.
Login has its own limits (per client address and per email, failures only) in auth.views.
"""

import math
import time

from flask import current_app, g, request
from flask_limiter.util import get_remote_address

PLAN_LIMITS = {
    "starter": "300 per minute",
    "pro": "1200 per minute",
}


def request_key() -> str:
    tenant_id = g.get("tenant_id")
    if tenant_id is not None:
        return f"tenant:{tenant_id}"
    return f"client:{get_remote_address()}"


def tenant_plan_limit() -> str:
    tenant = g.get("tenant")
    limits = current_app.config.get("PLAN_RATE_LIMITS", PLAN_LIMITS)
    plan = tenant.plan if tenant is not None else "starter"
    return limits.get(plan, limits["starter"])


def exempt_from_tenant_limit() -> bool:
    """Only signed-in API calls count against the tenant's allowance."""
    return g.get("tenant_id") is None or not request.path.startswith("/api/")


def retry_after_seconds(limiter) -> int:
    """Seconds until the breached limit's window starts afresh: the 429's `Retry-After`.

    The limiter's own X-RateLimit headers are off (RATELIMIT_HEADERS_ENABLED): they cost two
    more storage round trips on every request to say what only a refused request needs.
    """
    breached = limiter.current_limit
    if breached is None:
        return 1
    return max(1, math.ceil(breached.window.reset_time - time.time()))
