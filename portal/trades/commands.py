"""Trade commands (filled in by the trades issue)."""


def register(app) -> None:
    """Add trade commands such as match-orders to the CLI (not yet implemented)."""
