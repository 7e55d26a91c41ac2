"""How requests are counted for rate limiting.

The JSON API is limited per tenant, with the limit taken from the tenant's plan, so one
tenant's busy scripts never spend another tenant's allowance. Keys are namespaced by tenant.
Login has its own limits (per client address and per email, failures only) in auth.views,
kept by Flask-Limiter.

The tenant allowance is checked by `TenantAllowance` with the `limits` library directly:
one storage round trip per call (a fixed window, as Flask-Limiter counted it), the plan's
limit parsed once. Flask-Limiter's general request hook cost several times that on every
API call for one limit whose key and amount are already known once the token is checked.
"""

import logging
import math
import time
import uuid

from flask import current_app, g, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

log = logging.getLogger("portal.ratelimits")

PLAN_LIMITS = {
    "starter": "300 per minute",
    "pro": "1200 per minute",
}
EXTENSION = "portal_tenant_allowance"
NAMESPACE = "portal-api"


class TenantLimitExceeded(TooManyRequests):
    """A tenant's API allowance is spent until `retry_after` seconds from now."""


class TenantAllowance:
    """Each tenant's API allowance by plan, shared by every process through the rate-limit
    storage. While that storage is unreachable this process counts in memory (the limit
    still holds per process), logs a WARNING, and tries the storage again after
    RETRY_SECONDS."""

    RETRY_SECONDS = 30.0

    def __init__(self, storage_uri: str, plans: dict[str, str], *, fallback: bool = True):
        self.plans: dict[str, RateLimitItem] = {plan: parse(text) for plan, text in plans.items()}
        self.shared = FixedWindowRateLimiter(storage_from_string(storage_uri))
        self.local = FixedWindowRateLimiter(MemoryStorage()) if fallback else None
        self._retry_at = 0.0

    def limit_for(self, plan: str | None) -> RateLimitItem:
        return self.plans.get(plan or "starter", self.plans["starter"])

    def spend(self, tenant_id: uuid.UUID, plan: str | None) -> None:
        """Count one call; raises TenantLimitExceeded when the allowance is spent."""
        item = self.limit_for(plan)
        key = f"tenant:{tenant_id}"
        strategy = self._strategy()
        try:
            allowed = strategy.hit(item, NAMESPACE, key)
        except Exception as exc:  # the storage's own errors (redis, memcached, ...)
            if strategy is self.local or self.local is None:
                raise
            self._retry_at = time.monotonic() + self.RETRY_SECONDS
            log.warning("rate limit storage unreachable (%s): counting in this process's "
                        "memory for %.0f s", exc, self.RETRY_SECONDS)
            strategy = self.local
            allowed = strategy.hit(item, NAMESPACE, key)
        if not allowed:
            reset = strategy.get_window_stats(item, NAMESPACE, key).reset_time
            retry = max(1, min(math.ceil(reset - time.time()), item.get_expiry()))
            raise TenantLimitExceeded(retry_after=retry)

    def _strategy(self) -> FixedWindowRateLimiter:
        if self.local is not None and time.monotonic() < self._retry_at:
            return self.local
        return self.shared


def check_tenant_allowance() -> None:
    """Only signed-in API calls count against the tenant's allowance."""
    tenant_id = g.get("tenant_id")
    if tenant_id is None or not request.path.startswith("/api/"):
        return
    allowance = current_app.extensions.get(EXTENSION)
    if allowance is not None:
        tenant = g.get("tenant")
        allowance.spend(tenant_id, tenant.plan if tenant is not None else None)


def init_app(app, limiter) -> None:
    """Registered after the token check, whose hook finds the tenant and its plan.

    Flask-Limiter keeps only the login limits, which its decorators check inside the views
    they wrap; its own request hook, which looks for limits on every request (default and
    application limits, which the portal has none of), is taken off again.
    """
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:  # absent when limits are switched off
        hooks.remove(limiter._check_request_limit)
    if not app.config["RATELIMIT_ENABLED"]:
        return
    app.extensions[EXTENSION] = TenantAllowance(
        app.config["RATELIMIT_STORAGE_URI"], app.config.get("PLAN_RATE_LIMITS", PLAN_LIMITS),
        fallback=app.config.get("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True),
    )
    app.before_request(check_tenant_allowance)


def retry_after_seconds(exc, limiter) -> int:
    """Seconds until the breached limit's window starts afresh: the 429's `Retry-After`.

    The limiter's own X-RateLimit headers are off (RATELIMIT_HEADERS_ENABLED): they cost two
    more storage round trips on every request to say what only a refused request needs.
    """
    if isinstance(exc, TenantLimitExceeded) and exc.retry_after is not None:
        return exc.retry_after
    breached = limiter.current_limit
    if breached is None:
        return 1
    return max(1, math.ceil(breached.window.reset_time - time.time()))
