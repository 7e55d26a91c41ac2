"""Bare extension instances, bound to the app in `create_app`."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from portal.tokens import RememberingJWTManager

jwt = RememberingJWTManager()
# The login limits (portal.auth.views), each with its own key; the API's per-tenant
# allowance is portal.ratelimits.
limiter = Limiter(key_func=get_remote_address)
