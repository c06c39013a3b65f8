"""The database layer: durable SQLite, migrations on both databases, wakes after commit."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
import types
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from pydantic import PrivateAttr
from sqlalchemy import event, inspect, literal, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from deskside_kit import database, idempotency
from deskside_kit.audit import AuditRecord
from deskside_kit.background import Wakeup, periodically
from deskside_kit.database import (
    Sessions,
    create_engine,
    insert_new,
    new_instance,
    new_row,
    wake_after_commit,
)
from deskside_kit.outbox import OutboxEvent, record_event
from deskside_tickets.app import create_app as create_tickets_app
from deskside_tickets.config import TicketsSettings
from deskside_tickets.models import Ticket, TicketChange
from tests.conftest import DatabaseUrlFor
from tests.support.apps import app_sessions, serving
from tests.support.faultproxy import fault_proxy
from tests.support.plans import transaction_control_sent
from tests.support.postgres import PostgresServer, create_database, drop_database
from tests.support.servers import free_ports, unused_url
from tests.support.tokens import TEST_JWT_SECRET, bearer


async def test_sqlite_is_durable_wal_with_full_sync(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'x.db'}")
    try:
        async with engine.connect() as connection:
            journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
            synchronous = (await connection.execute(text("PRAGMA synchronous"))).scalar_one()
            foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
    finally:
        await engine.dispose()

    assert journal == "wal"
    assert synchronous == 2  # FULL
    assert foreign_keys == 1


@pytest.mark.parametrize("service", ["tickets", "inventory", "notify"])
async def test_the_migrate_command_brings_a_database_to_head(
    service: str, database_url_for: DatabaseUrlFor, tmp_path: Path
) -> None:
    url = await database_url_for(service)
    environment = {**os.environ, f"DESKSIDE_{service.upper()}_DATABASE_URL": url}

    for _ in range(2):  # a second run finds nothing to do
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"deskside_{service}",
            "migrate",
            env=environment,
            cwd=tmp_path,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode == 0, stderr.decode()

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            version = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one()
    finally:
        await engine.dispose()
    assert version.startswith("2026")


class CountingWakeup(Wakeup):
    def __init__(self) -> None:
        super().__init__()
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1
        super().wake()


class TestWakeAfterCommit:
    async def test_the_wake_comes_after_the_commit_and_only_once(self, tmp_path: Path) -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
        wakeup = CountingWakeup()
        try:
            async with Sessions.for_engine(engine).write_transaction() as session:
                wake_after_commit(session, wakeup)
                wake_after_commit(session, wakeup)
                await session.exec(select(literal(1)))
                await session.flush()
                before_commit = wakeup.wakes
            after_commit = wakeup.wakes
        finally:
            await engine.dispose()

        assert (before_commit, after_commit) == (0, 1)

    async def test_a_rolled_back_transaction_wakes_nothing_then_or_later(
        self, tmp_path: Path
    ) -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
        wakeup = CountingWakeup()
        try:
            async with Sessions.for_engine(engine).writing() as session:
                await session.exec(select(literal(1)))
                wake_after_commit(session, wakeup)
                await session.rollback()
                # The same session's next transaction did not ask for the wake.
                await session.exec(select(literal(1)))
                await session.commit()
        finally:
            await engine.dispose()

        assert wakeup.wakes == 0

    async def test_recording_an_event_wakes_the_relay_once_it_commits(self, tmp_path: Path) -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
        async with engine.begin() as connection:
            await connection.run_sync(
                SQLModel.metadata.create_all,
                tables=[OutboxEvent.__table__],  # type: ignore[attr-defined]
            )
        sessions = Sessions.for_engine(engine)
        woken = asyncio.Event()
        try:
            async with periodically("test", 60, _signalling(woken), wakeup=sessions.outbox_written):
                async with sessions.writing() as session:
                    record_event(session, source="t", type="x.y", subject="s", data={})
                    await session.flush()
                    await session.rollback()
                await asyncio.sleep(0.1)
                assert not woken.is_set()
                async with sessions.write_transaction() as session:
                    record_event(session, source="t", type="x.y", subject="s", data={})
                    await session.flush()
                    await asyncio.sleep(0.1)
                    assert not woken.is_set()
                await asyncio.wait_for(woken.wait(), 2)
        finally:
            await engine.dispose()


def _signalling(event: asyncio.Event) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        event.set()

    return job


async def test_connections_go_to_those_who_waited_for_them_first(
    database_url_for: DatabaseUrlFor,
) -> None:
    engine = create_engine(await database_url_for("tickets"), pool_size=1)
    served = []

    async def wait_in_line(name: str) -> None:
        async with engine.connect():
            served.append(name)

    try:
        held = await engine.connect()
        line = [asyncio.create_task(wait_in_line(name)) for name in ("1st", "2nd", "3rd")]
        await asyncio.sleep(0.1)  # all three are waiting
        await held.close()
        # Asking again at once, before the first in line has had a chance to run: a
        # newcomer waits behind those already waiting.
        async with engine.connect():
            served.append("newcomer")
        await asyncio.gather(*line)
    finally:
        await engine.dispose()

    assert served == ["1st", "2nd", "3rd", "newcomer"]


def _small_pool_tickets(database_url: str, var_dir: Path, *, pool_size: int) -> TicketsSettings:
    """A tickets service with a pool of `pool_size` that waits 0.2 s for a connection."""
    return TicketsSettings(
        env="test",
        var_dir=var_dir,
        database_url=database_url,
        jwt_secret=TEST_JWT_SECRET,
        inventory_url=unused_url(),
        relay_enabled=False,
        database_pool_size=pool_size,
        database_pool_timeout=0.2,
    )


@pytest.mark.postgres
class TestPooledPostgresConnections:
    """A fixed pool; a pooled connection is checked only after sitting idle."""

    async def test_a_burst_beyond_the_pool_waits_for_its_connections_instead_of_opening_more(
        self, postgres: PostgresServer
    ) -> None:
        engine = create_engine(postgres.database_url("postgres"), pool_size=2)
        opened = []
        event.listen(engine.sync_engine, "connect", lambda *_: opened.append(1))
        most_at_once = 0

        async def one_request() -> int:
            nonlocal most_at_once
            async with engine.connect() as connection:
                most_at_once = max(most_at_once, engine.pool.checkedout())  # type: ignore[attr-defined]
                await connection.execute(text("SELECT pg_sleep(0.02)"))
                return int((await connection.execute(text("SELECT 1"))).scalar_one())

        try:
            for _ in range(3):  # bursts of three times the pool, one after another
                answers = await asyncio.gather(*(one_request() for _ in range(6)))
                assert answers == [1] * 6
        finally:
            await engine.dispose()

        # Opened once and kept: no connection opened for a burst and closed after it.
        assert len(opened) == 2
        assert most_at_once == 2

    async def test_a_service_keeps_as_many_connections_as_its_settings_say(
        self, database_url_for: DatabaseUrlFor, tmp_path: Path
    ) -> None:
        url = await database_url_for("tickets")
        app = create_tickets_app(_small_pool_tickets(url, tmp_path, pool_size=2))
        async with app.router.lifespan_context(app):
            engine = app.state.engine
            async with engine.connect(), engine.connect():
                started = time.monotonic()
                with pytest.raises(PoolTimeout):
                    async with engine.connect():
                        pass
                waited = time.monotonic() - started

        assert 0.2 <= waited < 5  # the setting's wait, then no third connection

    async def test_back_to_back_transactions_are_not_pinged(
        self, postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        engine = create_engine(postgres.database_url("postgres"), pool_size=1, max_overflow=0)
        pings = []
        monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(1))
        try:
            for _ in range(3):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

        assert pings == []

    async def test_a_connection_dropped_while_idle_is_replaced_before_use(
        self, postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
        engine = create_engine(postgres.database_url("postgres"), pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as connection:
                first = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            # Dropped from the server's side, as a restart or an idle timeout would.
            admin = await asyncpg.connect(postgres.database_url("postgres", driver="postgresql"))
            try:
                # Waits up to 5 s for the backend to be gone: the pool cannot race it.
                await admin.execute("SELECT pg_terminate_backend($1, 5000)", first)
            finally:
                await admin.close()
            async with engine.connect() as connection:
                second = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        finally:
            await engine.dispose()

        assert second != first


@pytest.mark.postgres
async def test_autovacuum_keeps_up_with_the_tickets_table(postgres: PostgresServer) -> None:
    # The reports stay index-only only while vacuums keep the visibility map current.
    name = f"deskside_test_vacuum_{secrets.token_hex(3)}"
    await create_database(postgres, name)
    engine = create_engine(postgres.database_url(name))
    try:
        await database.migrate(engine, "deskside_tickets:migrations")
        async with engine.connect() as connection:
            options = (
                await connection.execute(
                    text("SELECT reloptions FROM pg_class WHERE relname = 'tickets'")
                )
            ).scalar_one()
    finally:
        await engine.dispose()
        await drop_database(postgres, name)

    assert "autovacuum_vacuum_insert_scale_factor=0.005" in options
    assert "autovacuum_vacuum_scale_factor=0.005" in options


class TestInsertNew:
    """`insert_new`: a create's rows in one statement on PostgreSQL, a flush on SQLite."""

    @pytest.fixture
    async def sessions(self, database_url_for: DatabaseUrlFor) -> AsyncIterator[Sessions]:
        engine = create_engine(await database_url_for("tickets"))
        await database.migrate(engine, "deskside_tickets:migrations")
        try:
            yield Sessions.for_engine(engine)
        finally:
            await engine.dispose()

    @staticmethod
    def _ticket(number: int, title: str) -> Ticket:
        return Ticket(
            number=number,
            reference=f"SD-{number:06d}",
            title=title,
            requester_id="p",
            created_by="p",
        )

    @staticmethod
    def _counting_inserts(sessions: Sessions) -> list[str]:
        statements: list[str] = []

        @event.listens_for(sessions.engine.sync_engine, "before_cursor_execute")
        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if "INSERT" in statement:
                statements.append(statement)

        return statements

    async def test_parent_children_and_event_are_written_and_the_parent_stays_tracked(
        self, sessions: Sessions, backend: str
    ) -> None:
        inserts = self._counting_inserts(sessions)
        async with sessions.write_transaction() as session:
            ticket = self._ticket(7, "VPN drops")
            session.add(ticket)
            session.add(TicketChange(ticket_id=ticket.id, actor="p", action="created"))
            session.add(TicketChange(ticket_id=ticket.id, actor="p", action="routed"))
            record_event(session, source="t", type="ticket.created", subject=ticket.id, data={})
            await insert_new(session)
            assert not session.new
            # Still the session's: a change after the insert is an UPDATE of the same row.
            ticket.title = "VPN drops every hour"
        async with sessions.reading() as session:
            stored = (await session.exec(select(Ticket))).one()
            actions = (await session.exec(select(TicketChange.action))).all()
            events = (await session.exec(select(OutboxEvent.type))).all()

        assert (stored.reference, stored.title) == ("SD-000007", "VPN drops every hour")
        assert sorted(actions) == ["created", "routed"]
        assert events == ["ticket.created"]
        # Four rows: one statement on PostgreSQL; on SQLite a flush, an INSERT per table or row.
        assert (len(inserts) == 1) == (backend == "postgresql")

    async def test_the_statement_is_compiled_once_then_taken_from_the_cache(
        self, sessions: Sessions, backend: str
    ) -> None:
        # Compiling it for every create cost more than the round trips it saves: a
        # multi-row VALUES, which SQLAlchemy cannot cache, made creates 60 % dearer.
        hits: list[bool] = []

        @event.listens_for(sessions.engine.sync_engine, "before_cursor_execute")
        def note(_conn: Any, _cursor: Any, statement: str, _p: Any, context: Any, _m: Any) -> None:
            if statement.startswith("WITH"):
                hits.append(context.cache_hit == context.dialect.CACHE_HIT)

        for number in (11, 12, 13):
            async with sessions.write_transaction() as session:
                ticket = self._ticket(number, "Wi-Fi")
                session.add(ticket)
                for action in ("created", "routed"):
                    session.add(TicketChange(ticket_id=ticket.id, actor="p", action=action))
                record_event(session, source="t", type="x.y", subject=ticket.id, data={})
                await insert_new(session)

        # SQLite flushes: no such statement at all.
        assert hits == ([False, True, True] if backend == "postgresql" else [])

    async def test_a_last_row_given_as_values_comes_in_the_statement_with_its_key_back(
        self, sessions: Sessions, backend: str
    ) -> None:
        inserts = self._counting_inserts(sessions)
        async with sessions.write_transaction() as session:
            ticket = self._ticket(9, "Teams")
            session.add(ticket)
            session.add(TicketChange(ticket_id=ticket.id, actor="p", action="created"))
            record = new_row(AuditRecord, method="POST", path="/v1/tickets", status=201)
            first = await insert_new(session, last=(AuditRecord, record))
            # Nothing new left: the row goes in alone.
            second = await insert_new(session, last=(AuditRecord, {**record, "status": 409}))
        async with sessions.reading() as session:
            stored = (await session.exec(select(AuditRecord).order_by(AuditRecord.id))).all()

        assert [(r.id, r.status) for r in stored] == [(first, 201), (second, 409)]
        assert first < second
        # The ticket, its history and the record in one statement, then the record alone.
        assert len(inserts) == (2 if backend == "postgresql" else 4)

    async def test_rows_written_in_a_savepoint_leave_the_session_with_its_rollback(
        self, sessions: Sessions
    ) -> None:
        async with sessions.write_transaction() as session:
            savepoint = await session.begin_nested()
            ticket = self._ticket(8, "Printer")
            session.add(ticket)
            await insert_new(session)
            await savepoint.rollback()
            assert ticket not in session
        async with sessions.reading() as session:
            assert (await session.exec(select(Ticket))).all() == []

    async def test_a_child_without_its_parent_fails_the_statement(self, sessions: Sessions) -> None:
        async with sessions.writing() as session:
            session.add(TicketChange(ticket_id="tkt_missing", actor="p", action="created"))
            with pytest.raises(IntegrityError):
                await insert_new(session)


class TestNewRow:
    def test_fills_defaults_and_factories_and_keeps_given_values(self) -> None:
        first = new_row(OutboxEvent, type="x.y", source="t", subject="s", data={"a": 1})
        second = new_row(OutboxEvent, type="x.y", source="t", subject="s", data={})

        assert first["id"].startswith("evt_")
        assert first["id"] != second["id"]  # a factory runs for each row
        assert (first["type"], first["data"], first["attempts"]) == ("x.y", {"a": 1}, 0)
        assert first["sent_at"] is None
        # All the fields but the one the database numbers.
        assert first.keys() == OutboxEvent.model_fields.keys() - {"sequence"}

    def test_a_missing_required_value_or_an_unknown_field_is_refused(self) -> None:
        with pytest.raises(TypeError, match="needs a value for subject"):
            new_row(OutboxEvent, type="x.y", source="t", data={})
        with pytest.raises(TypeError, match="has no field colour"):
            new_row(OutboxEvent, type="x.y", source="t", subject="s", data={}, colour="red")


def _table_models() -> list[type[SQLModel]]:
    # Every table model of the stack: the services' models register with SQLModel's registry.
    import deskside_inventory.models  # noqa: F401
    import deskside_kit.idempotency  # noqa: F401
    import deskside_notify.models  # noqa: F401

    return sorted(
        (mapper.class_ for mapper in SQLModel._sa_registry.mappers),
        key=lambda model: model.__name__,
    )


def _a_value_of(annotation: Any) -> Any:
    """A value of a field's type, for the fields a model requires."""
    options = [option for option in typing.get_args(annotation) if option is not type(None)]
    if options and typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return _a_value_of(options[0])
    examples = {
        str: "text",
        int: 7,
        bool: True,
        float: 1.5,
        datetime: datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        dict: {"a": [1]},
        list: ["a"],
        bytes: b"raw",
    }
    base = typing.get_origin(annotation) or annotation
    if base in examples:
        return examples[base]
    raise AssertionError(f"give the test an example of {annotation!r}")


class TestNewInstance:
    """`new_instance`: a table model made without SQLModel's per-field trip."""

    @pytest.mark.parametrize("model", _table_models(), ids=lambda model: model.__name__)
    def test_makes_what_the_constructor_makes(self, model: type[SQLModel]) -> None:
        values = {
            name: _a_value_of(info.annotation)
            for name, info in model.model_fields.items()
            if info.is_required()
        }
        made = new_instance(model, **values)
        constructed = model(**values)

        # Defaults a factory makes (ids, times) differ from one call to the next.
        fresh = {name for name, info in model.model_fields.items() if info.default_factory}
        assert made.model_dump(exclude=fresh) == constructed.model_dump(exclude=fresh)
        assert made.model_fields_set == constructed.model_fields_set == values.keys()
        assert vars(made).keys() == vars(constructed).keys()
        assert inspect(made).transient

    def test_defaults_are_made_for_each_instance(self) -> None:
        first = new_instance(OutboxEvent, type="x.y", source="t", subject="s", data={})
        second = new_instance(OutboxEvent, type="x.y", source="t", subject="s", data={})

        assert first.id.startswith("evt_")
        assert first.id != second.id
        assert (first.attempts, first.sent_at, first.sequence) == (0, None, None)

    def test_a_missing_required_value_or_an_unknown_field_is_refused(self) -> None:
        with pytest.raises(TypeError, match="needs a value for subject"):
            new_instance(OutboxEvent, type="x.y", source="t", data={})
        with pytest.raises(TypeError, match="has no field colour"):
            new_instance(OutboxEvent, type="x.y", source="t", subject="s", data={}, colour="red")

    def test_a_model_with_a_post_init_hook_is_refused(self) -> None:
        # Kept out of the stack's own registry and metadata: its table exists nowhere.
        class WithPrivateState(SQLModel, table=True, registry=registry()):
            id: int | None = Field(default=None, primary_key=True)
            _seen: bool = PrivateAttr(default=False)  # private attributes need a post-init

        with pytest.raises(TypeError, match="post-init hook"):
            new_instance(WithPrivateState)

    async def test_it_is_inserted_and_then_changed_like_any_other(
        self, database_url_for: DatabaseUrlFor
    ) -> None:
        engine = create_engine(await database_url_for("tickets"))
        await database.migrate(engine, "deskside_tickets:migrations")
        sessions = Sessions.for_engine(engine)
        try:
            async with sessions.writing() as session:
                ticket = new_instance(
                    Ticket,
                    number=1,
                    reference="SD-000001",
                    title="Printer offline",
                    requester_id="p",
                    created_by="p",
                )
                session.add(ticket)
                await session.commit()
                ticket.title = "Printer offline again"  # an UPDATE, through the instrumentation
                await session.commit()
            async with sessions.reading() as session:
                stored = (await session.exec(select(Ticket))).one()
        finally:
            await engine.dispose()

        assert (stored.id, stored.title) == (ticket.id, "Printer offline again")
        assert (stored.status, stored.version, stored.priority) == ("new", 1, ticket.priority)


@pytest.mark.postgres
class TestSentAlone:
    """A request's one statement sent without BEGIN and COMMIT (`insert_new`)."""

    @pytest.fixture
    async def sessions(self, postgres: PostgresServer) -> AsyncIterator[Sessions]:
        # One pooled connection, so each transaction gets the one before it had.
        name = f"deskside_test_alone_{secrets.token_hex(3)}"
        await create_database(postgres, name)
        engine = create_engine(postgres.database_url(name), pool_size=1, max_overflow=0)
        try:
            await database.migrate(engine, "deskside_tickets:migrations")
            yield Sessions.for_engine(engine)
        finally:
            await engine.dispose()
            await drop_database(postgres, name)

    async def test_its_connection_goes_back_as_it_was_found(self, sessions: Sessions) -> None:
        # The next transaction gets the very connection the statement went alone on:
        # it must begin a transaction again.
        engine = sessions.engine
        async with transaction_control_sent(engine) as alone, sessions.writing() as session:
            session.add(TestInsertNew._ticket(21, "Alone"))
            session.info[database._LAST_HOOK] = True  # as `_request_session` sets it
            await insert_new(session)
            await session.commit()
        async with transaction_control_sent(engine) as after, sessions.write_transaction() as s:
            s.add(TestInsertNew._ticket(22, "After"))
            await insert_new(s)
        async with sessions.reading() as session:
            titles = (await session.exec(select(Ticket.title).order_by(Ticket.number))).all()

        assert alone == []
        assert [query.split()[0] for query in after] == ["BEGIN", "COMMIT"]
        assert titles == ["Alone", "After"]

    async def test_a_change_after_it_fails_the_request(self, sessions: Sessions) -> None:
        # The commit would flush the change as a transaction of its own: refused loudly.
        async with sessions.writing() as session:
            ticket = TestInsertNew._ticket(23, "Alone")
            session.add(ticket)

            async def write_then_change(session: Any, _status: int) -> None:
                await insert_new(session)
                ticket.title = "Changed after"

            with pytest.raises(RuntimeError, match="after the statement it sent alone"):
                await database._run_before_commit_hooks(session, [write_then_change], 201)


class TestADatabaseOutOfReach:
    """A request that cannot reach the database is a 503 to retry, not a 500."""

    @pytest.fixture
    async def settings(self, database_url_for: DatabaseUrlFor, tmp_path: Path) -> TicketsSettings:
        return _small_pool_tickets(await database_url_for("tickets"), tmp_path, pool_size=1)

    async def test_a_request_finding_every_connection_busy_is_answered_503_and_changes_nothing(
        self, settings: TicketsSettings, caplog: pytest.LogCaptureFixture
    ) -> None:
        alice = bearer("alice", "requester", email="alice@example.com")
        app = create_tickets_app(settings)
        async with serving(app) as client:
            engine = app.state.engine
            async with engine.connect() as held:  # the pool's one connection, kept busy
                await held.execute(text("SELECT 1"))
                read = await client.get("/v1/tickets", headers=alice)
                # Busy is not gone: the replica stays in service (its probe has its own).
                ready = await client.get("/readyz")
                write = await client.post(
                    "/v1/tickets", json={"title": "VPN drops every hour"}, headers=alice
                )
            after = await client.post(
                "/v1/tickets", json={"title": "VPN drops every hour"}, headers=alice
            )
            async with app_sessions(client).reading() as session:
                tickets = (await session.exec(select(Ticket.title))).all()
                audited = (await session.exec(select(AuditRecord.status))).all()

        for answer in (read, write):
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["retry-after"] == str(database.RETRY_AFTER_SECONDS)
            problem = answer.json()
            assert problem["type"] == "urn:deskside:problem:database-unavailable"
            assert "busy" in problem["detail"]
        assert ready.status_code == 200, ready.text
        assert after.status_code == 201, after.text
        assert tickets == ["VPN drops every hour"]  # the refused create left nothing
        assert audited == [201]
        # Its audit record was not even tried: it would have waited for the pool in turn.
        assert "could not write the audit record" not in caplog.text

    async def test_a_request_while_the_server_cannot_be_reached_is_answered_503(
        self, settings: TicketsSettings
    ) -> None:
        app = create_tickets_app(settings)
        async with serving(app) as client:
            # As after a failover: the address the service knows answers no more.
            (port,) = free_ports(1)
            gone = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/tickets")
            app.state.sessions = Sessions.for_engine(gone)
            try:
                answer = await client.get("/v1/tickets", headers=bearer("alice", "requester"))
            finally:
                await gone.dispose()

        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == str(database.RETRY_AFTER_SECONDS)
        assert "could not be reached" in answer.json()["detail"]


@pytest.mark.postgres
class TestAClaimLeftByADatabaseOutage:
    """A keyed create that failed because the database went away gives its key back later."""

    async def test_a_retry_runs_soon_after_the_database_is_back(
        self, postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        upstream = urlsplit(postgres.admin_url)
        if upstream.hostname not in ("127.0.0.1", "localhost") or upstream.port is None:
            pytest.skip("the fault proxy reaches PostgreSQL on loopback TCP only")
        name = f"deskside_test_claims_{secrets.token_hex(3)}"
        await create_database(postgres, name)
        (proxy_port,) = free_ports(1)
        proxied = urlsplit(postgres.database_url(name))._replace(
            netloc=f"{upstream.username}@127.0.0.1:{proxy_port}"
        )
        settings = _small_pool_tickets(urlunsplit(proxied), tmp_path, pool_size=2)
        monkeypatch.setattr("deskside_kit.app.GIVE_BACK_INTERVAL_SECONDS", 0.05)
        alice = {**bearer("alice", "requester"), "Idempotency-Key": "outage-1"}
        body = {"title": "Teams will not start"}
        claim = idempotency.Idempotency.claim

        async with fault_proxy(proxy_port, upstream.port) as proxy:

            async def claim_then_lose_the_database(self: Any, request_body: Any) -> Any:
                answer = await claim(self, request_body)
                await proxy.set("down")
                return answer

            app = create_tickets_app(settings)
            try:
                async with serving(app) as client:
                    with monkeypatch.context() as during_the_outage:
                        during_the_outage.setattr(
                            idempotency.Idempotency, "claim", claim_then_lose_the_database
                        )
                        failed = await client.post("/v1/tickets", json=body, headers=alice)
                    left_to_give_back = len(app.state.claims_to_give_back)
                    await proxy.set("pass")
                    retries = []
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline:
                        # 409 while the claim waits to be given back; a 503 is possible while
                        # the pool opens its connections again.
                        retries.append(await client.post("/v1/tickets", json=body, headers=alice))
                        if retries[-1].status_code == 201:
                            break
                        await asyncio.sleep(0.05)
                    replayed = await client.post("/v1/tickets", json=body, headers=alice)
            finally:
                await drop_database(postgres, name)

        assert failed.status_code >= 500, failed.text
        assert left_to_give_back == 1
        # Given back within moments of the database's return, not after five minutes.
        assert retries[-1].status_code == 201, retries[-1].text
        assert replayed.status_code == 201
        assert replayed.headers[idempotency.REPLAYED_HEADER] == "true"
        assert replayed.json()["id"] == retries[-1].json()["id"]
        assert len(app.state.claims_to_give_back) == 0
