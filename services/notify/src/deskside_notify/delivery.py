"""The workers that send: emails through a transport, webhooks through the egress guard.

Each round claims due rows with a lease (committed before anything is sent,
so no transaction stays open while a server talks; `FOR UPDATE SKIP LOCKED`
on PostgreSQL lets replicas share the rows), sends, and records the outcomes
in short transactions: what finished together goes in one, so a busy round
costs a few transactions rather than one per row, and nothing waits long to
be recorded. A round stopped by a shutdown records what it sent. A worker
that dies mid-round leaves leases that run out, and the rows it had not
recorded are sent again: at least once, never lost. Webhook receivers dedupe
on `webhook-id`, which is the event id on every retry.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_contracts.notify import DeliveryStatus, NotificationStatus
from deskside_kit.database import Sessions, new_row, utc_now, wake_after_commit
from deskside_kit.faults import (
    WEBHOOKS_AFTER_CLAIM_BEFORE_SEND,
    WEBHOOKS_AFTER_SEND_BEFORE_MARK,
    crash_point,
)
from deskside_notify.config import NotifySettings
from deskside_notify.egress import AttemptResult, WebhookSender
from deskside_notify.mail import HeaderInjection, MailTransport, TransportError, build_message
from deskside_notify.models import (
    Notification,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from deskside_notify.repository import NotifyRepository
from deskside_notify.retries import is_gone, next_retry_delay
from deskside_notify.rules import Recipient
from deskside_notify.service import DeliveryWorkers, notice_webhook_disabled
from deskside_notify.signing import webhook_headers
from deskside_notify.templates import RenderedEmail

logger = logging.getLogger("deskside.notify.delivery")

Clock = Callable[[], datetime]
# Past this, a claimed row whose worker went silent is someone else's to send.
_MAIL_LEASE = timedelta(minutes=2)
# A webhook claim lasts the attempt's timeout plus this: time to record the result.
LEASE_MARGIN_SECONDS = 15
# Sent mail waits at most about this long to be recorded, however slow the server.
MAIL_RECORD_SECONDS = 2.0


class _MailOutcome(NamedTuple):
    error: str | None  # None: the server took it
    permanent: bool = False


@dataclass(frozen=True)
class _Attempt:
    delivery_id: str
    subscription_id: str
    started: datetime
    result: AttemptResult


def _attempt_row(attempt: _Attempt) -> dict[str, Any]:
    result = attempt.result
    return new_row(
        WebhookAttempt,
        delivery_id=attempt.delivery_id,
        attempted_at=attempt.started,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        error=result.error,
        response_excerpt=result.response_excerpt or "",
    )


class Mailer:
    """Sends pending notifications; a refusing server means "later", never "never"."""

    def __init__(
        self,
        sessions: Sessions,
        transport: MailTransport,
        settings: NotifySettings,
        *,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.sessions = sessions
        self.transport = transport
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311  (jitter, not secrets)

    async def run_once(self) -> int:
        """One round; returns how many emails it claimed."""
        now = self.clock()
        async with self.sessions.write_transaction() as session:
            rows = await NotifyRepository(session).claim_due_notifications(
                now, self.settings.delivery_batch_size, now + _MAIL_LEASE
            )
        # Sent one after another and recorded together, at most a few seconds after the
        # first unrecorded send: with a quick server that is once a round, with a slow one
        # every mail or two. A crash sends only the unrecorded ones again (at least once).
        unrecorded: dict[str, _MailOutcome] = {}
        first_unrecorded = 0.0
        try:
            # A round's mail shares one connection to the server, not one each.
            async with self.transport.connection():
                for row in rows:
                    if not unrecorded:
                        first_unrecorded = time.monotonic()
                    unrecorded[row.id] = await self._send(row)
                    if time.monotonic() - first_unrecorded >= MAIL_RECORD_SECONDS:
                        outcomes, unrecorded = unrecorded, {}
                        await self._record(outcomes)
                # Before saying goodbye to the server, which may take its time over it.
                if unrecorded:
                    outcomes, unrecorded = unrecorded, {}
                    await self._record(outcomes)
        finally:
            if unrecorded:
                # Even when the round is cancelled (a shutdown): mail that went out is
                # recorded, not sent again by whoever takes the lease over.
                await asyncio.shield(self._record(unrecorded))
        return len(rows)

    async def _send(self, row: Notification) -> _MailOutcome:
        try:
            message = build_message(
                rendered=RenderedEmail(subject=row.subject, text=row.text_body, html=row.html_body),
                sender=self.settings.mail_from,
                recipient=Recipient(
                    email=row.recipient_email, name=row.recipient_name, person_id=row.person_id
                ),
                reply_to=self.settings.reply_to if row.ticket_id else None,
                message_id=row.message_id,
                ticket_reference=row.ticket_reference,
                thread_id=row.thread_id,
            )
            await self.transport.send(message)
        except HeaderInjection as exc:
            return _MailOutcome(f"Refused to build the message: {exc}", permanent=True)
        except TransportError as exc:
            return _MailOutcome(str(exc), permanent=not exc.temporary)
        except Exception as exc:  # an unexpected failure is retried, never a lost mail
            logger.exception("sending notification %s failed", row.id)
            return _MailOutcome(f"{type(exc).__name__}: {exc}")
        return _MailOutcome(None)

    async def _record(self, outcomes: dict[str, _MailOutcome]) -> None:
        async with self.sessions.write_transaction() as session:
            now = self.clock()
            repository = NotifyRepository(session)
            # Nearly always every mail went: that is one UPDATE, not one for each.
            sent = sorted(row_id for row_id, outcome in outcomes.items() if outcome.error is None)
            if sent:
                await repository.mark_sent(sent, now)
            failed = [row_id for row_id, outcome in outcomes.items() if outcome.error is not None]
            if not failed:
                return
            for stored in await repository.notifications_by_id(failed):
                error, permanent = outcomes[stored.id]
                stored.attempts += 1
                stored.last_error = error
                if permanent:
                    stored.status, stored.next_attempt_at = NotificationStatus.FAILED.value, None
                    logger.warning("notification %s failed for good: %s", stored.id, error)
                else:
                    stored.next_attempt_at = now + timedelta(seconds=self._backoff(stored.attempts))
                    logger.info("notification %s will be retried: %s", stored.id, error)

    def _backoff(self, attempts: int) -> float:
        delay = min(
            self.settings.mail_retry_initial * 2 ** (attempts - 1), self.settings.mail_retry_max
        )
        return float(delay * self.rng.uniform(0.8, 1.2))


class WebhookDispatcher:
    """Sends due webhook deliveries, then schedules, completes or gives up on each."""

    def __init__(
        self,
        sessions: Sessions,
        sender: WebhookSender,
        settings: NotifySettings,
        *,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        workers: DeliveryWorkers | None = None,
    ) -> None:
        self.sessions = sessions
        self.sender = sender
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311  (jitter, not secrets)
        self.workers = workers or DeliveryWorkers()

    async def run_once(self) -> int:
        """One round; returns how many deliveries it claimed."""
        now = self.clock()
        # An attempt takes at most the timeout (one deadline for all of it), so a
        # claim older than that plus a margin belongs to a worker that died.
        lease = timedelta(seconds=self.settings.webhook_timeout + LEASE_MARGIN_SECONDS)
        async with self.sessions.write_transaction() as session:
            claimed = await NotifyRepository(session).claim_due_deliveries(
                now, self.settings.delivery_batch_size, now + lease
            )
        if claimed:
            crash_point(WEBHOOKS_AFTER_CLAIM_BEFORE_SEND)
        # One slow endpoint must not hold up the others: a round's requests run together,
        # and what has finished is recorded while the slow ones are still out.
        sending = {
            asyncio.create_task(self._attempt(delivery, subscription))
            for delivery, subscription in claimed
        }
        try:
            while sending:
                done, sending = await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                crash_point(WEBHOOKS_AFTER_SEND_BEFORE_MARK)
                try:
                    await self._record([task.result() for task in done])
                except Exception:
                    # Those leases run out and the deliveries are tried again; the rest of
                    # the round still gets its answers recorded.
                    logger.exception("recording %d webhook attempts failed", len(done))
        finally:
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)
        return len(claimed)

    async def _attempt(
        self, delivery: WebhookDelivery, subscription: WebhookSubscription
    ) -> _Attempt:
        secrets = [subscription.secret]
        overlap_ends = subscription.previous_secret_expires_at
        if subscription.previous_secret and overlap_ends and overlap_ends > self.clock():
            secrets.append(subscription.previous_secret)
        body = delivery.payload.encode()
        # The signature's timestamp is the wall clock, which receivers compare with theirs.
        headers = webhook_headers(secrets, delivery.event_id, int(time.time()), body)
        started = self.clock()
        try:
            result = await self.sender.post(subscription.url, body, headers)
        except Exception as exc:  # the sender should not raise; if it does, a failed attempt
            logger.exception("webhook delivery %s failed unexpectedly", delivery.id)
            result = AttemptResult(status_code=None, duration_ms=0, error=type(exc).__name__)
        return _Attempt(delivery.id, subscription.id, started, result)

    async def _record(self, attempts: list[_Attempt]) -> None:
        async with self.sessions.write_transaction() as session:
            repository = NotifyRepository(session)
            # Subscriptions first, in id order, then the deliveries, as deleting or changing
            # a webhook locks them: replicas recording at once, and an admin's change, take
            # the locks they share in the same order. (A delivery is leased to one worker,
            # so no two recorders ever lock the same delivery.)
            subscriptions = {
                row.id: row
                for row in await repository.subscriptions_by_id(
                    [attempt.subscription_id for attempt in attempts], for_update=True
                )
            }
            now = self.clock()
            # Deleted while in flight: nothing to record.
            attempts = [attempt for attempt in attempts if attempt.subscription_id in subscriptions]
            succeeded = [attempt for attempt in attempts if attempt.result.succeeded]
            failed = [attempt for attempt in attempts if not attempt.result.succeeded]
            recorded: set[str] = set()
            if succeeded:
                # Nearly always every attempt succeeded: one UPDATE, no row read first.
                recorded |= await repository.mark_delivered(
                    [(attempt.delivery_id, attempt.result.status_code) for attempt in succeeded],
                    now,
                )
                for attempt in succeeded:
                    if attempt.delivery_id in recorded:
                        subscriptions[attempt.subscription_id].consecutive_failures = 0
            if failed:
                deliveries = {
                    row.id: row
                    for row in await repository.deliveries_by_id(
                        [attempt.delivery_id for attempt in failed], for_update=True
                    )
                }
                for attempt in failed:
                    delivery = deliveries.get(attempt.delivery_id)
                    if delivery is not None:
                        recorded.add(delivery.id)
                        self._settle(
                            session, delivery, subscriptions[attempt.subscription_id], attempt, now
                        )
            await repository.insert_rows(
                WebhookAttempt,
                [_attempt_row(attempt) for attempt in attempts if attempt.delivery_id in recorded],
            )

    def _settle(
        self,
        session: AsyncSession,
        delivery: WebhookDelivery,
        subscription: WebhookSubscription,
        attempt: _Attempt,
        now: datetime,
    ) -> None:
        """A failed attempt: try again later, or give up (and perhaps switch the endpoint off)."""
        result = attempt.result
        delivery.attempts += 1
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        if is_gone(result):
            self._give_up(delivery, now)
            self._disable(session, subscription, "The endpoint answered 410 Gone.", now)
            return
        delay = next_retry_delay(delivery.attempts, result, rng=self.rng)
        if delay is not None:
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            return
        self._give_up(delivery, now)
        subscription.consecutive_failures += 1
        if subscription.consecutive_failures >= self.settings.webhook_disable_after:
            self._disable(
                session,
                subscription,
                f"{subscription.consecutive_failures} messages in a row failed every retry.",
                now,
            )

    @staticmethod
    def _give_up(delivery: WebhookDelivery, now: datetime) -> None:
        delivery.status = DeliveryStatus.FAILED.value
        delivery.completed_at, delivery.next_attempt_at = now, None

    def _disable(
        self, session: AsyncSession, subscription: WebhookSubscription, reason: str, now: datetime
    ) -> None:
        if not subscription.enabled:
            return
        subscription.enabled = False
        subscription.disabled_reason, subscription.disabled_at = reason, now
        subscription.version += 1
        subscription.updated_at = now
        logger.warning("webhook %s disabled: %s", subscription.id, reason)
        session.add_all(notice_webhook_disabled(subscription, self.settings, now=now))
        wake_after_commit(session, self.workers.mail)
