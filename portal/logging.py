"""Every log record carries the tenant and request id of the request that emitted it.

The filter sits on the handler, so records from any `portal.*` logger (and from libraries that
log through the root logger while a request is served) get the fields without the call site
doing anything.
"""

import logging
import sys

from flask import g, has_request_context

LOG_FORMAT = (
    "%(asctime)s %(levelname)s [Tenant: %(tenant)s] [Request: %(request_id)s] "
    "%(name)s: %(message)s"
)


class TenantContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        tenant = "-"
        request_id = "-"
        if has_request_context():
            tenant_id = g.get("tenant_id")
            tenant = str(tenant_id) if tenant_id else "-"
            request_id = g.get("request_id") or "-"
        record.tenant = tenant
        record.request_id = request_id
        return True


# Flask-Limiter says here when Redis is unreachable and it counts in memory instead.
LOGGERS = ("portal", "flask-limiter")


def configure_logging(app) -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(app.config["LOG_LEVEL"])
        if not any(getattr(h, "_portal", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(LOG_FORMAT))
            handler.addFilter(TenantContextFilter())
            handler._portal = True
            logger.addHandler(handler)
        logger.propagate = True
