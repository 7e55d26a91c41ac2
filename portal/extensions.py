"""Bare extension instances, bound to the app in `create_app`."""

from flask_limiter import Limiter

from portal.ratelimits import exempt_from_tenant_limit, request_key, tenant_plan_limit
from portal.tokens import RememberingJWTManager

jwt = RememberingJWTManager()
limiter = Limiter(
    key_func=request_key,
    application_limits=[tenant_plan_limit],
    application_limits_exempt_when=exempt_from_tenant_limit,
)
