"""Settings, read once from the environment.

Every setting has a development default so `flask --app wsgi run` works on a fresh checkout;
outside development a missing secret is an error rather than a silent weak default.
"""

import os
from datetime import timedelta

HTMX_VERSION = "2.0.8"
HTMX_DEFAULT_URL = f"https://cdn.jsdelivr.net/npm/htmx.org@{HTMX_VERSION}/dist/htmx.min.js"
# SRI hash of the file above (the npm package's dist/htmx.min.js, which is what the CDN serves).
HTMX_DEFAULT_INTEGRITY = "sha384-/TgkGk7p307TH7EXJDuUlgG3Ce1UVolAOFopFekQkkXihi5u/6OCvVKyz1W+idaz"
# PORTAL_HTMX_SOURCE=local: pages load the copy `flask --app wsgi vendor-htmx` installs here
# (under static/, gitignored) instead of the CDN's, checked against the same SRI hash.
HTMX_LOCAL_FILE = "vendor/htmx.min.js"
NPM_REGISTRY = "https://registry.npmjs.org"

DEV_SECRET = "dev-only-secret-change-me-in-production-0123456789"
# HS256 keys shorter than the hash are guessable offline from one token (RFC 7518 §3.2).
MIN_KEY_BYTES = 32
MAX_CONTENT_LENGTH = 1024 * 1024


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed; the message names it and says what to do."""


def _check_key_lengths(config: dict) -> None:
    keys = [("PORTAL_SECRET_KEY", config["SECRET_KEY"]),
            ("PORTAL_JWT_SECRET_KEY", config["JWT_SECRET_KEY"])]
    keys += [("PORTAL_JWT_PREVIOUS_KEYS", key) for key in config["JWT_PREVIOUS_KEYS"]]
    for name, key in keys:
        if len(key.encode()) < MIN_KEY_BYTES:
            raise ConfigurationError(f"{name} must be at least {MIN_KEY_BYTES} bytes outside "
                                     f"development (got {len(key.encode())})")


def _whole(env, name: str, default: str, unit: str = "seconds") -> int:
    raw = env.get(name, default)
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number of {unit}, not {raw!r}") from None


def _database_url(env, name: str, default: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = env.get(name, default)
    try:
        make_url(url).get_dialect()
    except (ArgumentError, ValueError) as error:
        raise ConfigurationError(
            f"{name} is not a database URL ({error}); expected "
            "postgresql://user:password@host:5432/database or sqlite:///path/to/file.sqlite3"
        ) from None
    return url


def _htmx_source(env) -> str:
    source = env.get("PORTAL_HTMX_SOURCE", "cdn").strip().lower()
    if source not in {"cdn", "local"}:
        raise ConfigurationError(f"PORTAL_HTMX_SOURCE must be cdn or local, not {source!r}")
    return source


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


POOLERS = ("none", "transaction")


def _pooler(value: str) -> str:
    value = value.strip().lower() or "none"
    if value == "session":  # a session pooler keeps a client on one server connection: no change
        value = "none"
    if value not in POOLERS:
        raise RuntimeError(
            f"PORTAL_DATABASE_POOLER must be one of {', '.join(POOLERS)} (got {value!r})"
        )
    return value


def _key_list(value: str | None) -> list[str]:
    return [key.strip() for key in (value or "").split(",") if key.strip()]


def _redis_or_none(uri: str) -> str | None:
    return uri if uri.split("://", 1)[0] in {"redis", "rediss"} else None


def from_environment(instance_path: str) -> dict:
    env = os.environ
    portal_env = env.get("PORTAL_ENV", "development")
    development = portal_env == "development"
    secret = env.get("PORTAL_SECRET_KEY")
    if not secret:
        if not development:
            raise ConfigurationError(
                f"PORTAL_SECRET_KEY must be set when PORTAL_ENV is {portal_env!r} (anything but "
                "'development'); set it to a long random string, e.g. the output of "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`")
        secret = DEV_SECRET
    database_url = _database_url(
        env, "PORTAL_DATABASE_URL", f"sqlite:///{os.path.join(instance_path, 'portal.sqlite3')}"
    )
    htmx_source = _htmx_source(env)
    config = {
        "PORTAL_ENV": portal_env,
        "SECRET_KEY": secret,
        "DATABASE_URL": database_url,
        "ADMIN_DATABASE_URL": _database_url(env, "PORTAL_ADMIN_DATABASE_URL", database_url),
        # flask-jwt-extended: a browser carries the token in an HttpOnly cookie, a script in
        # an Authorization header. Cookies get double-submit CSRF protection.
        "JWT_SECRET_KEY": env.get("PORTAL_JWT_SECRET_KEY", secret),
        "JWT_ALGORITHM": "HS256",
        "JWT_DECODE_ALGORITHMS": ["HS256"],
        "JWT_TOKEN_LOCATION": ["headers", "cookies"],
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(
            seconds=_whole(env, "PORTAL_TOKEN_TTL_SECONDS", "3600")
        ),
        "JWT_COOKIE_SECURE": _bool(env.get("PORTAL_COOKIE_SECURE"), not development),
        # Flask's own session cookie only carries flash messages; same flags as the token's.
        "SESSION_COOKIE_SECURE": _bool(env.get("PORTAL_COOKIE_SECURE"), not development),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "JWT_COOKIE_SAMESITE": "Lax",
        "JWT_COOKIE_CSRF_PROTECT": True,
        "JWT_CSRF_CHECK_FORM": True,
        "JWT_CSRF_IN_COOKIES": True,
        "JWT_SESSION_COOKIE": True,
        "JWT_ACCESS_COOKIE_NAME": "portal_access",
        "JWT_ACCESS_CSRF_COOKIE_NAME": "portal_csrf",
        "JWT_CSRF_FIELD_NAME": "csrf_token",
        # A browser session whose token expires within this window gets a fresh one.
        "TOKEN_REFRESH_WINDOW": timedelta(minutes=15),
        "RATELIMIT_STORAGE_URI": env.get("PORTAL_RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": False,  # Retry-After on 429 only: portal.ratelimits
        "RATELIMIT_ENABLED": _bool(env.get("PORTAL_RATELIMIT_ENABLED"), True),
        # The login budget (README "Authentication"): failures per (email, client address),
        # per client address, and a per-email ceiling above what one client may spend.
        "LOGIN_LIMIT_PER_EMAIL_CLIENT": env.get(
            "PORTAL_LOGIN_LIMIT_PER_EMAIL_CLIENT", "5 per minute; 20 per hour"),
        "LOGIN_LIMIT_PER_CLIENT": env.get(
            "PORTAL_LOGIN_LIMIT_PER_CLIENT", "20 per minute; 100 per hour"),
        "LOGIN_LIMIT_PER_EMAIL": env.get(
            "PORTAL_LOGIN_LIMIT_PER_EMAIL", "25 per minute; 100 per hour"),
        "HTMX_SOURCE": htmx_source,
        "HTMX_URL": (f"/static/{HTMX_LOCAL_FILE}" if htmx_source == "local"
                     else env.get("PORTAL_HTMX_URL", HTMX_DEFAULT_URL)),
        "HTMX_INTEGRITY": env.get("PORTAL_HTMX_INTEGRITY", HTMX_DEFAULT_INTEGRITY),
        "NPM_REGISTRY": env.get("PORTAL_NPM_REGISTRY", NPM_REGISTRY).rstrip("/"),
        "METRICS_TOKEN": env.get("PORTAL_METRICS_TOKEN") or None,
        # Where each tenant's request figures are shared by every worker: Redis when set (or
        # when the rate limits use Redis), else the Prometheus series (portal.observability).
        "METRICS_STORAGE_URI": env.get("PORTAL_METRICS_STORAGE_URI") or _redis_or_none(
            env.get("PORTAL_RATELIMIT_STORAGE_URI", "")),
        "METRICS_REDIS_PREFIX": env.get("PORTAL_METRICS_REDIS_PREFIX", "portal:tenant-requests"),
        "TRADE_FEE_RATE": env.get("PORTAL_TRADE_FEE_RATE", "0.001"),
        "LOG_LEVEL": env.get("PORTAL_LOG_LEVEL", "INFO"),
        # Operations (issue 10): poolers, outages, key rotation.
        # `transaction`: PgBouncer (or any pooler) in transaction mode sits in front of
        # PostgreSQL; see portal.db.make_engine for what changes.
        "DATABASE_POOLER": _pooler(env.get("PORTAL_DATABASE_POOLER", "none")),
        # Seconds before giving up on a new PostgreSQL connection, so an unreachable database
        # answers 503 quickly instead of holding every worker.
        "DATABASE_CONNECT_TIMEOUT": _whole(env, "PORTAL_DATABASE_CONNECT_TIMEOUT", "5"),
        # What a 503 for an unreachable database tells clients to wait (Retry-After).
        "DATABASE_RETRY_AFTER_SECONDS": _whole(env, "PORTAL_DATABASE_RETRY_AFTER", "5"),
        # Keys that signed tokens before the last rotation: still verified, never used to sign.
        "JWT_PREVIOUS_KEYS": _key_list(env.get("PORTAL_JWT_PREVIOUS_KEYS")),
        # Redis down: count in this process's memory (with a WARNING) rather than fail requests.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # Request bodies above this answer 413 (portal.web); no endpoint needs more.
        "MAX_CONTENT_LENGTH": _whole(env, "PORTAL_MAX_CONTENT_LENGTH",
                                    str(MAX_CONTENT_LENGTH), "bytes"),
    }
    if not development:
        _check_key_lengths(config)
    return config
