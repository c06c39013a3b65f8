"""The outbox relay: sends a service's recorded events on to notify.

Events leave in `sequence` order, and an event never overtakes an earlier,
still unsent event of the same subject (ticket, device). Only a 2xx from
notify marks them sent; anything else leaves them for a later round, after a
backoff that grows while the failure lasts. Delivery is at least once: notify
dedupes on the event id, so a batch posted twice does no harm.

On PostgreSQL every replica runs a relay. Each claims rows with `FOR UPDATE
SKIP LOCKED` and holds the locks while it posts, so no two replicas send the
same event; and it keeps from its claim only the events whose earlier unsent
same-subject events are in the claim too, so a replica never sends the second
event of a ticket while another replica still holds the first. On SQLite (one
process, one writer) the rows are read, posted, then marked in a short write
transaction: holding SQLite's database-wide write lock across an HTTP call
would stall every request of the service for as long as notify takes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_contracts.events import MAX_BATCH, EventBatch
from deskside_kit.auth import SERVICE_TOKEN_HEADER
from deskside_kit.database import Sessions, utc_now
from deskside_kit.faults import RELAY_AFTER_SEND_BEFORE_MARK, crash_point
from deskside_kit.outbox import OutboxEvent

logger = logging.getLogger("deskside.relay")

EVENTS_PATH = "/internal/events"
# Notify answers a full batch well within this; a slower answer counts as a failure.
REQUEST_TIMEOUT_SECONDS = 10.0
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
PENDING_COUNT_SECONDS = 1.0
# Worth retrying as they are: the request timed out, or notify asked us to slow down.
_TRANSIENT_CLIENT_ERRORS = frozenset({408, 429})


class DeliveryFailed(Exception):
    """Notify did not take a batch; the events stay unsent."""

    def __init__(self, kind: str, description: str, *, is_bug: bool = False) -> None:
        super().__init__(description)
        # What is wrong, without the details that change from one try to the next.
        self.kind = kind
        self.description = description
        # A 4xx means the request itself is wrong: someone has to fix the code or the config.
        self.is_bug = is_bug


class OutboxRelay:
    """Posts pending outbox events to notify; `run_once` is one round of the periodic job.

    While deliveries fail, `run_once` skips its rounds until the backoff has
    passed, rather than sleeping: the periodic job keeps its own rhythm and
    stops promptly at shutdown. Rounds a commit wakes are skipped the same way,
    so a burst of new events never hammers a notify that is down.
    """

    def __init__(
        self,
        sessions: Sessions,
        client: httpx.AsyncClient,
        notify_url: str,
        service_token: str,
        *,
        batch_size: int = MAX_BATCH,
        linger: float = 0.0,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        self.sessions = sessions
        self.client = client
        self.events_url = str(notify_url).rstrip("/") + EVENTS_PATH
        self.service_token = service_token
        self.batch_size = batch_size
        self.linger = linger
        self.clock = clock
        # Only Sessions for SQLite serialise writers themselves; elsewhere rows are locked.
        self.locks_rows = sessions.write_lock is None
        self.failures = 0
        self.backoff = 0.0
        self.retry_at: float | None = None
        self._reported_problem: str | None = None
        self._next_count = 0.0
        self._pending = (
            Gauge(
                "relay_events_pending",
                "Outbox events not yet accepted by notify.",
                registry=registry,
            )
            if registry is not None
            else None
        )
        self._sent = (
            Counter("relay_events_sent", "Outbox events accepted by notify.", registry=registry)
            if registry is not None
            else None
        )

    @property
    def is_backing_off(self) -> bool:
        return self.retry_at is not None and self.clock() < self.retry_at

    async def run_once(self) -> int:
        """Send batches until the outbox has nothing sendable left or a delivery fails.

        Returns how many events notify accepted. Delivery failures are handled
        here (logged, backed off); database errors propagate to the caller.
        """
        if self.is_backing_off:
            return 0
        if self.linger:
            # Woken by the first commit of a burst, the round lets the rest of it land:
            # under load, one request to notify and one intake for several events, not
            # one of each per event. Notify's rounds then find several rows each too.
            await asyncio.sleep(self.linger)
        sent = 0
        try:
            more = True
            while more:
                batch_sent, more = await self._send_one_batch()
                sent += batch_sent
        except DeliveryFailed as failure:
            self._back_off(failure)
        else:
            self._recover()
        finally:
            if self._sent is not None:
                self._sent.inc(sent)
            await self._count_pending()
        return sent

    async def _send_one_batch(self) -> tuple[int, bool]:
        """One batch: (how many notify accepted, whether the outbox may hold more now)."""
        if self.locks_rows:
            failure: DeliveryFailed | None = None
            async with self.sessions.write_transaction() as session:
                batch, more = await self._claim(session, lock=True)
                if not batch:
                    return 0, False
                try:
                    await self._post(batch)
                except DeliveryFailed as exc:
                    # Raised only after the commit, so the attempt is counted and the rows released.
                    failure = exc
                crash_point(RELAY_AFTER_SEND_BEFORE_MARK)
                await self._mark(session, batch, sent=failure is None)
            if failure is not None:
                raise failure
            return len(batch), more

        async with self.sessions.reading() as session:
            batch, more = await self._claim(session, lock=False)
        if not batch:
            return 0, False
        try:
            await self._post(batch)
        except DeliveryFailed:
            async with self.sessions.write_transaction() as session:
                await self._mark(session, batch, sent=False)
            raise
        crash_point(RELAY_AFTER_SEND_BEFORE_MARK)
        async with self.sessions.write_transaction() as session:
            await self._mark(session, batch, sent=True)
        return len(batch), more

    async def _claim(self, session: AsyncSession, *, lock: bool) -> tuple[list[OutboxEvent], bool]:
        """The oldest unsent events, without any that would overtake an event left out.

        Also whether more may be waiting: a full read of candidates can leave some
        behind, and held-back events may be sendable next time. Otherwise the outbox is
        drained until the next commit, and that commit wakes the relay, so no empty claim
        is made just to find out.
        """
        statement = (
            select(OutboxEvent)
            .where(col(OutboxEvent.sent_at).is_(None))
            .order_by(col(OutboxEvent.sequence))
            .limit(self.batch_size)
        )
        if lock:
            statement = statement.with_for_update(skip_locked=True)
        candidates = list((await session.exec(statement)).all())
        if not candidates:
            return [], False

        # Every unsent event, up to the last candidate, of the candidates' subjects.
        # Rows another replica holds are still unsent here, so they block their subject.
        claimed = {event.sequence for event in candidates}
        earlier = await session.exec(
            select(OutboxEvent.subject, OutboxEvent.sequence)
            .where(
                col(OutboxEvent.sent_at).is_(None),
                col(OutboxEvent.subject).in_({event.subject for event in candidates}),
                col(OutboxEvent.sequence) <= candidates[-1].sequence,
            )
            .order_by(col(OutboxEvent.sequence))
        )
        blocked_subjects: set[str] = set()
        held_back: set[int | None] = set()
        for subject, sequence in earlier.all():
            if sequence not in claimed:
                blocked_subjects.add(subject)
            elif subject in blocked_subjects:
                held_back.add(sequence)
        # More may wait behind a full read, and held-back events may be free by the next
        # claim (their earlier event sent by now, by this replica or another).
        more = len(candidates) == self.batch_size or bool(held_back)
        return [event for event in candidates if event.sequence not in held_back], more

    async def _post(self, batch: Sequence[OutboxEvent]) -> None:
        body = EventBatch(events=[event.to_event() for event in batch])
        try:
            response = await self.client.post(
                self.events_url,
                content=body.model_dump_json(),
                headers={
                    "Content-Type": "application/json",
                    SERVICE_TOKEN_HEADER: self.service_token,
                },
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(
                "unreachable", f"notify unreachable at {self.events_url}: {exc!r}"
            ) from exc
        if response.is_success:
            return
        status = response.status_code
        if 400 <= status < 500 and status not in _TRANSIENT_CLIENT_ERRORS:
            raise DeliveryFailed(
                f"status {status}",
                f"notify refused the batch with {status}: {response.text[:2000]}",
                is_bug=True,
            )
        raise DeliveryFailed(f"status {status}", f"notify answered {status}")

    async def _mark(
        self, session: AsyncSession, batch: Sequence[OutboxEvent], *, sent: bool
    ) -> None:
        values: dict[str, object] = {"attempts": col(OutboxEvent.attempts) + 1}
        if sent:
            values["sent_at"] = utc_now()
        await session.exec(
            update(OutboxEvent)
            .where(col(OutboxEvent.sequence).in_([event.sequence for event in batch]))
            .values(values)
            # Nothing reads the claimed objects after this: matching the WHERE against
            # each of them in the session (the ORM's default) only costs time.
            .execution_options(synchronize_session=False)
        )

    def _back_off(self, failure: DeliveryFailed) -> None:
        self.failures += 1
        ceiling = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** (self.failures - 1))
        # Jittered between half and all of the ceiling, so replicas do not retry in step
        # and each wait is still at least as long as the previous one until the cap.
        self.backoff = ceiling * random.uniform(0.5, 1.0)  # noqa: S311
        self.retry_at = self.clock() + self.backoff
        # Once per outage, not per round: a new kind of failure is reported again.
        if failure.kind != self._reported_problem:
            self._reported_problem = failure.kind
            if failure.is_bug:
                logger.error("outbox relay: %s; retrying with backoff", failure.description)
            else:
                logger.warning(
                    "outbox relay: %s; events wait in the outbox, retrying with backoff",
                    failure.description,
                )

    def _recover(self) -> None:
        if self.failures:
            logger.info("outbox relay: notify takes events again after %d failures", self.failures)
        self.failures = 0
        self.backoff = 0.0
        self.retry_at = None
        self._reported_problem = None

    async def _count_pending(self) -> None:
        # A gauge scraped every few seconds: counting once a second is plenty, and a busy
        # relay makes many rounds a second.
        now = self.clock()
        if self._pending is None or now < self._next_count:
            return
        self._next_count = now + PENDING_COUNT_SECONDS
        async with self.sessions.reading() as session:
            statement = select(func.count()).where(col(OutboxEvent.sent_at).is_(None))
            self._pending.set((await session.exec(statement)).one())
