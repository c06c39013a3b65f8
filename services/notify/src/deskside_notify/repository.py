"""All SQL of the notify service. Flushes, never commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from deskside_contracts.events import Event
from deskside_contracts.notify import DeliveryStatus, NotificationStatus
from deskside_kit.database import dialect_of, insert_rows, utc_now
from deskside_kit.paging import PageRequest, after_cursor
from deskside_notify.models import (
    Notification,
    Preference,
    ReceivedEvent,
    TemplateOverride,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

# The rows recording a webhook attempt locks.
_Keyed = TypeVar("_Keyed", WebhookSubscription, WebhookDelivery)
# The rows workers claim with a lease.
_Leased = TypeVar("_Leased", Notification, WebhookDelivery)

_RECEIVED_EVENTS = ReceivedEvent.__table__  # type: ignore[attr-defined]
# Two relays racing with the same event: one stores it, the other sees a duplicate.
_STORE_NEW_EVENT = {
    name: dialect.insert(_RECEIVED_EVENTS)
    .on_conflict_do_nothing(index_elements=["id"])
    .returning(_RECEIVED_EVENTS.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


@dataclass(frozen=True)
class NotificationFilters:
    ticket_reference: str | None = None
    recipient_email: str | None = None
    status: str | None = None


class NotifyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- events ---------------------------------------------------------------------------------

    async def record_new_events(self, events: Sequence[Event]) -> set[str]:
        """Store the events not stored before (a relay's retry); the ids stored now."""
        if not events:
            return set()
        received_at = utc_now()
        rows = [
            {
                "id": event.id,
                "type": event.type,
                "source": event.source,
                "subject": event.subject,
                "timestamp": event.timestamp,
                "data": event.data,
                "received_at": received_at,
            }
            for event in events
        ]
        # Many rows to one statement: sent as one multi-row INSERT, compiled once.
        stored = await self.session.exec(_STORE_NEW_EVENT[dialect_of(self.session)], params=rows)
        return set(stored.scalars().all())

    async def insert_rows(self, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
        await insert_rows(self.session, model, rows)

    # --- notifications --------------------------------------------------------------------------

    async def muting_preferences(
        self, person_ids: Sequence[str], emails: Sequence[str]
    ) -> Sequence[Preference]:
        if not person_ids and not emails:
            return []
        statement = select(Preference).where(
            or_(
                col(Preference.person_id).in_(person_ids),
                func.lower(col(Preference.email)).in_([email.lower() for email in emails]),
            )
        )
        return (await self.session.exec(statement)).all()

    async def list_notifications(
        self, filters: NotificationFilters, page: PageRequest
    ) -> Sequence[Notification]:
        statement = select(Notification)
        if filters.ticket_reference:
            statement = statement.where(Notification.ticket_reference == filters.ticket_reference)
        if filters.recipient_email:
            statement = statement.where(
                func.lower(col(Notification.recipient_email)) == filters.recipient_email.lower()
            )
        if filters.status:
            statement = statement.where(Notification.status == filters.status)
        statement = after_cursor(statement, [col(Notification.id)], page, descending=True)
        return (await self.session.exec(statement)).all()

    async def get_notification(self, notification_id: str) -> Notification | None:
        return await self.session.get(Notification, notification_id)

    async def claim_due_notifications(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> Sequence[Notification]:
        """Pending mail that is due, leased to this worker until `lease_until`, oldest first.

        The lease is written and committed before sending, so no transaction stays
        open while the SMTP server talks; if this worker dies the lease runs out
        and another sends the mail (at least once). One statement picks, locks and
        leases the rows: not a read, then an UPDATE for every row.
        """
        due = (
            select(Notification.id)
            .where(
                Notification.status == NotificationStatus.PENDING.value,
                col(Notification.next_attempt_at) <= now,
            )
            .order_by(col(Notification.next_attempt_at), col(Notification.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self._lease(Notification, due, lease_until)

    async def mark_sent(self, ids: Sequence[str], now: datetime) -> None:
        """Record mail the server took: one statement for the lot, however many.

        Objects the session already holds for these rows are not updated: read them after.
        """
        await self.session.exec(
            update(Notification)
            .where(col(Notification.id).in_(ids))
            .values(
                status=NotificationStatus.SENT.value,
                sent_at=now,
                next_attempt_at=None,
                attempts=col(Notification.attempts) + 1,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )

    async def notifications_by_id(self, ids: Iterable[str]) -> Sequence[Notification]:
        statement = select(Notification).where(col(Notification.id).in_(list(ids)))
        return (await self.session.exec(statement)).all()

    # --- templates and preferences ------------------------------------------------------------

    async def template_overrides(self) -> Sequence[TemplateOverride]:
        return (await self.session.exec(select(TemplateOverride))).all()

    async def get_template(self, event_type: str) -> TemplateOverride | None:
        return await self.session.get(TemplateOverride, event_type)

    async def get_preference(self, person_id: str) -> Preference | None:
        return await self.session.get(Preference, person_id)

    # --- webhook subscriptions ------------------------------------------------------------------

    async def list_subscriptions(
        self, owner_id: str | None, page: PageRequest
    ) -> Sequence[WebhookSubscription]:
        statement = select(WebhookSubscription)
        if owner_id is not None:
            statement = statement.where(WebhookSubscription.owner_id == owner_id)
        statement = after_cursor(statement, [col(WebhookSubscription.id)], page)
        return (await self.session.exec(statement)).all()

    async def all_subscriptions(self) -> Sequence[WebhookSubscription]:
        return (await self.session.exec(select(WebhookSubscription))).all()

    async def get_subscription(
        self, subscription_id: str, *, for_update: bool = False
    ) -> WebhookSubscription | None:
        statement = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def subscriptions_by_id(
        self, ids: Iterable[str], *, for_update: bool = False
    ) -> Sequence[WebhookSubscription]:
        return await self._by_id(WebhookSubscription, ids, for_update=for_update)

    # --- webhook deliveries ---------------------------------------------------------------------

    async def list_deliveries(
        self, subscription_id: str, status: str | None, page: PageRequest
    ) -> Sequence[WebhookDelivery]:
        statement = select(WebhookDelivery).where(
            WebhookDelivery.subscription_id == subscription_id
        )
        if status:
            statement = statement.where(WebhookDelivery.status == status)
        statement = after_cursor(statement, [col(WebhookDelivery.id)], page, descending=True)
        return (await self.session.exec(statement)).all()

    async def get_delivery(
        self, delivery_id: str, *, for_update: bool = False
    ) -> WebhookDelivery | None:
        statement = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def deliveries_by_id(
        self, ids: Iterable[str], *, for_update: bool = False
    ) -> Sequence[WebhookDelivery]:
        return await self._by_id(WebhookDelivery, ids, for_update=for_update)

    async def _by_id(
        self, model: type[_Keyed], ids: Iterable[str], *, for_update: bool
    ) -> Sequence[_Keyed]:
        # In id order: rows locked together are locked in the same order by everyone.
        key = col(model.id)
        statement = select(model).where(key.in_(set(ids))).order_by(key)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).all()

    async def attempts(self, delivery_id: str) -> Sequence[WebhookAttempt]:
        statement = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(col(WebhookAttempt.id))
        )
        return (await self.session.exec(statement)).all()

    async def claim_due_deliveries(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> Sequence[tuple[WebhookDelivery, WebhookSubscription]]:
        """Due deliveries to enabled endpoints, leased like `claim_due_notifications`."""
        due = (
            select(WebhookDelivery.id)
            .join(
                WebhookSubscription,
                col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
            )
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
                col(WebhookDelivery.next_attempt_at) <= now,
                col(WebhookSubscription.enabled),
            )
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
        deliveries = await self._lease(WebhookDelivery, due, lease_until)
        if not deliveries:
            return []
        subscriptions = {
            row.id: row
            for row in await self.subscriptions_by_id({row.subscription_id for row in deliveries})
        }
        return [
            (delivery, subscriptions[delivery.subscription_id])
            for delivery in deliveries
            if delivery.subscription_id in subscriptions
        ]

    async def _lease(
        self, model: type[_Leased], due: SelectOfScalar[str], lease_until: datetime
    ) -> list[_Leased]:
        """Lease the rows `due` picks (and locks) until `lease_until`; oldest first."""
        claimed = await self.session.exec(
            update(model)
            .where(col(model.id).in_(due))
            .values(next_attempt_at=lease_until)
            .returning(model)
            # Rows the session already holds are refreshed from what the UPDATE returns.
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return sorted(claimed.scalars().all(), key=lambda row: (row.created_at, row.id))

    async def mark_delivered(
        self, outcomes: Sequence[tuple[str, int | None]], now: datetime
    ) -> set[str]:
        """Record deliveries the receiver took, by (id, status code); the ids still there.

        One statement per status code (nearly always one), however many deliveries.
        Objects the session already holds for these rows are not updated: read them after.
        """
        by_code: dict[int | None, list[str]] = {}
        for delivery_id, code in outcomes:
            by_code.setdefault(code, []).append(delivery_id)
        recorded: set[str] = set()
        for code, ids in by_code.items():
            updated = await self.session.exec(
                update(WebhookDelivery)
                .where(col(WebhookDelivery.id).in_(sorted(ids)))
                .values(
                    status=DeliveryStatus.SUCCEEDED.value,
                    attempts=col(WebhookDelivery.attempts) + 1,
                    last_status_code=code,
                    last_error=None,
                    completed_at=now,
                    next_attempt_at=None,
                )
                .returning(col(WebhookDelivery.id))
                .execution_options(synchronize_session=False)
            )
            recorded.update(updated.scalars().all())
        return recorded

    async def requeue_deliveries(self, subscription_id: str, since: datetime, now: datetime) -> int:
        statement = (
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.subscription_id) == subscription_id,
                col(WebhookDelivery.created_at) >= since,
                col(WebhookDelivery.status).in_(
                    [DeliveryStatus.FAILED.value, DeliveryStatus.SKIPPED.value]
                ),
            )
            .values(
                status=DeliveryStatus.PENDING.value,
                next_attempt_at=now,
                attempts=0,
                completed_at=None,
            )
        )
        result = await self.session.exec(statement)
        return int(result.rowcount or 0)

    async def pending_counts(self) -> tuple[int, int]:
        """(emails, webhook deliveries) still waiting: for readiness and metrics."""
        mails = await self.session.exec(
            select(func.count()).where(Notification.status == NotificationStatus.PENDING.value)
        )
        hooks = await self.session.exec(
            select(func.count()).where(WebhookDelivery.status == DeliveryStatus.PENDING.value)
        )
        return int(mails.one()), int(hooks.one())
