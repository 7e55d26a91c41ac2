"""The tenant-bound session: the first wall between tenants.

Every ORM statement run through a `TenantSession` is narrowed to the session's tenant:
selects (joins, relationship and column loads, counts, `Session.get`) and ORM-enabled bulk
UPDATE/DELETE get `tenant_id = :tenant` on every tenant-scoped entity they touch. New objects
are stamped with the tenant before flush, and flushing another tenant's object raises. A
session without a tenant refuses tenant-scoped statements instead of returning everything.

On PostgreSQL each transaction also runs `set_config('app.tenant_id', …, true)`, which the
row-level security policies (the second wall, see migrations) read. `true` makes the setting
transaction-local, so nothing survives on a pooled connection.

Blueprint code reaches the request's session through `portal.tenancy.session`. The only way
to get an unscoped session is `unscoped_session()`, named so that every use stands out.
"""

import logging
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
from blinker import Namespace
from flask import current_app, g, has_app_context
from sqlalchemy import bindparam, delete, event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker, with_loader_criteria
from sqlalchemy.pool import Pool
from sqlalchemy.schema import Table
from sqlalchemy.sql.util import find_tables
from werkzeug.local import LocalProxy

from portal.db import TenantScoped
from portal.errors import NotFound

signals = Namespace()
# Sent with `reason=` whenever a request is refused for a tenant-context reason (bad or
# revoked token, unknown or suspended tenant, no membership, a statement that tried to leave
# the tenant). Metrics count only the reasons that concern isolation
# (portal.observability.ISOLATION_REASONS). Here, below both the web layer and auth, so
# either can send it.
tenant_refused = signals.signal("tenant-refused")


class TenantContextError(RuntimeError):
    """A tenant-scoped statement or flush without, or against, the session's tenant."""


class TenantSession(Session):
    """A session bound to exactly one tenant for its whole life."""

    def __init__(self, *args, tenant_id: uuid.UUID, **kwargs):
        if not isinstance(tenant_id, uuid.UUID):
            raise TenantContextError("a tenant session needs a tenant id")
        super().__init__(*args, **kwargs)
        self.info["tenant_id"] = tenant_id

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.info["tenant_id"]


class UnscopedSession(Session):
    """Sees every tenant. For login, commands and migrations only."""


def _tenant_scoped_mappers(state) -> bool:
    return any(
        issubclass(mapper.class_, TenantScoped) for mapper in state.all_mappers
    )


TENANT_PARAM = "portal_tenant_id"
# The tenant filter as one option object for the whole process: the tenant is a bound
# parameter whose value each execution supplies (below), not a value captured in the
# criteria, so a statement with the filter added is the same statement for every tenant.
# (The lambda names TENANT_PARAM's value literally: SQLAlchemy would track a module name
# inside it as a closure value.)
_TENANT_FILTER = with_loader_criteria(
    TenantScoped,
    lambda cls: cls.tenant_id == bindparam("portal_tenant_id"),
    include_aliases=True,
)


def derived(memo: weakref.WeakKeyDictionary, statement, build):
    """`build(statement)`, made once per statement object and kept as long as it lives: a
    statement built once (the token check's, each list's per shape of its filters) gets its
    filtered or paged form, and that form's cache key, once per process."""
    made = memo.get(statement)
    if made is None:
        made = memo[statement] = build(statement)
    return made


# Statements with the ORM filter added, and column reads narrowed by `tenant_rows`.
_filtered: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_narrowed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tenant_rows(db: TenantSession, statement, params: dict, *, final: bool = False) -> list:
    """Plain rows of `statement`, a select of one tenant-scoped table's columns, narrowed
    here to `db`'s tenant: the tenant filter without the ORM's per-statement machinery.

    The session adds `tenant_id = :portal_tenant_id` to the statement itself and binds its
    own tenant to it, on the session's transaction (after its tenant setting, so row-level
    security narrows it too). A statement that reaches any other table anywhere (a join, a
    subquery) is refused: only the ORM filter knows how to narrow those. The narrowed
    statement is built once per statement, so a statement built once per shape (the list
    pages') costs nothing to narrow; on a page of rows this is a third of the ORM's cost.

    `final=True` says the request reads nothing more in this transaction (a JSON list): on
    PostgreSQL its ROLLBACK then travels in the read's own round trip, when the transaction's
    pipeline is still open, instead of costing one more at the end of the request. The
    session's transaction is over afterwards; a later statement would begin a new one, with
    its own tenant setting, as after any commit.
    """
    narrowed = derived(_narrowed, statement, _narrowed_to_tenant)
    connection = db.connection()
    if final:
        connection.info[_END_WITH_NEXT] = True
    try:
        rows = connection.execute(narrowed, {**params, TENANT_PARAM: db.tenant_id}).all()
    finally:
        connection.info.pop(_END_WITH_NEXT, None)
    if final:
        db.rollback()  # already ended on the server: psycopg finds it idle and sends nothing
    return rows


def _narrowed_to_tenant(statement):
    tables = {table for table in find_tables(statement, check_columns=True,
                                             include_aliases=True, include_joins=True,
                                             include_selects=True, include_crud=True)
              if isinstance(table, Table)}
    if len(tables) != 1:
        raise TenantContextError("tenant_rows reads one tenant-scoped table only")
    (table,) = tables
    if "tenant_id" not in table.c:
        raise TenantContextError(f"{table.name} is not tenant-scoped")
    return statement.where(table.c.tenant_id == bindparam(TENANT_PARAM))


@event.listens_for(TenantSession, "do_orm_execute")
def _filter_to_tenant(state):
    if not (state.is_select or state.is_update or state.is_delete):
        return None
    tenant_id = state.session.info.get("tenant_id")
    if tenant_id is None:
        if _tenant_scoped_mappers(state):
            raise TenantContextError("tenant-scoped query without a tenant")
        return None
    if not state.is_select or isinstance(state.parameters, list):
        # Writes keep the tenant as a value in the criteria: the ORM evaluates an UPDATE's
        # or DELETE's criteria against the objects it holds, to bring them up to date.
        state.statement = state.statement.options(
            with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tenant_id,
                                 include_aliases=True))
        return None
    # Run here, with the session's tenant as the filter's parameter: every execution binds
    # its own session's tenant, whatever statement or cache entry it shares.
    if state.parameters is None:
        state.parameters = {}  # what invoke_statement adds the tenant to
    filtered = derived(_filtered, state.statement,
                       lambda statement: statement.options(_TENANT_FILTER))
    return state.invoke_statement(statement=filtered, params={TENANT_PARAM: tenant_id})


@event.listens_for(TenantSession, "before_flush")
def _stamp_and_check(session, _flush_context, _instances) -> None:
    tenant_id = session.info.get("tenant_id")
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if tenant_id is None:
            raise TenantContextError("cannot add tenant data without a tenant")
        if obj.tenant_id is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise TenantContextError("object belongs to another tenant")
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, TenantScoped) and obj.tenant_id != tenant_id:
            raise TenantContextError("object belongs to another tenant")


SET_CONFIG = "SELECT set_config(%s, %s, true)"
# The psycopg pipeline a transaction's settings wait in (see _set_transaction_setting), kept
# in the pooled connection's info until the transaction's first statement is sent.
_OPEN_PIPELINE = "portal.open_pipeline"
# Set by tenant_rows(final=True): the next statement ends the transaction, ROLLBACK and all.
_END_WITH_NEXT = "portal.end_with_next"
# Set while the driver is in autocommit mode so that the tenancy sends BEGIN itself
# (_take_over_begin), until the connection is back in the pool.
_OWN_BEGIN = "portal.own_begin"


def _set_transaction_setting(connection, name: str, value: str) -> None:
    """`set_config(name, value, true)`, the first statement of the transaction.

    In pipeline mode the transaction's BEGIN and this statement wait, unsent, for the
    transaction's first real statement (the token check of a request), and all of them
    travel together when it is sent (`_send_open_pipeline`): one round trip to the server
    instead of three. The BEGIN is the tenancy's own (`_take_over_begin`): psycopg's would
    wait for its answer first. The setting is as transaction-local either way, and still
    precedes every statement of the transaction.
    """
    driver = connection.connection.driver_connection
    if isinstance(driver, psycopg.Connection) and psycopg.Pipeline.is_supported():
        try:
            if _OPEN_PIPELINE not in connection.info:
                own_begin = _take_over_begin(connection, driver)
                pipeline = driver.pipeline()
                pipeline.__enter__()
                connection.info[_OPEN_PIPELINE] = pipeline
                if own_begin:
                    driver.execute("BEGIN", prepare=False)
            driver.execute(SET_CONFIG, (name, value))
        except psycopg.Error as exc:
            _close_open_pipeline(connection, suppress_errors=True)
            # Raised as SQLAlchemy raises any statement's error, so an unreachable database
            # is still told apart from a bug (portal.db.database_unavailable: a 503).
            raise DBAPIError.instance(SET_CONFIG, (name, value), exc, psycopg.Error,
                                      connection_invalidated=driver.broken) from exc
        return
    connection.execute(text("SELECT set_config(:name, :value, true)"),
                       {"name": name, "value": value})


def _take_over_begin(connection, driver: psycopg.Connection) -> bool:
    """May the tenancy send this transaction's BEGIN itself, queued in the pipeline?

    psycopg begins a transaction before its first statement and, in pipeline mode, waits for
    the BEGIN's answer before it sends anything else: a round trip of its own on every
    request. With the driver in autocommit mode psycopg sends no BEGIN, so the tenancy sends
    one, at the head of the pipeline, and the transaction is exactly what psycopg would have
    begun. The driver stays in autocommit mode (marked _OWN_BEGIN) until the connection goes
    back to the pool (`_restore_driver_transactions`), so every transaction the tenancy
    begins in that time starts with its BEGIN. psycopg's commit() and rollback() end the
    transaction as before: they look at the server's transaction status, not at autocommit.
    A connection already in a transaction, or in autocommit mode by SQLAlchemy's choice,
    is left as it is.
    """
    if driver.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return False
    if not driver.autocommit:
        driver.autocommit = True  # no round trip: the connection is idle and not pipelined
        connection.info[_OWN_BEGIN] = True
        return True
    return bool(connection.info.get(_OWN_BEGIN))  # in autocommit by the tenancy's own choice


@event.listens_for(Pool, "checkin")
def _restore_driver_transactions(dbapi_connection, record) -> None:
    # Back in the pool, after its reset: psycopg begins transactions itself again, so no code
    # outside the tenancy's transactions ever runs in autocommit mode. A connection that
    # cannot be switched back is closed rather than handed out again in autocommit mode.
    if not record.info.pop(_OWN_BEGIN, False) or dbapi_connection is None:
        return
    try:
        dbapi_connection.autocommit = False
    except psycopg.Error:
        record.invalidate()


def pipelined_scalar(db: Session, sql: str, params: tuple):
    """One value of `sql` (plain SQL with %s placeholders), read on the session's transaction
    in the round trip that carries its BEGIN and tenant setting (_set_transaction_setting),
    straight through the driver: for a small read on every request (the token check's
    standing version), SQLAlchemy's statement machinery costs more than the read. A driver
    error is raised as SQLAlchemy raises any statement's (so an outage is still a 503)."""
    connection = db.connection()
    driver = connection.connection.driver_connection
    try:
        row = driver.execute(sql, params).fetchone()
    except psycopg.Error as exc:
        _close_open_pipeline(connection, suppress_errors=True)
        raise DBAPIError.instance(sql, params, exc, psycopg.Error,
                                  connection_invalidated=driver.broken) from exc
    return None if row is None else row[0]


def _close_open_pipeline(connection, *, suppress_errors: bool = False) -> None:
    """Leave pipeline mode, sending what waits in it and reading every answer; an error of
    any of those statements is raised here (SQLAlchemy wraps it like the statement's own).
    An invalidated connection is being thrown away, pipeline and all: nothing to send."""
    if connection.invalidated or connection.closed:
        return
    pipeline = connection.info.pop(_OPEN_PIPELINE, None)
    if pipeline is None:
        return
    if not suppress_errors:
        pipeline.__exit__(None, None, None)
        return
    with suppress(psycopg.Error):
        pipeline.__exit__(None, None, None)


@event.listens_for(Engine, "after_cursor_execute")
def _send_open_pipeline(connection, _cursor, _statement, _parameters, _context, _many) -> None:
    # Called inside SQLAlchemy's error handling of the statement, so a lost connection here
    # is reported as that statement's (a 503), and its result is read only after this.
    if connection.info.pop(_END_WITH_NEXT, False) and _OPEN_PIPELINE in connection.info:
        # Queued behind the statement: if the statement fails, the pipeline skips it and the
        # session's usual rollback ends the transaction.
        connection.connection.driver_connection.execute("ROLLBACK", prepare=False)
    _close_open_pipeline(connection)


@event.listens_for(Engine, "commit")
def _send_before_commit(connection) -> None:
    _close_open_pipeline(connection)


@event.listens_for(Pool, "reset")
def _send_before_pool_reset(_dbapi_connection, record, _reset_state) -> None:
    # The last guard: a connection never goes back to the pool in pipeline mode, whatever
    # path returned it (the pool's own rollback does not pass through the Engine events).
    pipeline = record.info.pop(_OPEN_PIPELINE, None)
    if pipeline is not None:
        with suppress(psycopg.Error):
            pipeline.__exit__(None, None, None)


@event.listens_for(Engine, "rollback")
def _send_before_rollback(connection) -> None:
    # A transaction that ran no statement; the rollback that follows settles the rest.
    _close_open_pipeline(connection, suppress_errors=True)
    _roll_back_keeping_prepared(connection)


def _roll_back_keeping_prepared(connection) -> None:
    """End a sound transaction (no error in it) with a ROLLBACK sent as a statement.

    psycopg's own rollback() forgets every statement it prepared on the server and restarts
    their counts, because a failed transaction may have lost one. Every request ends with a
    rollback, so its statements never reached the five runs after which psycopg prepares
    them, and PostgreSQL parsed and planned each of them on every request. Prepared
    statements outlive a rollback (they are not transactional), so after a sound transaction
    there is nothing to forget; psycopg's rollback() then finds the connection idle and sends
    nothing. A transaction in error still goes through psycopg's rollback(), and so does one
    this cannot reach (its error is then SQLAlchemy's to report)."""
    if connection.invalidated or connection.closed:
        return
    driver = connection.connection.driver_connection
    if (isinstance(driver, psycopg.Connection)
            and driver.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS):
        with suppress(psycopg.Error):
            driver.execute("ROLLBACK", prepare=False)


@event.listens_for(TenantSession, "after_begin")
def _set_database_tenant(session, _transaction, connection) -> None:
    if connection.dialect.name == "postgresql":
        _set_transaction_setting(connection, "app.tenant_id", str(session.info["tenant_id"]))


@event.listens_for(UnscopedSession, "after_begin")
def _set_database_user(session, _transaction, connection) -> None:
    # Login needs the signing-in user's memberships across tenants; the memberships policy
    # admits rows of `app.user_id` for reading, nothing else. The API-key gate finds a key by
    # its hash before it knows the tenant, and opening an invitation link finds the invitation
    # by its token hash: their lookup policies admit the one row with that hash, for reading.
    if connection.dialect.name != "postgresql":
        return
    for setting, key in (("app.user_id", "user_id"),
                         ("app.api_key_hash", "api_key_hash"),
                         ("app.invitation_token_hash", "invitation_token_hash")):
        value = session.info.get(key)
        if value is not None:
            _set_transaction_setting(connection, setting, str(value))


def _factories():
    ext = current_app.extensions["portal_db"]
    return ext


def tenant_session(tenant_id: uuid.UUID, *, admin: bool = False) -> TenantSession:
    return _factories()["admin_tenant" if admin else "tenant"](tenant_id=tenant_id)


@contextmanager
def tenant_session_scope(tenant_id: uuid.UUID, *, admin: bool = False) -> Iterator[TenantSession]:
    """A tenant session outside a view (commands, seeding, login); commits on success.

    `admin=True` connects as the owner role (seeding on PostgreSQL); the tenant filter and
    the per-transaction tenant setting apply all the same.
    """
    with _committed(tenant_session(tenant_id, admin=admin)) as db:
        yield db


@contextmanager
def unscoped_session(*, admin: bool = False, user_id: uuid.UUID | None = None,
                     api_key_hash: str | None = None,
                     invitation_token_hash: str | None = None):
    """The one door past the tenant filter. `admin=True` connects as the owner role.

    On PostgreSQL the app role still sees no tenant rows through it, except a user's own
    memberships (`user_id`), the API key with this hash (`api_key_hash`) or the invitation
    with this token hash (`invitation_token_hash`).
    """
    factory = _factories()["admin" if admin else "unscoped"]
    db = factory()
    if user_id is not None:
        db.info["user_id"] = user_id
    if api_key_hash is not None:
        db.info["api_key_hash"] = api_key_hash
    if invitation_token_hash is not None:
        db.info["invitation_token_hash"] = invitation_token_hash
    with _committed(db):
        yield db


@contextmanager
def _committed(db: Session) -> Iterator[Session]:
    """`db` for one unit of work: committed if the block finishes, rolled back if it
    raises, closed either way."""
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


def init_app(app) -> None:
    from portal.db import make_engine

    options = {"pooler": app.config["DATABASE_POOLER"],
               "connect_timeout": app.config["DATABASE_CONNECT_TIMEOUT"]}
    engine = make_engine(app.config["DATABASE_URL"], **options)
    admin_url = app.config["ADMIN_DATABASE_URL"]
    admin_engine = (engine if admin_url == app.config["DATABASE_URL"]
                    else make_engine(admin_url, **options))
    app.extensions["portal_db"] = {
        "engine": engine,
        "admin_engine": admin_engine,
        "tenant": sessionmaker(engine, class_=TenantSession, expire_on_commit=False),
        "unscoped": sessionmaker(engine, class_=UnscopedSession, expire_on_commit=False),
        "admin": sessionmaker(admin_engine, class_=UnscopedSession, expire_on_commit=False),
        "admin_tenant": sessionmaker(admin_engine, class_=TenantSession, expire_on_commit=False),
    }

    @app.teardown_appcontext
    def _close_request_session(_exc) -> None:
        db = g.pop("db", None)
        if db is not None:
            close_session(db)


def close_session(db: Session) -> None:
    """Close `db` without raising. When the database went away mid-request, the answer (a
    503) is already chosen and the rollback on close cannot reach the server: the connection
    is dropped from the pool rather than the close turning that answer into a 500."""
    try:
        db.close()
    except DBAPIError:
        logging.getLogger("portal.db").warning(
            "request session closed on a lost database connection; connection discarded"
        )
        with suppress(DBAPIError):
            db.invalidate()


def get_engine(admin: bool = False):
    return _factories()["admin_engine" if admin else "engine"]


def lock_within_tenant(db: TenantSession, name: str) -> None:
    """Serialise one kind of change inside the session's tenant until its transaction ends.

    Used where a rule is checked before a write (a sell may not exceed the position), so two
    concurrent requests cannot both pass the check. On PostgreSQL it is a transaction-scoped
    advisory lock on (tenant, name), released by commit or rollback; other tenants never
    wait on it. SQLite, the single-process development database, has no such lock and relies
    on its one-writer-at-a-time locking.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"{db.tenant_id}:{name}"},
        )


def delete_in_batches(db: TenantSession, model, *criteria, batch_size: int) -> int:
    """Delete the session tenant's rows of `model` matching `criteria`, committing every
    `batch_size` rows, so a long backlog never becomes one huge transaction holding locks
    while requests wait. Returns how many rows went."""
    deleted = 0
    while True:
        ids = list(db.scalars(select(model.id).where(*criteria).limit(batch_size)))
        if not ids:
            return deleted
        deleted += db.execute(
            delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False)
        ).rowcount
        db.commit()
        if len(ids) < batch_size:
            return deleted


def database_reachable() -> bool:
    """Readiness: can the app's own connection run a trivial statement?"""
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure to reach the database means "not ready"
        current_app.logger.warning("database unreachable", exc_info=True)
        return False


def _request_session() -> TenantSession:
    if not has_app_context() or "db" not in g:
        raise TenantContextError("no tenant-bound session: this request has no tenant")
    return g.db


session: TenantSession = LocalProxy(_request_session)  # type: ignore[assignment]


def get_or_404(model, raw_id, *, stmt=None, id_attr: str = "id"):
    """The current tenant's row with this public id, else the one NotFound every miss gets.

    A malformed id, an unknown id and another tenant's id are indistinguishable. `stmt`
    narrows further (rows this member may see); `id_attr` names the public id column.
    """
    try:
        row_id = uuid.UUID(str(raw_id))
    except ValueError:
        raise NotFound()
    stmt = select(model) if stmt is None else stmt
    row = session.scalar(stmt.where(getattr(model, id_attr) == row_id))
    if row is None:
        raise NotFound()
    return row
