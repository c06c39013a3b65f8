"""HTTP handlers of the notify service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from deskside_contracts.events import EventBatch, EventBatchAccepted
from deskside_contracts.notify import (
    DeliveryDetail,
    DeliveryRead,
    DeliveryStatus,
    NotificationRead,
    NotificationStatus,
    PreferencesPut,
    PreferencesRead,
    RecoverAccepted,
    RenderedTemplate,
    SecretRotated,
    TemplatePreview,
    TemplatePut,
    TemplateRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookRecover,
    WebhookUpdate,
)
from deskside_contracts.paging import Page
from deskside_kit.auth import CurrentPrincipal, ServiceCaller
from deskside_kit.idempotency import IdempotencyDep
from deskside_kit.paging import PageParams
from deskside_kit.problems import Forbidden, Unprocessable, problem_responses
from deskside_kit.tags import Tag
from deskside_kit.versions import IfMatch, StaleVersion, etag
from deskside_notify.deps import (
    Admin,
    Intake,
    Notifications,
    Person,
    Preferences,
    Templates,
    WebhookManager,
    Webhooks,
)
from deskside_notify.repository import NotificationFilters
from deskside_notify.service import (
    DeliveryNotFound,
    EndpointDisabled,
    InvalidTemplate,
    TemplateNotFound,
    UnsafeWebhookUrl,
    WebhookNotFound,
)

ResourceId = Annotated[str, Path(max_length=40)]
EventType = Annotated[str, Path(max_length=64)]

# --- from the producing services ------------------------------------------------------------

internal_router = APIRouter(prefix="/internal", tags=[Tag.INTERNAL])


@internal_router.post(
    "/events",
    responses=problem_responses(Forbidden, Unprocessable),
    summary="Events from a service's outbox relay (service credential only)",
    operation_id="receiveEvents",
)
async def receive_events(
    batch: EventBatch, _service: ServiceCaller, intake: Intake
) -> EventBatchAccepted:
    # Answered only after the commit: a 2xx means every event is stored with its fan-out.
    return await intake.receive(batch.events)


# --- webhook subscriptions ------------------------------------------------------------------

webhooks_router = APIRouter(prefix="/v1/webhooks", tags=[Tag.WEBHOOKS])


@webhooks_router.get(
    "",
    responses=problem_responses(Forbidden),
    summary="Webhook subscriptions",
    operation_id="listWebhooks",
)
async def list_webhooks(
    principal: WebhookManager, webhooks: Webhooks, page: PageParams
) -> Page[WebhookRead]:
    return await webhooks.list(principal, page)


@webhooks_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    responses=problem_responses(Forbidden, UnsafeWebhookUrl),
    summary="Subscribe a URL to events; the signing secret is in this response only",
    operation_id="createWebhook",
)
async def create_webhook(
    data: WebhookCreate,
    principal: WebhookManager,
    webhooks: Webhooks,
    idempotency: IdempotencyDep,
    response: Response,
) -> WebhookCreated | Response:
    replay = await idempotency.claim(data)
    if replay is not None:
        return replay
    webhook = await webhooks.create(principal, data)
    response.headers["Location"] = f"/v1/webhooks/{webhook.id}"
    response.headers["ETag"] = etag(webhook.version)
    await idempotency.remember(status.HTTP_201_CREATED, webhook, dict(response.headers))
    return webhook


@webhooks_router.get(
    "/{webhook_id}",
    responses=problem_responses(WebhookNotFound),
    summary="One subscription",
    operation_id="getWebhook",
)
async def get_webhook(
    webhook_id: ResourceId, principal: WebhookManager, webhooks: Webhooks, response: Response
) -> WebhookRead:
    webhook = await webhooks.get(principal, webhook_id)
    response.headers["ETag"] = etag(webhook.version)
    return webhook


@webhooks_router.patch(
    "/{webhook_id}",
    responses=problem_responses(WebhookNotFound, StaleVersion, UnsafeWebhookUrl),
    summary="Change a subscription; `enabled: true` re-enables a disabled endpoint",
    operation_id="updateWebhook",
)
async def update_webhook(
    webhook_id: ResourceId,
    data: WebhookUpdate,
    principal: WebhookManager,
    webhooks: Webhooks,
    response: Response,
    if_match: IfMatch = None,
) -> WebhookRead:
    webhook = await webhooks.update(principal, webhook_id, data, if_match)
    response.headers["ETag"] = etag(webhook.version)
    return webhook


@webhooks_router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(WebhookNotFound),
    summary="Unsubscribe; its delivery log goes with it",
    operation_id="deleteWebhook",
)
async def delete_webhook(
    webhook_id: ResourceId, principal: WebhookManager, webhooks: Webhooks
) -> None:
    await webhooks.delete(principal, webhook_id)


@webhooks_router.post(
    "/{webhook_id}/rotate-secret",
    responses=problem_responses(WebhookNotFound),
    summary="A new secret; for 24 hours deliveries carry signatures of both",
    operation_id="rotateWebhookSecret",
)
async def rotate_secret(
    webhook_id: ResourceId, principal: WebhookManager, webhooks: Webhooks
) -> SecretRotated:
    return await webhooks.rotate_secret(principal, webhook_id)


@webhooks_router.post(
    "/{webhook_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(WebhookNotFound, EndpointDisabled),
    summary="Send a `webhook.test` event to this endpoint now",
    operation_id="sendWebhookTestEvent",
)
async def send_test_event(
    webhook_id: ResourceId, principal: WebhookManager, webhooks: Webhooks
) -> DeliveryRead:
    return await webhooks.send_test(principal, webhook_id)


@webhooks_router.get(
    "/{webhook_id}/deliveries",
    responses=problem_responses(WebhookNotFound),
    summary="What was sent to this endpoint, newest first",
    operation_id="listWebhookDeliveries",
)
async def list_deliveries(
    webhook_id: ResourceId,
    principal: WebhookManager,
    webhooks: Webhooks,
    page: PageParams,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> Page[DeliveryRead]:
    return await webhooks.deliveries(principal, webhook_id, delivery_status, page)


@webhooks_router.post(
    "/{webhook_id}/recover",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(WebhookNotFound, EndpointDisabled),
    summary="Re-send every failed or skipped message since a time",
    operation_id="recoverWebhookDeliveries",
)
async def recover(
    webhook_id: ResourceId, data: WebhookRecover, principal: WebhookManager, webhooks: Webhooks
) -> RecoverAccepted:
    return await webhooks.recover(principal, webhook_id, data)


deliveries_router = APIRouter(prefix="/v1/deliveries", tags=[Tag.WEBHOOKS])


@deliveries_router.get(
    "/{delivery_id}",
    responses=problem_responses(DeliveryNotFound),
    summary="One delivery, its payload and every attempt",
    operation_id="getDelivery",
)
async def get_delivery(
    delivery_id: ResourceId, principal: WebhookManager, webhooks: Webhooks
) -> DeliveryDetail:
    return await webhooks.delivery(principal, delivery_id)


@deliveries_router.post(
    "/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(DeliveryNotFound, EndpointDisabled),
    summary="Send it again now, with a fresh retry schedule",
    operation_id="retryDelivery",
)
async def retry_delivery(
    delivery_id: ResourceId, principal: WebhookManager, webhooks: Webhooks
) -> DeliveryRead:
    return await webhooks.retry(principal, delivery_id)


# --- the notification log -------------------------------------------------------------------

notifications_router = APIRouter(prefix="/v1/notifications", tags=[Tag.NOTIFICATIONS])


@notifications_router.get(
    "",
    summary="Emails sent (the desk sees all; a person, the ones sent to them)",
    operation_id="listNotifications",
)
async def list_notifications(
    principal: CurrentPrincipal,
    notifications: Notifications,
    page: PageParams,
    ticket: Annotated[
        str | None, Query(max_length=40, description="A ticket reference: `SD-000042`.")
    ] = None,
    recipient: Annotated[str | None, Query(max_length=320)] = None,
    notification_status: Annotated[NotificationStatus | None, Query(alias="status")] = None,
) -> Page[NotificationRead]:
    filters = NotificationFilters(
        ticket_reference=ticket,
        recipient_email=recipient,
        status=notification_status.value if notification_status else None,
    )
    return await notifications.list(principal, filters, page)


@notifications_router.get(
    "/{notification_id}", summary="One email's record", operation_id="getNotification"
)
async def get_notification(
    notification_id: ResourceId, principal: CurrentPrincipal, notifications: Notifications
) -> NotificationRead:
    return await notifications.get(principal, notification_id)


# --- templates and preferences --------------------------------------------------------------

templates_router = APIRouter(prefix="/v1/templates", tags=[Tag.TEMPLATES])


@templates_router.get(
    "",
    responses=problem_responses(Forbidden),
    summary="Every email template",
    operation_id="listTemplates",
)
async def list_templates(_admin: Admin, templates: Templates) -> list[TemplateRead]:
    return await templates.list()


@templates_router.get(
    "/{event_type}",
    responses=problem_responses(Forbidden, TemplateNotFound),
    summary="The email sent for an event type",
    operation_id="getTemplate",
)
async def get_template(
    event_type: EventType, _admin: Admin, templates: Templates, response: Response
) -> TemplateRead:
    template = await templates.get(event_type)
    response.headers["ETag"] = etag(template.version)
    return template


@templates_router.put(
    "/{event_type}",
    responses=problem_responses(Forbidden, TemplateNotFound, InvalidTemplate, StaleVersion),
    summary="Change an email (Jinja2, sandboxed); refused if it fails on the sample event",
    operation_id="replaceTemplate",
)
async def put_template(
    event_type: EventType,
    data: TemplatePut,
    admin: Admin,
    templates: Templates,
    response: Response,
    if_match: IfMatch = None,
) -> TemplateRead:
    template = await templates.put(admin, event_type, data, if_match)
    response.headers["ETag"] = etag(template.version)
    return template


@templates_router.delete(
    "/{event_type}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(Forbidden, TemplateNotFound, StaleVersion),
    summary="Back to the default email",
    operation_id="resetTemplate",
)
async def reset_template(
    event_type: EventType, _admin: Admin, templates: Templates, if_match: IfMatch = None
) -> None:
    await templates.reset(event_type, if_match)


@templates_router.post(
    "/{event_type}/preview",
    responses=problem_responses(Forbidden, TemplateNotFound, InvalidTemplate),
    summary="Render the stored template, or a draft, against a sample event",
    operation_id="previewTemplate",
)
async def preview_template(
    event_type: EventType,
    _admin: Admin,
    templates: Templates,
    data: TemplatePreview | None = None,
) -> RenderedTemplate:
    return await templates.preview(event_type, data.draft if data else None)


preferences_router = APIRouter(prefix="/v1/preferences", tags=[Tag.PREFERENCES])


@preferences_router.get(
    "/me", summary="The emails you have switched off", operation_id="getMyPreferences"
)
async def get_my_preferences(
    person: Person, preferences: Preferences, response: Response
) -> PreferencesRead:
    read = await preferences.get(person)
    response.headers["ETag"] = etag(read.version)
    return read


@preferences_router.put(
    "/me",
    responses=problem_responses(Unprocessable, StaleVersion),
    summary="Switch emails off per event type (acknowledgements and security mail stay on)",
    operation_id="replaceMyPreferences",
)
async def put_my_preferences(
    data: PreferencesPut,
    person: Person,
    preferences: Preferences,
    response: Response,
    if_match: IfMatch = None,
) -> PreferencesRead:
    read = await preferences.put(person, data, if_match)
    response.headers["ETag"] = etag(read.version)
    return read


routers = [
    internal_router,
    webhooks_router,
    deliveries_router,
    notifications_router,
    templates_router,
    preferences_router,
]
