"""Bare extension instances, bound to the app in `create_app`."""

from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

jwt = JWTManager()
# No default limits: login and the API each declare their own keys and limits.
limiter = Limiter(key_func=get_remote_address)
