"""Read-only facts about the portal itself: its database."""

from portal import tenancy


def database_backend() -> str:
    return tenancy.get_engine().dialect.name


def database_ready() -> bool:
    return tenancy.database_reachable()
