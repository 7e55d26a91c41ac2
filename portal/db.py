"""Engine, declarative base and the column types every model shares.

Sessions live in `portal.tenancy`: the tenant-bound one that blueprints use and the one
explicitly named unscoped session for login, commands and migrations.
"""

import time
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import orjson
import psycopg
import psycopg.types.json
from sqlalchemy import (
    DateTime,
    ForeignKey,
    MetaData,
    Numeric,
    String,
    Uuid,
    create_engine,
    event,
)
from sqlalchemy import exc as sqlalchemy_exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        return _aware_utc(value)

    def result_processor(self, dialect, coltype):
        # One call per value where the driver needs no conversion first, instead of the
        # TypeDecorator's two wrappers: a list page reads a hundred or more of these.
        if self.impl_instance.result_processor(dialect, coltype) is None:
            return _aware_utc
        return super().result_processor(dialect, coltype)


def _aware_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Money(TypeDecorator):
    """Exact decimals: NUMERIC on PostgreSQL, text on SQLite (whose NUMERIC is a float).

    Read back as plain decimals, without the padding zeros of the storage scale (100, 1.5,
    never 100.0000000000 nor 1E+2): PostgreSQL trims them itself (`trim_scale`, added to
    every Money column a statement selects or returns), SQLite's text is trimmed here.
    """

    impl = Numeric(28, 10)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(28, 10))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return _plain_or_none(value)

    def column_expression(self, column):
        return _TrimScale(column)

    def result_processor(self, dialect, coltype):
        if dialect.name == "postgresql":
            # Trimmed by the server (column_expression): psycopg's Decimal is already plain,
            # which spares a list page a Python call and three Decimal operations per value.
            return None
        return _plain_or_none


class _TrimScale(FunctionElement):
    """`trim_scale(x)` on PostgreSQL, `x` itself elsewhere; typed Money."""

    name = "trim_scale"
    inherit_cache = True
    type = Money()


@compiles(_TrimScale)
def _as_stored(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(_TrimScale, "postgresql")
def _trimmed(element, compiler, **kw):
    return f"trim_scale({compiler.process(element.clauses, **kw)})"


def _plain_or_none(value) -> Decimal | None:
    return None if value is None else plain_decimal(Decimal(value))


def plain_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent form: 100.0000 -> 100, 1.50 -> 1.5.

    Both backends then read back the same digits (PostgreSQL pads NUMERIC to its scale).
    """
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


STORAGE_PLACES = Decimal("1e-10")


def decimal_string(value: Decimal) -> str:
    """Exact decimal text for JSON and pages: at most the storage scale (10 places), plain
    digits (never 1E+3), no padding zeros."""
    text = str(value)  # plain digits, unless an exponent is due (1E+3, 1E-7) or not finite
    if "E" in text and value.is_finite():
        text = format(value, "f")
    if text[-1].isdigit():  # finite
        point = text.find(".")
        if point < 0:
            return text
        text = text.rstrip("0")
        if len(text) - point <= 11:
            # At most the scale's digits after the point once padding zeros go (every stored
            # value, and a product of two): nothing to round.
            return text.rstrip(".")
    with localcontext() as context:
        context.prec = 60  # wide enough that quantizing a large notional never overflows
        rounded = value.quantize(STORAGE_PLACES, rounding=ROUND_HALF_EVEN)
        return format(plain_decimal(rounded), "f")


def public_columns(model) -> list:
    """A model's mapped columns except the tenant, for reads that want plain rows.

    Selecting these through the tenant-bound session still goes through its tenant filter
    (the entity is in the FROM clause); the rows skip the ORM's identity map, and the tenant
    cannot reach a response because it is never read.
    """
    return [getattr(model, column.key) for column in model.__mapper__.column_attrs
            if column.key != "tenant_id"]


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class TenantScoped:
    """Mixin for every table that belongs to one customer.

    `tenant_id` is part of the primary key, so it leads the key's index, and children can
    reference `(tenant_id, id)` so a row can never point at another tenant's parent. The
    tenant-bound session filters and stamps it; nothing else should touch it.
    """

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            Uuid, ForeignKey("tenants.id"), primary_key=True, nullable=False, sort_order=-10
        )


def make_engine(url: str, *, pooler: str = "none", connect_timeout: int | None = None,
                **kwargs) -> Engine:
    """An engine for `url`. On PostgreSQL: `pooler="transaction"` when a transaction pooler
    (PgBouncer `pool_mode = transaction`) sits in front; `connect_timeout` in seconds."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    connect_args = kwargs.setdefault("connect_args", {})
    if connect_timeout:
        connect_args.setdefault("connect_timeout", connect_timeout)
    if pooler == "transaction":
        # A transaction pooler gives each transaction whichever server connection is free.
        # psycopg prepares a statement on the server after a few runs and later names it,
        # so the next transaction finds it missing (or already there) on another server
        # connection: turn server-side prepared statements off. Nothing else here outlives a
        # transaction: the tenant is set with set_config(..., true) per transaction and the
        # only advisory lock is pg_advisory_xact_lock (portal.tenancy).
        connect_args["prepare_threshold"] = None
    engine = create_engine(url, **kwargs)
    _ping_after_idle(engine)

    @event.listens_for(engine, "connect")
    def _session_defaults(dbapi_connection, _record) -> None:
        # jsonb columns (alert tags, audit details) are decoded for every row of a page;
        # orjson does it several times faster than the json module, to the same values.
        psycopg.types.json.set_json_loads(orjson.loads, dbapi_connection)
        # Times are UTC throughout the portal, so the session's time zone is too, whatever
        # the server's default (Debian's is 'Etc/UTC'). Named exactly 'UTC', psycopg hands
        # back timestamps in datetime.UTC itself, which UTCDateTime passes on as they are;
        # under any other name each of a page's timestamps is converted in Python. A SET
        # outside a transaction is session state that PgBouncer keeps for this client
        # (TimeZone is one of the parameters it tracks), even in transaction pooling.
        dbapi_connection.execute("SET TIME ZONE 'UTC'")  # pooler-safe: PgBouncer tracks it
        dbapi_connection.commit()

    return engine


PING_AFTER_IDLE_SECONDS = 1.0


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it has sat idle for a while.

    A connection that died while the database (or PgBouncer) was away is replaced at
    checkout, so the portal recovers by itself. Pinging every checkout (`pool_pre_ping`)
    costs a round trip per request, though a connection used a moment ago is almost surely
    alive; one that dies under load fails its statement, which SQLAlchemy reports as a
    disconnect (a 503 with Retry-After) while it empties the pool of its siblings.
    """

    @event.listens_for(engine, "checkin")
    def _note_idle_since(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()
        except psycopg.Error as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise sqlalchemy_exc.DisconnectionError(str(exc)) from exc


UNAVAILABLE_SQLSTATE_CLASSES = (
    "08",  # connection exception (PgBouncer reports a lost server as 08P01)
    "53",  # insufficient resources: too many connections
    "57",  # operator intervention: admin shutdown, cannot connect now, statement timeout
)
UNAVAILABLE_SQLITE_ERRORS = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN")


def database_unavailable(exc: BaseException) -> bool:
    """Is `exc` the database being away or overwhelmed (retry later), not a bug?"""
    if isinstance(exc, sqlalchemy_exc.TimeoutError):  # no pooled connection came free
        return True
    if not isinstance(exc, sqlalchemy_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, sqlalchemy_exc.OperationalError):
        return False
    original = exc.orig
    if hasattr(original, "sqlstate"):  # psycopg; no sqlstate: the connection itself failed
        sqlstate = original.sqlstate
        return sqlstate is None or sqlstate.startswith(UNAVAILABLE_SQLSTATE_CLASSES)
    return getattr(original, "sqlite_errorname", None) in UNAVAILABLE_SQLITE_ERRORS
