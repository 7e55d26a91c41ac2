"""PostgreSQL only: the restricted application role and its grants.

Filled in by the PostgreSQL issue; on SQLite nothing here runs.
"""

from sqlalchemy.engine import Engine


def ensure_app_role(engine: Engine, app_url: str) -> None:
    """Create the app role named in `app_url` when missing (not yet implemented)."""


def grant_app_role(engine: Engine, app_url: str) -> None:
    """Grant the app role what it needs (not yet implemented)."""
