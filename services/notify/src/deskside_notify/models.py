"""The tables of the notify service, all in one module.

Notify's own delivery work lives here, in its own database: an event is
stored, and fanned out into one row per email and per webhook delivery, in
the transaction that acknowledges it to the relay. Workers then send from
those rows, so a crash at any moment delays a message but never loses one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from deskside_contracts.notify import DeliveryStatus, NotificationStatus
from deskside_kit.database import UtcDateTime, utc_now
from deskside_kit.ids import new_id


def _timestamp(*, nullable: bool = False) -> Any:
    return Column(UtcDateTime, nullable=nullable)


class ReceivedEvent(SQLModel, table=True):
    """Every event notify has accepted; its primary key is how it dedupes the relay's retries."""

    __tablename__ = "received_events"

    id: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=64)
    source: str = Field(max_length=32)
    subject: str = Field(max_length=64)
    timestamp: datetime = Field(sa_column=_timestamp())
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class Notification(SQLModel, table=True):
    """One email to one person: rendered when the event arrives, sent (and retried) from here."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_ticket_reference", "ticket_reference"),
        Index("ix_notifications_recipient_email", "recipient_email"),
        Index("ix_notifications_event_id", "event_id"),
    )

    id: str = Field(default_factory=lambda: new_id("ntf"), primary_key=True, max_length=40)
    event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    ticket_id: str | None = Field(default=None, max_length=40)
    ticket_reference: str | None = Field(default=None, max_length=40)
    recipient_email: str = Field(max_length=320)
    recipient_name: str | None = Field(default=None, max_length=255)
    person_id: str | None = Field(default=None, max_length=255)
    mandatory: bool = Field(default=False)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(sa_column=Column(Text, nullable=False))
    # Fixed when the row is made, so every retry of this mail is the same message.
    message_id: str = Field(max_length=255)
    thread_id: str | None = Field(default=None, max_length=255)
    status: str = Field(default=NotificationStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class WebhookSubscription(SQLModel, table=True):
    """An integration's subscription to Deskside events, delivered signed."""

    __tablename__ = "webhook_subscriptions"

    id: str = Field(default_factory=lambda: new_id("whk"), primary_key=True, max_length=40)
    url: str = Field(max_length=2048)
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    description: str = Field(default="", max_length=500)
    # Shown to the subscriber once, at creation (or rotation); never in a response after that.
    secret: str = Field(max_length=128)
    # The secret before the last rotation, still signing until it expires, so a
    # receiver can switch secrets without dropping a single delivery.
    previous_secret: str | None = Field(default=None, max_length=128)
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_column=_timestamp(nullable=True)
    )
    enabled: bool = Field(default=True)
    disabled_reason: str | None = Field(default=None, max_length=500)
    disabled_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    # Messages that failed for good in a row; reset by any success.
    consecutive_failures: int = Field(default=0)
    owner_id: str = Field(max_length=255)
    owner_email: str | None = Field(default=None, max_length=320)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription; its attempts follow the retry schedule."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_subscription", "subscription_id", "created_at"),
    )

    id: str = Field(default_factory=lambda: new_id("dlv"), primary_key=True, max_length=40)
    subscription_id: str = Field(
        sa_column=Column(
            String(40), ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False
        )
    )
    # Sent as `webhook-id`: the same on every retry, so receivers dedupe on it.
    event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    # The exact bytes signed and sent, kept so every retry sends the same body.
    payload: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    completed_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class WebhookAttempt(SQLModel, table=True):
    """One HTTP request of a delivery, as the receiver answered it."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(
        sa_column=Column(
            String(40), ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False
        )
    )
    attempted_at: datetime = Field(sa_column=_timestamp())
    status_code: int | None = None
    duration_ms: int
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    response_excerpt: str = Field(default="", sa_column=Column(Text, nullable=False))


class TemplateOverride(SQLModel, table=True):
    """An admin's version of an event type's email; without one the default is used."""

    __tablename__ = "email_templates"

    event_type: str = Field(primary_key=True, max_length=64)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    text_body: str = Field(sa_column=Column(Text, nullable=False))
    html_body: str = Field(sa_column=Column(Text, nullable=False))
    version: int = Field(default=1)
    updated_by: str = Field(max_length=255)
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class Preference(SQLModel, table=True):
    """The event types a person has switched their email off for."""

    __tablename__ = "preferences"

    person_id: str = Field(primary_key=True, max_length=255)
    # Mail is addressed by email; the token's email ties it to this person.
    email: str | None = Field(default=None, max_length=320, index=True)
    muted_event_types: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    version: int = Field(default=1)
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
