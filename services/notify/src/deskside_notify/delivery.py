"""The workers that send: emails through a transport, webhooks through the egress guard.

Each round claims due rows with a lease (committed before anything is sent,
so no transaction stays open while a server talks; `FOR UPDATE SKIP LOCKED`
on PostgreSQL lets replicas share the rows), sends, and records each outcome
in its own short transaction. A worker that dies mid-round leaves leases that
run out, and the rows are sent again: at least once, never lost. Webhook
receivers dedupe on `webhook-id`, which is the event id on every retry.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_contracts.notify import DeliveryStatus, NotificationStatus
from deskside_kit.database import Sessions, utc_now, wake_after_commit
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
        for row in rows:
            await self._send(row)
        return len(rows)

    async def _send(self, row: Notification) -> None:
        error: str | None = None
        permanent = False
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
            error, permanent = f"Refused to build the message: {exc}", True
        except TransportError as exc:
            error, permanent = str(exc), not exc.temporary
        except Exception as exc:  # an unexpected failure is retried, never a lost mail
            logger.exception("sending notification %s failed", row.id)
            error = f"{type(exc).__name__}: {exc}"
        async with self.sessions.write_transaction() as session:
            stored = await session.get(Notification, row.id)
            if stored is None:
                return
            stored.attempts += 1
            stored.last_error = error
            now = self.clock()
            if error is None:
                stored.status, stored.sent_at, stored.next_attempt_at = (
                    NotificationStatus.SENT.value,
                    now,
                    None,
                )
            elif permanent:
                stored.status, stored.next_attempt_at = NotificationStatus.FAILED.value, None
                logger.warning("notification %s failed for good: %s", row.id, error)
            else:
                stored.next_attempt_at = now + timedelta(seconds=self._backoff(stored.attempts))
                logger.info("notification %s will be retried: %s", row.id, error)

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
        # One slow endpoint must not hold up the others: a round's requests run together.
        await asyncio.gather(
            *(self._deliver(delivery, subscription) for delivery, subscription in claimed)
        )
        return len(claimed)

    async def _deliver(self, delivery: WebhookDelivery, subscription: WebhookSubscription) -> None:
        secrets = [subscription.secret]
        overlap_ends = subscription.previous_secret_expires_at
        if subscription.previous_secret and overlap_ends and overlap_ends > self.clock():
            secrets.append(subscription.previous_secret)
        body = delivery.payload.encode()
        # The signature's timestamp is the wall clock, which receivers compare with theirs.
        headers = webhook_headers(secrets, delivery.event_id, int(time.time()), body)
        started = self.clock()
        result = await self.sender.post(subscription.url, body, headers)
        crash_point(WEBHOOKS_AFTER_SEND_BEFORE_MARK)
        await self._record(delivery.id, subscription.id, started, result)

    async def _record(
        self, delivery_id: str, subscription_id: str, started: datetime, result: AttemptResult
    ) -> None:
        async with self.sessions.write_transaction() as session:
            repository = NotifyRepository(session)
            delivery = await repository.get_delivery(delivery_id, for_update=True)
            subscription = await repository.get_subscription(subscription_id, for_update=True)
            if delivery is None or subscription is None:
                return  # deleted while in flight
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    attempted_at=started,
                    status_code=result.status_code,
                    duration_ms=result.duration_ms,
                    error=result.error,
                    response_excerpt=result.response_excerpt or "",
                )
            )
            now = self.clock()
            delivery.attempts += 1
            delivery.last_status_code = result.status_code
            delivery.last_error = result.error
            if result.succeeded:
                delivery.status = DeliveryStatus.SUCCEEDED.value
                delivery.completed_at, delivery.next_attempt_at = now, None
                subscription.consecutive_failures = 0
                return
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
