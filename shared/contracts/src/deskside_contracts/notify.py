"""Contracts of the notify service: webhooks, deliveries, the notification log, templates."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints

from deskside_contracts.common import RequestModel, ResponseModel, UtcDateTime

# Every event type Deskside produces (ARCHITECTURE.md): extended, never renamed.
TICKET_EVENT_TYPES = (
    "ticket.created",
    "ticket.updated",
    "ticket.assigned",
    "ticket.commented",
    "ticket.escalated",
    "ticket.interaction_logged",
    "ticket.resolved",
    "ticket.closed",
    "ticket.reopened",
    "ticket.sla_warning",
    "ticket.sla_breached",
)
INVENTORY_EVENT_TYPES = (
    "device.registered",
    "device.checked_in",
    "device.compliance_changed",
    "account.requested",
    "account.approved",
    "account.rejected",
    "technology.created",
    "technology.tier_changed",
)
EVENT_TYPES = TICKET_EVENT_TYPES + INVENTORY_EVENT_TYPES
# Sent by `POST /v1/webhooks/{id}/test` to that one endpoint, whatever it subscribes to.
TEST_EVENT_TYPE = "webhook.test"

EventTypePattern = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^(\*|[a-z_]+\.(\*|[a-z_]+))$"),
]


# --- webhook subscriptions ----------------------------------------------------------------------


class WebhookCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/deskside",
                    "event_types": ["ticket.created", "ticket.resolved"],
                    "description": "Ticket feed for the team chat",
                },
                {
                    "url": "https://itsm.example.com/inbound/deskside",
                    "event_types": ["device.*", "account.*"],
                },
            ]
        }
    )

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Where events are POSTed; `https` unless the stack allows `http`.",
    )
    event_types: list[EventTypePattern] = Field(
        min_length=1,
        max_length=50,
        description="Event types to deliver: exact (`ticket.created`), a family "
        "(`ticket.*`) or everything (`*`).",
    )
    description: str = Field(default="", max_length=500)
    enabled: bool = True


class WebhookUpdate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"enabled": True},
                {"event_types": ["ticket.*"], "description": "Every ticket event"},
            ]
        }
    )

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    event_types: list[EventTypePattern] | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(
        default=None, description="Set true to re-enable an endpoint that was disabled."
    )


class WebhookRead(ResponseModel):
    """A webhook subscription. Its signing secret is shown once, at creation, never here."""

    id: str
    url: str
    event_types: list[str] = Field(description="Event types delivered; `*` means all.")
    description: str
    enabled: bool
    disabled_reason: str | None = Field(
        default=None, description="Why Deskside disabled it: a 410, or too many failures."
    )
    disabled_at: UtcDateTime | None = None
    consecutive_failures: int = Field(description="Messages that failed for good in a row.")
    previous_secret_expires_at: UtcDateTime | None = Field(
        default=None, description="Until then, the secret before the last rotation also signs."
    )
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="`whsec_…`: verify signatures with it. Shown only now.")


class SecretRotated(ResponseModel):
    secret: str = Field(description="The new `whsec_…` secret. Shown only now.")
    previous_secret_expires_at: UtcDateTime = Field(
        description="Until then, every delivery is signed with both secrets."
    )


class WebhookRecover(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"since": "2026-11-23T06:00:00Z"}]})

    since: UtcDateTime = Field(description="Re-send every failed or skipped message since then.")


class RecoverAccepted(ResponseModel):
    requeued: int


# --- deliveries ---------------------------------------------------------------------------------


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    # Every retry of the schedule failed, or the endpoint answered 410.
    FAILED = "failed"
    # The endpoint was disabled when the event came; `recover` can send it later.
    SKIPPED = "skipped"


class AttemptRead(ResponseModel):
    attempted_at: UtcDateTime
    status_code: int | None = Field(description="None when no response came.")
    duration_ms: int
    error: str | None = None
    response_excerpt: str = Field(description="The first 2 KiB of the response body.")


class DeliveryRead(ResponseModel):
    id: str
    webhook_id: str
    event_id: str = Field(description="Sent as `webhook-id`, the same on every retry.")
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: UtcDateTime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: UtcDateTime
    completed_at: UtcDateTime | None = None


class DeliveryDetail(DeliveryRead):
    payload: dict[str, Any] = Field(description="The event envelope, as sent.")
    attempt_log: list[AttemptRead]


# --- email ----------------------------------------------------------------------------------------


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    # The recipient opted out of this event type: kept in the log, never sent.
    SUPPRESSED = "suppressed"
    # Refused for good (an address the server will never accept, a template that cannot render).
    FAILED = "failed"


class NotificationRead(ResponseModel):
    """One email: what it said, to whom, and whether it went."""

    id: str
    event_id: str
    event_type: str
    ticket_reference: str | None = None
    recipient_email: str
    recipient_name: str | None = None
    subject: str
    status: NotificationStatus
    attempts: int
    last_error: str | None = None
    next_attempt_at: UtcDateTime | None = None
    sent_at: UtcDateTime | None = None
    created_at: UtcDateTime


class TemplatePut(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "[{{ ticket.reference }}] Resolved: {{ ticket.title }}",
                    "text": 'Hello {{ recipient.name or "there" }},\n\n'
                    "We have resolved {{ ticket.reference }}.\n\n"
                    "What we did: {{ ticket.resolution }}\n",
                    "html": '<p>Hello {{ recipient.name or "there" }},</p>'
                    "<p>We have resolved {{ ticket.reference }}.</p>"
                    "<p>What we did: {{ ticket.resolution }}</p>",
                }
            ]
        }
    )

    subject: str = Field(min_length=1, max_length=1000)
    text: str = Field(min_length=1, max_length=100_000, description="The plain-text body.")
    html: str = Field(min_length=1, max_length=200_000, description="The HTML body.")


class TemplateRead(ResponseModel):
    event_type: str
    subject: str
    text: str
    html: str
    is_default: bool = Field(description="True while no admin has changed it.")
    version: int = Field(description="0 for the default; sent as the `ETag`.")
    updated_by: str | None = None
    updated_at: UtcDateTime | None = None


class TemplatePreview(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {},
                {
                    "draft": {
                        "subject": "[{{ ticket.reference }}] {{ ticket.title }}",
                        "text": "Status: {{ ticket.status }}",
                        "html": "<p>Status: {{ ticket.status }}</p>",
                    }
                },
            ]
        }
    )

    draft: TemplatePut | None = Field(
        default=None, description="Render this draft instead of the stored template."
    )


class RenderedTemplate(ResponseModel):
    subject: str
    text: str
    html: str
    sample_event: dict[str, Any] = Field(description="The sample event it was rendered against.")


class PreferencesRead(ResponseModel):
    muted_event_types: list[str] = Field(description="Event types you get no email for.")
    always_sent: list[str] = Field(
        description="Acknowledgements and security mail: these cannot be switched off."
    )
    event_types: list[str] = Field(description="Every event type that can send you email.")
    version: int


class PreferencesPut(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"muted_event_types": ["ticket.commented", "ticket.assigned"]},
                {"muted_event_types": []},
            ]
        }
    )

    muted_event_types: list[str] = Field(max_length=100)
