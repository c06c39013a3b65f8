"""Database engines and the one-transaction-per-request session.

SQLite (the embedded default) runs in WAL mode with `synchronous=FULL`, so a
write acknowledged to a client survives a crash or power cut. A request that
may write opens its transaction with `BEGIN IMMEDIATE`, so concurrent writers
queue on the lock instead of failing half way; within one process they queue
on an asyncio lock first, because SQLite's own busy handler waits by sleeping
and polling. Reads (GET, HEAD) begin deferred and never wait for a writer: WAL
gives them a snapshot. PostgreSQL (production) goes through asyncpg; there a
request that only reads sends its statements without a transaction (`read_only`).

A transaction that hands work to a background job of this process (an outbox
event, a webhook delivery) wakes the job once it commits: `wake_after_commit`;
other work that must follow a commit, never precede it, goes through
`after_commit`. Rows a request writes about itself (its audit record) join its
transaction at the end through `before_request_commit`, so a change commits once.
A request's transaction that comes to one statement (a ticket opened: the ticket,
its history, its event and its audit record, `insert_new`) is sent alone on
PostgreSQL, without BEGIN and COMMIT: a statement is atomic on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg  # type: ignore[import-untyped]  # it ships no type information
from fastapi import Depends, FastAPI, Request, Response
from sqlalchemy import (
    CTE,
    DateTime,
    Index,
    Insert,
    Table,
    bindparam,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import SessionTransaction, configure_mappers, make_transient_to_detached
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util.concurrency import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue
from sqlalchemy.util.queue import Empty as PoolQueueEmpty
from sqlmodel import Session as SyncSession
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import Scope

from deskside_kit.background import Wakeup
from deskside_kit.problems import DatabaseUnavailable, domain_problem
from deskside_kit.settings import DEFAULT_POOL_SIZE, DEFAULT_POOL_TIMEOUT

SQLITE_BUSY_TIMEOUT_MS = 30_000
# A pooled PostgreSQL connection unused for longer is checked before it is handed out.
PING_AFTER_IDLE_SECONDS = 10.0
_IDLE_SINCE = "deskside_idle_since"
# In a session's `info`: what its transaction asked to run once it commits, and this
# process's outbox relay.
_AFTER_COMMIT = "deskside_after_commit"
# In a session's `info`: its transaction has a connection (it has sent, or is about to
# send, a statement).
_CONNECTED = "deskside_connected"
# In a request session's `info`: the request's last `before_request_commit` hook is
# running, and what it may write alone (`insert_new`) would end the transaction.
_LAST_HOOK = "deskside_last_hook"
# In a request session's `info`: its transaction's one statement was sent alone.
_SENT_ALONE = "deskside_sent_alone"
OUTBOX_WRITTEN = "deskside_outbox_written"
# In a request's scope state: what joins the request's write transaction just before it
# commits (`before_request_commit`).
_BEFORE_COMMIT = "deskside.before_request_commit"

# Given the request's transaction and the status its answer is about to have.
RequestCommitHook = Callable[[AsyncSession, int], Awaitable[None]]
# In a request's scope state: what undoes, after a failed write, work it did outside
# its transaction (`if_request_fails`).
_IF_FAILED = "deskside.if_request_fails"

logger = logging.getLogger("deskside.database")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone; without this a timestamp would come back naive and
    leave the API without its `Z`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing a naive datetime: Deskside stores UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


async def migrate(engine: AsyncEngine, script_location: str) -> None:
    """Bring the database behind `engine` to its newest revision (`deskside_kit.migrations`).

    Alembic is imported on the first migration, not with this module: it holds about
    10 MiB of a process for good, and production replicas never migrate (`migrate`
    runs once, before them), so a served process should never load it.
    """
    from deskside_kit.migrations import upgrade_database

    await upgrade_database(engine, script_location)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def dialect_of(session: AsyncSession) -> str:
    """ "postgresql" or "sqlite": the database behind `session`.

    Read from the session's engine, so asking opens no transaction: a caller that
    still has to choose its isolation level can ask first.
    """
    bind = session.bind
    assert bind is not None  # the kit's sessions are always bound to an engine
    return bind.dialect.name


class _FirstComeFirstServed(AsyncAdaptedQueue[Any]):
    """A pool's idle connections, handed to whoever has waited longest.

    SQLAlchemy's queue wakes the longest waiter when a connection comes back, but
    anyone asking before that waiter runs takes the connection instead, and the
    waiter goes to the back of the line. With 64 requests sharing 10 connections,
    some waited seconds while later ones went through: a list's p99 went from
    0.65 s to 3.8 s. Here a connection handed back goes straight to the first waiter,
    and no one takes an idle connection while others wait.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[asyncio.Future[Any]] = deque()

    def put_nowait(self, item: Any) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # one that gave up (timed out, cancelled) is skipped
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if self._someone_waits():
            if not block:
                raise PoolQueueEmpty()
        else:
            try:
                return self.get_nowait()
            except PoolQueueEmpty:
                if not block:
                    raise
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            # On time-out `wait_for` cancels the waiter; a connection handed to it in that
            # same moment is still returned, never lost.
            return await_(asyncio.wait_for(waiter, timeout))
        except TimeoutError as error:
            raise PoolQueueEmpty() from error

    def _someone_waits(self) -> bool:
        return any(not waiter.done() for waiter in self._waiters)


class _FairPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's pool for asyncio, its waiters served in turn (`_FirstComeFirstServed`)."""

    _queue_class = _FirstComeFirstServed


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine for `url`, tuned for the embedded or the production database.

    Its pool is a fixed set of connections, `DEFAULT_POOL_SIZE` unless `pool_size`
    says otherwise, never topped up for a burst: a request finding every connection
    busy waits for one, in turn (`_FirstComeFirstServed`), `DEFAULT_POOL_TIMEOUT`
    seconds at most (then 503, see `answer_503_when_the_database_is_out_of_reach`).
    Connections opened beyond a pool are closed as soon as they are handed back,
    and each opening is dear: an aiosqlite connection is a thread plus the pragmas
    below, a PostgreSQL one a new server process. Under 64 concurrent requests a
    pool of 10 plus 10 such extras opened some 20 a second, and GETs went about a
    tenth faster without them. Waiting also keeps a storm of requests from
    swamping the database with sessions.
    """
    options.setdefault("poolclass", _FairPool)
    options.setdefault("pool_size", DEFAULT_POOL_SIZE)
    options.setdefault("max_overflow", 0)
    options.setdefault("pool_timeout", DEFAULT_POOL_TIMEOUT)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **options)
        _tune_sqlite(engine)
        return engine
    # Unless the caller chose pre-pinging (on or off) itself.
    ping_when_idle = "pool_pre_ping" not in options
    options["connect_args"] = {
        "async_creator_fn": _open_postgres_connection,
        **options.get("connect_args", {}),
    }
    engine = create_async_engine(url, **options)
    if ping_when_idle:
        _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection on checkout only if it sat unused for a while.

    SQLAlchemy's `pool_pre_ping` checks on every checkout, and for asyncpg a check is
    three round trips (BEGIN, an empty query, ROLLBACK): a busy service paid more for
    them than for its own statements. A connection used moments ago is as good as a
    checked one; one that sat idle may have been dropped by a server restart, a
    failover or a firewall, and is then replaced before anyone uses it. Should the
    server go away between two uses close together, that one use fails and SQLAlchemy
    discards every pooled connection of the old server at once.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        # Empty for a connection just opened: its `info` goes with the DBAPI connection.
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool's documented answer: it discards this connection, and every other
            # it opened before now (the server likely restarted), and opens a new one.
            raise InvalidatePoolError("a pooled connection that sat idle is gone") from exc


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that later writes can fail with SQLITE_BUSY
        # without waiting; taking the write lock up front makes writers queue.
        read_only = connection.get_execution_options().get(_READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


_READ_ONLY_OPTION = "deskside_read_only"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, for work that only reads.

    On PostgreSQL each statement runs on its own, without BEGIN and COMMIT. At
    READ COMMITTED, PostgreSQL's default and the level Deskside runs at, each
    statement of a transaction takes a snapshot of its own anyway, so the
    transaction around a request's reads bought nothing but two round trips: two
    of a ticket GET's three. A read that needs one snapshot for several
    statements asks for its isolation level when it takes its connection (the
    tickets reports' `begin_report`). SQLite keeps a deferred transaction, whose
    reads share one snapshot.
    """
    options: dict[str, Any] = {_READ_ONLY_OPTION: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    return engine.execution_options(**options)


class _Session(SyncSession):
    """The kit's sessions: they run what was asked for once their transaction commits."""


@event.listens_for(_Session, "after_commit")
def _run_after_commit(session: SyncSession) -> None:
    for action in session.info.pop(_AFTER_COMMIT, ()):
        action()


@event.listens_for(_Session, "after_begin")
def _note_connected(session: SyncSession, _transaction: Any, _connection: Any) -> None:
    session.info[_CONNECTED] = True


@event.listens_for(_Session, "after_transaction_end")
def _forget_the_transaction(session: SyncSession, transaction: SessionTransaction) -> None:
    # Runs after `after_commit`: actions left here belong to a rolled-back transaction.
    if transaction.parent is None:
        session.info.pop(_AFTER_COMMIT, None)
        session.info.pop(_CONNECTED, None)
        session.info.pop(_SENT_ALONE, None)


def has_connection(session: AsyncSession) -> bool:
    """Whether the session's transaction holds a connection yet (so has sent, or will)."""
    return bool(session.info.get(_CONNECTED))


def wake_after_commit(session: AsyncSession, wakeup: Wakeup) -> None:
    """Wake a background job once the session's transaction commits; never if it rolls back.

    For work the transaction hands to a job of this process (an outbox event,
    a webhook delivery): the job starts on it at once instead of at its next
    tick, and never before the rows are there for it to see.
    """
    after_commit(session, wakeup.wake)


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run `action` once the session's transaction commits; never if it rolls back.

    Asked twice for the same action (a bound method of the same object), it runs once.
    """
    session.info.setdefault(_AFTER_COMMIT, set()).add(action)


async def insert_new(
    session: AsyncSession, *, last: tuple[type[SQLModel], dict[str, Any]] | None = None
) -> Any:
    """Write the rows `session` holds as new; on PostgreSQL in one statement.

    A flush sends one INSERT per table, each its own round trip, and keeps a
    unit of work's books for every row: for a ticket with its history and its
    event that was a quarter of a create's CPU. PostgreSQL takes all the rows in
    one statement instead, each an INSERT in a `WITH`; the rows of a table are
    numbered in the order they were added. Foreign keys are checked at the
    statement's end, so a child may come in the same statement as its parent.

    When the request's last `before_request_commit` hook calls it and the
    transaction has sent nothing yet, the statement is all the transaction is:
    it goes alone, in autocommit, and PostgreSQL's own implicit transaction
    makes it atomic. That saves BEGIN and COMMIT, two of a create's three round
    trips; the session's commit then sends nothing. The hook must send nothing
    after it (the request fails if the commit finds more to write). The
    fall-backs below (a flush) stay in the transaction.

    Afterwards a row whose primary key it chose itself (a ticket) is in the
    session as if flushed, so a change to it is an UPDATE. A row whose key the
    database assigns (an outbox event, a history row) leaves the session: the
    statement does not read the keys back, so such rows must not be needed
    again in the transaction. SQLite, which has no INSERT in a `WITH`, flushes;
    so does a savepoint, and a row that leaves a column to a column default.

    `last` is one more row, given as its model and a dict of its values (no
    table model made): it goes in after the others, and its key, which the
    database assigns, is returned. A request's audit record comes so with the
    change it records.
    """
    rows: list[SQLModel] = list(session.new)  # in the order they were added
    if not rows and last is None:
        return None
    if dialect_of(session) != "postgresql" or session.in_nested_transaction():
        # Inside a savepoint the rows must be the savepoint's, for its rollback to
        # take them out of the session again: only a flush records them so.
        await session.flush()
        return await _insert_last(session, last)
    # Each row's table and columns, in the order they were added: the statement's shape.
    shape: list[tuple[Table, tuple[str, ...]]] = []
    parameters: dict[str, Any] = {}
    for n, row in enumerate(rows):
        table, columns = _columns_of(type(row))
        # A pending object holds its values in its `__dict__`; one never set reads as None.
        held = vars(row)
        values = {}
        for column in columns:
            value = held.get(column.attribute)
            if value is None and column.numbered_by_database:
                continue  # the database numbers the row
            if value is None and column.has_default:
                # Left to a column default, whose value the object should then hold: a
                # flush reads it back, this statement would not.
                await session.flush()
                return await _insert_last(session, last)
            values[column.name] = value
        shape.append((table, tuple(values)))
        parameters.update({f"r{n}_{key}": value for key, value in values.items()})
    if last is not None:
        model, values = last
        shape.append((inspect(model).local_table, tuple(values)))
        parameters.update({f"r{len(rows)}_{key}": value for key, value in values.items()})
    statement = _insert_together(tuple(shape), returning_last=last is not None)
    if session.info.get(_LAST_HOOK) and not has_connection(session):
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        session.info[_SENT_ALONE] = True
    with session.no_autoflush:  # the rows are written by this statement, not by a flush
        result = await session.exec(statement, params=parameters)
    last_key = result.scalar_one() if last is not None else None
    for row in rows:
        session.expunge(row)
        if None not in inspect(type(row)).primary_key_from_instance(row):
            make_transient_to_detached(row)
            session.add(row)
    return last_key


async def _insert_last(
    session: AsyncSession, last: tuple[type[SQLModel], dict[str, Any]] | None
) -> Any:
    """`insert_new`'s `last` row on its own, once the others are written; its key."""
    if last is None:
        return None
    model, values = last
    statement = _insert_returning_key(inspect(model).local_table)
    return (await session.exec(statement, params=values)).scalar_one()


@functools.cache
def _insert_returning_key(table: Table) -> Insert:
    return insert(table).returning(next(iter(table.primary_key.columns)))


_Model = TypeVar("_Model", bound=SQLModel)

# Defaults that can be shared between rows as they are; any other is copied for each row.
_SHARED_DEFAULTS = (type(None), bool, int, float, str, bytes, Enum)


@dataclass(frozen=True)
class _Field:
    name: str
    required: bool
    default: Any = None
    # Makes the default anew for each row: a default factory, or a copy of a mutable default.
    make_default: Callable[[], Any] | None = None


@functools.cache
def _fields(model: type[SQLModel]) -> tuple[_Field, ...]:
    """How `model`'s fields are filled in, worked out once per model."""
    configure_mappers()  # what constructing an instance would do first
    fields = []
    for name, info in model.model_fields.items():
        if info.alias not in (None, name) or info.default_factory_takes_validated_data:
            # Neither is used by a table model of Deskside; `new_instance` would get it wrong.
            raise TypeError(f"{model.__name__}.{name}: an alias or a data-taking factory")
        if info.is_required():
            fields.append(_Field(name, required=True))
        elif info.default_factory is not None:
            fields.append(_Field(name, required=False, make_default=info.default_factory))  # type: ignore[arg-type]
        elif isinstance(info.default, _SHARED_DEFAULTS):
            fields.append(_Field(name, required=False, default=info.default))
        else:  # a mutable default: pydantic's own copy of it for each row
            make = functools.partial(info.get_default, call_default_factory=True)
            fields.append(_Field(name, required=False, make_default=make))
    return tuple(fields)


def _filled_in(
    model: type[SQLModel], values: dict[str, Any], *, leave_out: str | None = None
) -> dict[str, Any]:
    # `values` with every field it lacks filled in by its default, as constructing the
    # model would; the `leave_out` field only if it was given.
    row = {}
    for spec in _fields(model):
        if spec.name in values:
            row[spec.name] = values.pop(spec.name)
        elif spec.required:
            raise TypeError(f"{model.__name__} needs a value for {spec.name}")
        elif spec.name != leave_out:
            row[spec.name] = spec.default if spec.make_default is None else spec.make_default()
    if values:
        raise TypeError(f"{model.__name__} has no field {', '.join(values)}")
    return row


def new_row(model: type[SQLModel], **values: Any) -> dict[str, Any]:
    """A new row of `model` as a plain dict, its defaults filled in: for `insert_rows`.

    Making a table model costs a validation and a trip through the ORM's
    instrumentation for every field, about 100 µs for a wide row: more than
    writing it. A batch that only inserts needs none of that.
    """
    numbered_by_database = model.__table__.autoincrement_column  # type: ignore[attr-defined]
    return _filled_in(
        model,
        values,
        leave_out=None if numbered_by_database is None else numbered_by_database.key,
    )


def new_instance(model: type[_Model], **values: Any) -> _Model:
    """`model(**values)` for a table model, for a fraction of its cost.

    SQLModel's constructor sets each field through both SQLAlchemy's
    instrumentation and pydantic's `__setattr__`: 150 µs for a ticket's 54
    fields, and with its history row and event about a fifth of a create's
    CPU. A new object needs neither: the ORM inserts a pending object's values
    as they are in its `__dict__`. This makes the same object (the same values,
    defaults and set fields) from one dict; a change made to it later goes
    through the instrumentation as usual. A model with relationships or a
    post-init hook is refused: those need the constructor.
    """
    if model.__sqlmodel_relationships__ or model.__pydantic_post_init__:
        # Setting a relationship does more than store a value, and a post-init hook
        # (private attributes have one) must run: this would skip both.
        raise TypeError(f"{model.__name__} has relationships or a post-init hook")
    given = set(values)
    row = _filled_in(model, values)
    instance: _Model = inspect(model).class_manager.new_instance()
    instance.__dict__.update(row)
    object.__setattr__(instance, "__pydantic_fields_set__", given)
    return instance


async def insert_rows(
    session: AsyncSession, model: type[SQLModel], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert `new_row` dicts of one table: one statement for many rows, compiled once."""
    if rows:
        await session.exec(insert(model.__table__), params=rows)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Column:
    attribute: str  # the model's name for it
    name: str  # the table's
    numbered_by_database: bool
    has_default: bool


@functools.cache
def _columns_of(model: type[SQLModel]) -> tuple[Table, tuple[_Column, ...]]:
    # What `insert_new` asks of each row's columns, worked out once per model.
    mapper = inspect(model)
    table = mapper.local_table
    columns = []
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        columns.append(
            _Column(
                attribute=attribute.key,
                name=column.key,
                numbered_by_database=column is table.autoincrement_column,
                has_default=column.default is not None or column.server_default is not None,
            )
        )
    return table, tuple(columns)


@functools.lru_cache(maxsize=64)
def _insert_together(
    shape: tuple[tuple[Table, tuple[str, ...]], ...], *, returning_last: bool
) -> Insert:
    # An INSERT per row, all parts of one WITH. PostgreSQL runs the parts in an order
    # of its choosing, but a part that reads another's output runs after it: each
    # further row of a table is an INSERT ... SELECT from the row before, so the rows
    # the database numbers (history, outbox) are numbered in the order they came.
    # One row per INSERT, and built once per shape: SQLAlchemy caches neither a
    # multi-row VALUES nor a statement built anew, and compiling cost more than the
    # round trips saved.
    parts: list[CTE] = []
    previous: dict[Table, CTE] = {}
    for n, (table, columns) in enumerate(shape):
        values = [bindparam(f"r{n}_{name}", type_=table.c[name].type) for name in columns]
        prior = previous.get(table)
        statement = (
            insert(table).values(dict(zip(columns, values, strict=True)))
            if prior is None
            else insert(table).from_select(columns, select(*values).select_from(prior))
        )
        key = next(iter(table.primary_key.columns))
        if n == len(shape) - 1:
            statement = statement.add_cte(*parts)
            return statement.returning(key) if returning_last else statement
        previous[table] = part = statement.returning(key).cte(f"row_{n}")
        parts.append(part)
    raise AssertionError("a shape has rows")


@dataclass(frozen=True)
class Sessions:
    """How a service opens request transactions; made once per app, in its lifespan."""

    engine: AsyncEngine
    writing: async_sessionmaker[AsyncSession]
    reading: async_sessionmaker[AsyncSession]
    # SQLite has one writer at a time: this process's writers wait here, without polling.
    write_lock: asyncio.Lock | None
    # Woken when a transaction that recorded outbox events commits: the relay waits on it.
    outbox_written: Wakeup = field(default_factory=Wakeup)

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> Sessions:
        outbox_written = Wakeup()
        return cls(
            engine=engine,
            # Every writing session knows the wake-up, so `record_event` needs only the session.
            writing=create_sessionmaker(engine, info={OUTBOX_WRITTEN: outbox_written}),
            reading=create_sessionmaker(read_only(engine)),
            write_lock=asyncio.Lock() if engine.dialect.name == "sqlite" else None,
            outbox_written=outbox_written,
        )

    @contextlib.asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction outside any request (background jobs), committed on success."""
        async with self.write_lock or contextlib.nullcontext(), self.writing() as session:
            yield session
            await session.commit()


def create_sessionmaker(
    engine: AsyncEngine, *, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        engine,
        class_=AsyncSession,
        sync_session_class=_Session,
        expire_on_commit=False,
        info=info,
    )


def partial_index(name: str, *columns: str, where: str) -> Index:
    """An index of only the rows `where` holds for, on PostgreSQL and SQLite alike.

    For a query of rows waiting for something (due, pending, unsent), a few among
    many. Write the condition into the query as a literal, not a parameter: a plan
    made for any parameter value (a prepared statement's) cannot use the index.
    """
    condition = text(where)
    return Index(name, *columns, postgresql_where=condition, sqlite_where=condition)


async def database_answers(engine: AsyncEngine) -> bool:
    async with read_only(engine).connect() as connection:
        await connection.execute(text("SELECT 1"))
    return True


# How long a client is asked to wait before it tries again, when the database was busy
# or out of reach: long enough not to add to a storm, short next to a person's patience.
RETRY_AFTER_SECONDS = 5
# Opening a connection that takes longer has failed: the server is gone or swamped.
CONNECT_TIMEOUT_SECONDS = 5.0


class DatabaseUnreachable(ConnectionError):
    """No connection to the database server would open.

    Refused, unreachable, no such host, timed out, or the server said it is
    starting up or has too many clients. A `ConnectionError`, so what catches
    `OSError` around a connect still catches it.
    """


def answer_503_when_the_database_is_out_of_reach(app: FastAPI) -> None:
    """Answer 503 with Retry-After, not 500, when a request could not reach the database.

    Two failures leave a request's change undone for sure, so the client may simply
    retry: every pooled connection stayed busy for the pool's timeout (a storm), or
    no connection to the server would open (`DatabaseUnreachable`: a restart, a
    failover). A connection lost in the middle of a statement is neither: whether
    its change committed is unknown, and it stays a 500.
    """

    def answer(request: Request, why: str) -> Response:
        return domain_problem(
            request,
            DatabaseUnavailable(
                f"{why}; nothing was done. Retry shortly.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ),
        )

    async def busy(request: Request, error: Exception) -> Response:
        logger.warning("no database connection came free in time for %s", request.url.path)
        return answer(request, "Every database connection stayed busy")

    async def unreachable(request: Request, error: Exception) -> Response:
        logger.error("the database could not be reached: %s", error)
        return answer(request, "The database could not be reached")

    app.add_exception_handler(PoolTimeout, busy)
    app.add_exception_handler(DatabaseUnreachable, unreachable)


async def _open_postgres_connection(*args: Any, **kwargs: Any) -> Any:
    """asyncpg's `connect`, its failures raised as `DatabaseUnreachable`.

    Marked here, where nothing but the database can be the cause: once connected,
    SQLAlchemy wraps what goes wrong in its own errors; while connecting, the driver
    raises what the network gave it or what the server said, and SQLAlchemy passes
    an exception that is not the driver's through as it is.
    """
    # asyncpg waits 60 s by default, twice as long as the gateway waits for an answer.
    kwargs.setdefault("timeout", CONNECT_TIMEOUT_SECONDS)
    try:
        return await asyncpg.connect(*args, **kwargs)
    except (OSError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError) as error:
        raise DatabaseUnreachable(str(error) or type(error).__name__) from error


def before_request_commit(scope: Scope, hook: RequestCommitHook) -> None:
    """Have `hook` write in the request's own transaction, just before it commits.

    Only a request whose write transaction reaches its commit runs the hook: one that
    fails, reads only, or never opens the kit's session does not, so the caller must
    cover those cases itself. A hook that raises fails the request, and its change
    with it: what a hook writes is part of the change, never left out of it. Hooks
    run in the order they were added; the last may end the transaction with
    `insert_new` and must then send nothing after it.
    """
    scope.setdefault("state", {}).setdefault(_BEFORE_COMMIT, []).append(hook)


def if_request_fails(scope: Scope, action: Callable[[], Awaitable[None]]) -> None:
    """Have `action` run if the request's write transaction rolls back.

    Whatever made it roll back: the endpoint raised, a `before_request_commit` hook
    did, or the commit itself failed, which happens after every other dependency
    has already finished. For undoing what the request did outside its transaction
    (an idempotency key it claimed). The action runs after the rollback, under the
    same write lock; one that raises is logged and the request's own error stands.
    """
    scope.setdefault("state", {}).setdefault(_IF_FAILED, []).append(action)


async def _request_session(request: Request, response: Response) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent.

    Declared with `scope="function"` below so the commit runs before FastAPI
    sends the response: a commit that fails turns into an error response, never
    into a 2xx for a write that was lost. A write transaction runs the request's
    `before_request_commit` hooks first, so what they write commits with it.
    """
    sessions: Sessions = request.app.state.sessions
    if request.method in _READ_METHODS:
        sessionmaker, write_lock = sessions.reading, None
    else:
        sessionmaker, write_lock = sessions.writing, sessions.write_lock
    # The hooks below are popped, not read: should the session ever be opened twice in
    # one request, they still run once.
    state = request.scope.setdefault("state", {})
    async with write_lock or contextlib.nullcontext(), sessionmaker() as session:
        try:
            yield session
            if sessionmaker is sessions.writing:
                await _run_before_commit_hooks(
                    session, state.pop(_BEFORE_COMMIT, ()), _status_to_come(request, response)
                )
            await session.commit()
        except BaseException:
            await session.rollback()
            for action in state.pop(_IF_FAILED, ()):
                try:
                    await action()
                except Exception:
                    logger.exception("could not undo after a failed request")
            raise


async def _run_before_commit_hooks(
    session: AsyncSession, hooks: Sequence[RequestCommitHook], status: int
) -> None:
    try:
        for n, hook in enumerate(hooks, start=1):
            # The last hook's `insert_new` may send the transaction's one statement alone.
            session.info[_LAST_HOOK] = n == len(hooks)
            await hook(session, status)
    finally:
        session.info.pop(_LAST_HOOK, None)
    if session.info.get(_SENT_ALONE) and (session.new or session.dirty or session.deleted):
        # What the commit would flush now would be a transaction of its own.
        raise RuntimeError("a request wrote after the statement it sent alone")


def _status_to_come(request: Request, response: Response) -> int:
    # What FastAPI will answer with: a status the endpoint set on its `Response`
    # parameter (the one passed here too), else its route's. An endpoint returning a
    # response object of its own may differ; hooks must allow for that.
    route = request.scope.get("route")
    return response.status_code or getattr(route, "status_code", None) or 200


Session = Annotated[AsyncSession, Depends(_request_session, scope="function")]
