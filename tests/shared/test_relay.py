"""The outbox relay, against a notify stand-in served over real HTTP, on both databases."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import SQLModel, col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from deskside_contracts.events import EventBatch
from deskside_kit import database
from deskside_kit.auth import SERVICE_TOKEN_HEADER
from deskside_kit.background import periodically
from deskside_kit.database import Sessions, create_engine
from deskside_kit.outbox import OutboxEvent, record_event
from deskside_kit.relay import MAX_BACKOFF_SECONDS, OutboxRelay
from deskside_tickets.app import create_app as create_tickets_app
from deskside_tickets.config import TicketsSettings
from tests.conftest import DatabaseUrlFor
from tests.support.apps import serving
from tests.support.plans import plan_of, statements_sent
from tests.support.servers import free_ports, serving_over_http, unused_url
from tests.support.tokens import TEST_JWT_SECRET, bearer

SERVICE_TOKEN = "relay-test-service-token-0123456789"
POSTGRES_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)


class NotifyStandIn:
    """Notify's `POST /internal/events` as the relay sees it: token, batch, dedupe, answer."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.refusals = 0
        self.answer_with: int | None = None  # a status to answer instead of taking the batch
        self.seen_ids: set[str] = set()
        # Per subject, the last event number notify has answered for, and every event
        # that arrived before its predecessor was answered for: the order the relay keeps.
        self.acknowledged: Counter[str] = Counter()
        self.overtakers: list[tuple[str, int]] = []
        self.arrived = asyncio.Event()
        self.app = Starlette(routes=[Route("/internal/events", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> JSONResponse:
        if request.headers.get(SERVICE_TOKEN_HEADER) != SERVICE_TOKEN:
            self.refusals += 1
            return JSONResponse({"title": "Not authenticated"}, status_code=401)
        if self.answer_with is not None:
            self.refusals += 1
            return JSONResponse({"title": "Not now"}, status_code=self.answer_with)
        batch = EventBatch.model_validate_json(await request.body())
        events = [event.model_dump(mode="json") for event in batch.events]
        self.batches.append(events)
        expected = self.acknowledged.copy()
        # Only the numbered events `record` writes take part in the order check.
        for event in (event for event in events if "n" in event["data"]):
            subject, number = event["subject"], event["data"]["n"]
            if number != expected[subject] + 1:
                self.overtakers.append((subject, number))
            expected[subject] = max(expected[subject], number)
        new = [event for event in events if event["id"] not in self.seen_ids]
        self.seen_ids.update(event["id"] for event in new)
        self.arrived.set()
        # Storing takes a moment, during which a concurrent relay runs; the order
        # check above does not depend on how long.
        await asyncio.sleep(0.01)
        for subject, number in expected.items():
            self.acknowledged[subject] = max(self.acknowledged[subject], number)
        return JSONResponse({"accepted": len(new), "duplicates": len(events) - len(new)})

    @property
    def received(self) -> list[dict[str, Any]]:
        return [event for batch in self.batches for event in batch]

    def subjects_in_arrival_order(self) -> dict[str, list[int]]:
        order: dict[str, list[int]] = defaultdict(list)
        for event in self.received:
            order[event["subject"]].append(event["data"]["n"])
        return dict(order)


class FakeClock:
    """Monotonic time the test moves by hand: backoff is checked without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def pass_backoff(self, relay: OutboxRelay) -> None:
        assert relay.retry_at is not None
        self.now = relay.retry_at


@pytest.fixture
async def database_url(database_url_for: DatabaseUrlFor) -> str:
    url = await database_url_for("relay")
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(
            SQLModel.metadata.create_all,
            tables=[OutboxEvent.__table__],  # type: ignore[attr-defined]
        )
    await engine.dispose()
    return url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = create_engine(database_url)
    yield Sessions.for_engine(engine)
    await engine.dispose()


@pytest.fixture
async def notify() -> AsyncIterator[tuple[NotifyStandIn, str]]:
    stand_in = NotifyStandIn()
    (port,) = free_ports(1)
    async with serving_over_http(stand_in.app, lifespan="off", port=port) as url:
        yield stand_in, url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


MakeRelay = Callable[..., OutboxRelay]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_relay(sessions: Sessions, http: httpx.AsyncClient, clock: FakeClock) -> MakeRelay:
    def make(
        url: str, *, token: str = SERVICE_TOKEN, batch_size: int = 100, linger: float = 0.0
    ) -> OutboxRelay:
        return OutboxRelay(
            sessions, http, url, token, batch_size=batch_size, linger=linger, clock=clock
        )

    return make


async def record(sessions: Sessions, subjects: list[str]) -> None:
    """One event per entry, in this order; `data.n` numbers each subject's events from 1."""
    counts = Counter(event.subject for event in await outbox(sessions))
    async with sessions.write_transaction() as session:
        for subject in subjects:
            counts[subject] += 1
            record_event(
                session,
                source="tickets",
                type="ticket.updated",
                subject=subject,
                data={"n": counts[subject]},
            )


async def outbox(sessions: Sessions) -> list[OutboxEvent]:
    async with sessions.reading() as session:
        rows = await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.sequence)))
        return list(rows.all())


async def unsent_count(sessions: Sessions) -> int:
    return sum(1 for event in await outbox(sessions) if event.sent_at is None)


def in_order(order: dict[str, list[int]]) -> bool:
    return all(numbers == list(range(1, len(numbers) + 1)) for numbers in order.values())


class RoundsOf:
    """A relay's rounds as a periodic job, each one's result kept, each one's end awaitable."""

    def __init__(self, relay: OutboxRelay) -> None:
        self.relay = relay
        self.sent: list[int] = []
        self.ended = asyncio.Event()

    async def run(self) -> None:
        self.sent.append(await self.relay.run_once())
        self.ended.set()

    async def after(self, commit: Awaitable[None]) -> None:
        """Commit, then wait for the round the commit wakes to end."""
        self.ended.clear()
        await commit
        await asyncio.wait_for(self.ended.wait(), timeout=5)


class TestSending:
    async def test_pending_events_go_in_order_and_are_marked_sent(
        self, sessions: Sessions, notify: tuple[NotifyStandIn, str], make_relay: MakeRelay
    ) -> None:
        stand_in, url = notify
        await record(sessions, ["tkt_a", "tkt_b", "tkt_a"])
        relay = make_relay(url)

        assert await relay.run_once() == 3

        written = await outbox(sessions)
        assert [event["id"] for event in stand_in.received] == [event.id for event in written]
        assert stand_in.received[0]["source"] == "tickets"
        assert all(event.sent_at is not None and event.attempts == 1 for event in written)
        # Sent events are not sent again.
        assert await relay.run_once() == 0
        assert len(stand_in.batches) == 1

    async def test_an_empty_outbox_sends_nothing(
        self, sessions: Sessions, notify: tuple[NotifyStandIn, str], make_relay: MakeRelay
    ) -> None:
        stand_in, url = notify

        assert await make_relay(url).run_once() == 0
        assert stand_in.batches == []

    async def test_a_backlog_goes_in_batches_keeping_each_subjects_order(
        self, sessions: Sessions, notify: tuple[NotifyStandIn, str], make_relay: MakeRelay
    ) -> None:
        stand_in, url = notify
        subjects = [f"tkt_{number % 3}" for number in range(10)]
        await record(sessions, subjects)

        assert await make_relay(url, batch_size=4).run_once() == 10

        assert [len(batch) for batch in stand_in.batches] == [4, 4, 2]
        assert [event["subject"] for event in stand_in.received] == subjects
        assert in_order(stand_in.subjects_in_arrival_order())
        assert await unsent_count(sessions) == 0

    async def test_a_burst_committed_while_the_relay_lingers_goes_in_one_batch(
        self, sessions: Sessions, notify: tuple[NotifyStandIn, str], make_relay: MakeRelay
    ) -> None:
        stand_in, url = notify
        relay = make_relay(url, linger=0.3)
        rounds = RoundsOf(relay)

        async with periodically("relay", 60, rounds.run, wakeup=sessions.outbox_written):
            # The first commit wakes the relay; the rest land while it lingers.
            await record(sessions, ["tkt_a"])
            for subject in ["tkt_b", "tkt_a", "tkt_c"]:
                await record(sessions, [subject])
            await asyncio.wait_for(rounds.ended.wait(), timeout=5)

        assert rounds.sent[0] == 4
        assert [len(batch) for batch in stand_in.batches] == [4]
        assert in_order(stand_in.subjects_in_arrival_order())


class TestFailures:
    async def test_a_503_marks_nothing_and_backs_off_until_notify_takes_them(
        self,
        sessions: Sessions,
        notify: tuple[NotifyStandIn, str],
        make_relay: MakeRelay,
        clock: FakeClock,
    ) -> None:
        stand_in, url = notify
        await record(sessions, ["tkt_a", "tkt_a", "tkt_b"])
        relay = make_relay(url)
        stand_in.answer_with = 503

        waits = []
        for _ in range(4):
            assert await relay.run_once() == 0
            waits.append(relay.backoff)
            # While backing off, a round does not even ask notify.
            refusals = stand_in.refusals
            assert await relay.run_once() == 0
            assert stand_in.refusals == refusals
            clock.pass_backoff(relay)

        assert waits == sorted(waits)
        assert waits[-1] > waits[0]
        assert all(0 < wait <= MAX_BACKOFF_SECONDS for wait in waits)
        assert await unsent_count(sessions) == 3
        assert all(event.attempts == 4 for event in await outbox(sessions))

        stand_in.answer_with = None
        assert await relay.run_once() == 3
        assert relay.backoff == 0
        assert relay.retry_at is None
        assert in_order(stand_in.subjects_in_arrival_order())
        assert await unsent_count(sessions) == 0

    async def test_commits_while_backing_off_wake_the_relay_without_calling_notify(
        self,
        sessions: Sessions,
        notify: tuple[NotifyStandIn, str],
        make_relay: MakeRelay,
        clock: FakeClock,
    ) -> None:
        stand_in, url = notify
        stand_in.answer_with = 503
        relay = make_relay(url)
        rounds = RoundsOf(relay)

        # No tick in this test: every round is woken by a commit.
        async with periodically("relay", 60, rounds.run, wakeup=sessions.outbox_written):
            await rounds.after(record(sessions, ["tkt_a"]))
            assert stand_in.refusals == 1
            for _ in range(5):
                await rounds.after(record(sessions, ["tkt_a"]))
            assert stand_in.refusals == 1
            assert relay.is_backing_off

            stand_in.answer_with = None
            clock.pass_backoff(relay)
            await rounds.after(record(sessions, ["tkt_b"]))

        assert rounds.sent == [0, 0, 0, 0, 0, 0, 7]
        assert in_order(stand_in.subjects_in_arrival_order())
        assert await unsent_count(sessions) == 0

    async def test_events_written_while_notify_is_down_arrive_once_it_is_back(
        self,
        sessions: Sessions,
        make_relay: MakeRelay,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        (port,) = free_ports(1)
        relay = make_relay(f"http://127.0.0.1:{port}")
        await record(sessions, ["tkt_a", "tkt_b"])

        with caplog.at_level(logging.INFO, logger="deskside.relay"):
            for _ in range(3):
                assert await relay.run_once() == 0
                clock.pass_backoff(relay)
            await record(sessions, ["tkt_a"])
            assert await unsent_count(sessions) == 3

            stand_in = NotifyStandIn()
            async with serving_over_http(stand_in.app, lifespan="off", port=port):
                assert await relay.run_once() == 3

        assert relay.failures == 0
        assert in_order(stand_in.subjects_in_arrival_order())
        # One warning for the whole outage, not one per round; one line when it ends.
        warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "unreachable" in warnings[0].getMessage()
        assert any("again" in record.getMessage() for record in caplog.records)

    @pytest.mark.parametrize("token", ["not-the-service-token", ""])
    async def test_a_refused_credential_is_never_marked_sent(
        self,
        sessions: Sessions,
        notify: tuple[NotifyStandIn, str],
        make_relay: MakeRelay,
        clock: FakeClock,
        caplog: pytest.LogCaptureFixture,
        token: str,
    ) -> None:
        stand_in, url = notify
        await record(sessions, ["tkt_a"])
        relay = make_relay(url, token=token)

        with caplog.at_level(logging.ERROR, logger="deskside.relay"):
            for _ in range(2):
                assert await relay.run_once() == 0
                clock.pass_backoff(relay)

        assert stand_in.refusals == 2
        assert stand_in.batches == []
        assert await unsent_count(sessions) == 1
        # A 4xx is a bug to fix: reported with notify's answer, once.
        (error,) = caplog.records
        assert error.levelno == logging.ERROR
        assert "401" in error.getMessage()
        assert "Not authenticated" in error.getMessage()


class TestReplicas:
    @POSTGRES_ONLY
    async def test_an_event_waits_while_another_replica_holds_its_subjects_earlier_one(
        self, sessions: Sessions, notify: tuple[NotifyStandIn, str], make_relay: MakeRelay
    ) -> None:
        stand_in, url = notify
        await record(sessions, ["tkt_a", "tkt_b", "tkt_a", "tkt_b", "tkt_c"])
        first_of_a = (await outbox(sessions))[0]
        relay = make_relay(url)

        # Another replica has claimed the first event of tkt_a and is still posting it.
        async with sessions.writing() as other_replica:
            await other_replica.exec(
                select(OutboxEvent)
                .where(col(OutboxEvent.sequence) == first_of_a.sequence)
                .with_for_update()
            )
            assert await relay.run_once() == 3
            await other_replica.rollback()

        assert [(e["subject"], e["data"]["n"]) for e in stand_in.received] == [
            ("tkt_b", 1),
            ("tkt_b", 2),
            ("tkt_c", 1),
        ]
        # Released (the other replica failed): tkt_a goes, in order.
        assert await relay.run_once() == 2
        assert stand_in.subjects_in_arrival_order()["tkt_a"] == [1, 2]

    @POSTGRES_ONLY
    async def test_two_replicas_share_a_backlog_sending_each_event_once_in_order(
        self, database_url: str, sessions: Sessions, notify: tuple[NotifyStandIn, str]
    ) -> None:
        stand_in, url = notify
        # 500 events over 30 tickets, interleaved as real traffic would be: consecutive
        # batches of 20 share tickets, so a replica could overtake the other's events.
        subjects = [f"tkt_{(number * 7) % 30}" for number in range(500)]
        await record(sessions, subjects)
        sent_by: dict[str, int] = {}

        async def replica(name: str) -> None:
            engine = create_engine(database_url)
            try:
                async with httpx.AsyncClient(trust_env=False) as client:
                    relay = OutboxRelay(
                        Sessions.for_engine(engine), client, url, SERVICE_TOKEN, batch_size=20
                    )
                    sent_by[name] = 0
                    while await unsent_count(sessions):
                        sent = await relay.run_once()
                        sent_by[name] += sent
                        if not sent:
                            # The other replica holds the rest: let it finish its batch.
                            await asyncio.sleep(0.005)
            finally:
                await engine.dispose()

        await asyncio.wait_for(asyncio.gather(replica("a"), replica("b")), timeout=60)

        deliveries = Counter(event["id"] for event in stand_in.received)
        assert len(deliveries) == 500
        assert set(deliveries.values()) == {1}
        assert sent_by["a"] + sent_by["b"] == 500
        assert sent_by["a"] > 0
        assert sent_by["b"] > 0
        assert in_order(stand_in.subjects_in_arrival_order())
        assert stand_in.overtakers == []


class TestInTheService:
    async def test_a_new_ticket_reaches_notify_at_once_not_at_the_relays_next_look(
        self, database_url_for: DatabaseUrlFor, tmp_path: Path, notify: tuple[NotifyStandIn, str]
    ) -> None:
        stand_in, url = notify
        settings = TicketsSettings(
            env="test",
            var_dir=tmp_path,
            database_url=await database_url_for("tickets"),
            jwt_secret=TEST_JWT_SECRET,
            service_token=SERVICE_TOKEN,
            inventory_url=unused_url(),
            inventory_timeout=0.5,
            notify_url=url,
            # Far beyond the test's patience: only the commit's wake can send the event.
            relay_interval=60.0,
        )
        alice = bearer("alice", "requester", email="alice@example.com")
        waited, created = [], []
        async with serving(create_tickets_app(settings)) as client:
            # The second create is a steady one, its statement sent alone (no COMMIT of
            # the session's own): its commit must wake the relay all the same.
            for title in ("Printer on floor 3 is jammed", "Printer on floor 4 too"):
                stand_in.arrived.clear()
                response = await client.post("/v1/tickets", json={"title": title}, headers=alice)
                assert response.status_code == 201, response.text
                created.append(response.json()["id"])
                answered = time.monotonic()
                await asyncio.wait_for(stand_in.arrived.wait(), timeout=5)
                waited.append(time.monotonic() - answered)

        assert [event["type"] for event in stand_in.received] == ["ticket.created"] * 2
        assert [event["subject"] for event in stand_in.received] == created
        assert max(waited) < 2

    async def test_the_service_relays_its_outbox_in_the_background(
        self, database_url_for: DatabaseUrlFor, tmp_path: Path, notify: tuple[NotifyStandIn, str]
    ) -> None:
        stand_in, url = notify
        settings = TicketsSettings(
            env="test",
            var_dir=tmp_path,
            database_url=await database_url_for("tickets"),
            jwt_secret=TEST_JWT_SECRET,
            service_token=SERVICE_TOKEN,
            inventory_url=unused_url(),
            notify_url=url,
            relay_interval=0.05,
        )
        app = create_tickets_app(settings)
        async with serving(app) as client:
            async with app.state.sessions.write_transaction() as session:
                record_event(
                    session, source="tickets", type="ticket.created", subject="tkt_x", data={}
                )
            await asyncio.wait_for(stand_in.arrived.wait(), timeout=30)
            metrics = (await client.get("/metrics")).text

        assert [event["subject"] for event in stand_in.received] == ["tkt_x"]
        assert "relay_events_sent_total" in metrics
        assert "relay_events_pending" in metrics

    async def test_no_relay_runs_when_it_is_disabled(
        self, database_url_for: DatabaseUrlFor, tmp_path: Path
    ) -> None:
        settings = TicketsSettings(
            env="test",
            var_dir=tmp_path,
            database_url=await database_url_for("tickets"),
            jwt_secret=TEST_JWT_SECRET,
            relay_enabled=False,
        )
        app = create_tickets_app(settings)
        async with serving(app):
            assert not hasattr(app.state, "outbox_relay")


class TestTheClaimsPlan:
    @pytest.mark.parametrize("service", ["tickets", "inventory"])
    async def test_a_claim_reads_only_the_unsent_events_in_order(
        self, database_url_for: DatabaseUrlFor, http: httpx.AsyncClient, service: str
    ) -> None:
        # Each round, and at every commit that records an event. Sorting every unsent
        # event for each claim made draining a backlog quadratic in its length.
        engine = create_engine(await database_url_for(service))
        try:
            await database.migrate(engine, f"deskside_{service}:migrations")
            relay = OutboxRelay(Sessions.for_engine(engine), http, unused_url(), SERVICE_TOKEN)
            with statements_sent(engine) as sent:
                await relay.run_once()
            [(statement, parameters)] = [(s, p) for s, p in sent if "LIMIT" in s]

            plan = await plan_of(engine, statement, parameters)
        finally:
            await engine.dispose()

        assert "ix_outbox_to_send" in plan, plan
        assert "Sort" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan
