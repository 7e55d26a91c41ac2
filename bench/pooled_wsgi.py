"""The portal for bench.load's PgBouncer run, while PORTAL_DATABASE_POOLER is not on main.

PgBouncer 1.18 in transaction mode cannot keep server-side prepared statements across
transactions, so psycopg must not prepare any (`prepare_threshold=None`). Once the official
setting lands, bench.load serves `wsgi:app` with PORTAL_DATABASE_POOLER=transaction instead.
"""

from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "do_connect")
def _no_prepared_statements(_dialect, _record, _args, params) -> None:
    params["prepare_threshold"] = None


from wsgi import app  # noqa: E402 - the listener must be in place before engines connect

__all__ = ["app"]
