"""The rules of the notify service: taking events in, and what admins and people may change.

An event is taken in once (its id is the key) and, in the same transaction,
fanned out into the emails and webhook deliveries it causes. The workers in
`delivery.py` send from those rows; nothing here talks to the outside world.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from deskside_contracts.common import Role
from deskside_contracts.events import Event, EventBatchAccepted
from deskside_contracts.notify import (
    EVENT_TYPES,
    TEST_EVENT_TYPE,
    AttemptRead,
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
    TemplatePut,
    TemplateRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookRecover,
    WebhookUpdate,
)
from deskside_contracts.paging import Page
from deskside_contracts.samples import SAMPLE_EVENTS
from deskside_kit.auth import Principal
from deskside_kit.background import Wakeup
from deskside_kit.database import new_row, utc_now, wake_after_commit
from deskside_kit.ids import new_id
from deskside_kit.paging import PageRequest, build_page
from deskside_kit.problems import Conflict, NotFound, Unprocessable
from deskside_kit.versions import require_version
from deskside_notify.config import NotifySettings
from deskside_notify.egress import EgressPolicy, UnsafeDestination, check_url
from deskside_notify.mail import new_message_id, thread_root_id
from deskside_notify.models import (
    Notification,
    Preference,
    TemplateOverride,
    WebhookDelivery,
    WebhookSubscription,
)
from deskside_notify.repository import NotificationFilters, NotifyRepository
from deskside_notify.rules import ALWAYS_SENT, PlannedEmail, Recipient, plan_emails
from deskside_notify.signing import new_secret
from deskside_notify.templates import (
    DEFAULT_TEMPLATES,
    EmailTemplate,
    RenderedEmail,
    TemplateError,
    render,
)

logger = logging.getLogger("deskside.notify")

SOURCE = "notify"
# How long a receiver may keep verifying with the secret it had before a rotation.
ROTATION_OVERLAP = timedelta(hours=24)
# Notify's own notice to admins, rendered like any event's email.
WEBHOOK_DISABLED = "webhook.disabled"

Clock = Callable[[], datetime]


def egress_policy(settings: NotifySettings) -> EgressPolicy:
    return EgressPolicy(
        allow_http=settings.webhook_allow_http, allow_private=settings.webhook_allow_private
    )


def event_type_matches(patterns: Iterable[str], event_type: str) -> bool:
    family = event_type.split(".", 1)[0]
    return any(pattern in ("*", event_type, f"{family}.*") for pattern in patterns)


@dataclass(frozen=True)
class DeliveryWorkers:
    """Wakes this process's workers (`delivery.py`) when a transaction that gave them work commits.

    Without a wake they still find the work at their next look; with one they
    start on it at once.
    """

    mail: Wakeup = field(default_factory=Wakeup)
    webhooks: Wakeup = field(default_factory=Wakeup)


# --- taking events in ---------------------------------------------------------------------------


class EventIntake:
    """Stores each new event and the emails and deliveries it causes, in one transaction."""

    def __init__(
        self,
        repository: NotifyRepository,
        settings: NotifySettings,
        clock: Clock = utc_now,
        *,
        workers: DeliveryWorkers | None = None,
    ) -> None:
        self.repository = repository
        self.settings = settings
        self.clock = clock
        self.workers = workers or DeliveryWorkers()

    async def receive(self, events: Sequence[Event]) -> EventBatchAccepted:
        subscriptions = await self.repository.all_subscriptions()
        overrides = {row.event_type: row for row in await self.repository.template_overrides()}
        stored = await self.repository.record_new_events(events)
        # An id sent twice in one batch is stored once, from its first copy, and planned
        # from that copy too.
        first_copies: dict[str, Event] = {}
        for event in events:
            if event.id in stored:
                first_copies.setdefault(event.id, event)
        fresh = list(first_copies.values())
        planned = [(event, plan_emails(event)) for event in fresh]
        # One look-up of everyone's mutes for the whole batch, not one per event.
        muted = await self._muted([email for _, emails in planned for email in emails])
        mail: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        for event, emails in planned:
            mail.extend(self._mail(event, emails, overrides, muted))
            deliveries.extend(self._deliveries(event, subscriptions))
        # As rows, not as table models: a batch is often a hundred of them, and a model
        # costs more to make than its row costs to write.
        await self.repository.insert_rows(Notification, mail)
        await self.repository.insert_rows(WebhookDelivery, deliveries)
        session = self.repository.session
        if any(row["status"] == NotificationStatus.PENDING.value for row in mail):
            wake_after_commit(session, self.workers.mail)
        if any(row["status"] == DeliveryStatus.PENDING.value for row in deliveries):
            wake_after_commit(session, self.workers.webhooks)
        return EventBatchAccepted(accepted=len(fresh), duplicates=len(events) - len(fresh))

    def _mail(
        self,
        event: Event,
        planned: Sequence[PlannedEmail],
        overrides: Mapping[str, TemplateOverride],
        muted: Mapping[str, frozenset[str]],
    ) -> Iterator[dict[str, Any]]:
        now = self.clock()
        for email in planned:
            key = email.recipient.person_id or email.recipient.email.lower()
            suppressed = not email.mandatory and email.event_type in muted.get(key, frozenset())
            yield notification_row(
                email,
                event,
                self.settings,
                override=overrides.get(email.event_type),
                now=now,
                suppressed=suppressed,
            )

    async def _muted(self, planned: Sequence[PlannedEmail]) -> dict[str, frozenset[str]]:
        """Muted event types by person id and by lowercased email."""
        if not planned:
            return {}
        preferences = await self.repository.muting_preferences(
            [e.recipient.person_id for e in planned if e.recipient.person_id],
            [e.recipient.email for e in planned],
        )
        muted: dict[str, frozenset[str]] = {}
        for preference in preferences:
            types = frozenset(preference.muted_event_types)
            muted[preference.person_id] = types
            if preference.email:
                muted[preference.email.lower()] = types
        return muted

    def _deliveries(
        self, event: Event, subscriptions: Sequence[WebhookSubscription]
    ) -> Iterator[dict[str, Any]]:
        payload: str | None = None
        for subscription in subscriptions:
            if not event_type_matches(subscription.event_types, event.type):
                continue
            # Serialized once: every endpoint and every retry gets the same bytes.
            payload = payload or event.model_dump_json()
            yield delivery_row(subscription, event, payload, now=self.clock())


def delivery_row(
    subscription: WebhookSubscription, event: Event, payload: str, *, now: datetime
) -> dict[str, Any]:
    return new_row(
        WebhookDelivery,
        subscription_id=subscription.id,
        event_id=event.id,
        event_type=event.type,
        payload=payload,
        status=(DeliveryStatus.PENDING if subscription.enabled else DeliveryStatus.SKIPPED).value,
        next_attempt_at=now if subscription.enabled else None,
    )


def notification_row(
    email: PlannedEmail,
    event: Event,
    settings: NotifySettings,
    *,
    override: TemplateOverride | None,
    now: datetime,
    suppressed: bool = False,
) -> dict[str, Any]:
    """The notification row of one planned email (a `new_row` dict), rendered now so
    the log shows what was said."""
    status = NotificationStatus.SUPPRESSED if suppressed else NotificationStatus.PENDING
    error: str | None = None
    try:
        rendered = _render(email, event, settings, override)
    except TemplateError as exc:
        # Both the admin's template and the default failed: keep the row, say why.
        logger.error("email for event %s cannot be rendered: %s", event.id, exc)
        rendered = RenderedEmail(subject=event.type, text="", html="")
        status, error = NotificationStatus.FAILED, f"The template cannot be rendered: {exc}"
    return new_row(
        Notification,
        event_id=event.id,
        event_type=email.event_type,
        ticket_id=email.ticket_id,
        ticket_reference=email.ticket_reference,
        recipient_email=email.recipient.email,
        recipient_name=email.recipient.name,
        person_id=email.recipient.person_id,
        mandatory=email.mandatory,
        subject=rendered.subject,
        text_body=rendered.text,
        html_body=rendered.html,
        message_id=new_message_id(settings.mail_domain),
        thread_id=thread_root_id(email.ticket_id, settings.mail_domain)
        if email.ticket_id
        else None,
        status=status.value,
        next_attempt_at=now if status is NotificationStatus.PENDING else None,
        last_error=error,
    )


def _render(
    email: PlannedEmail,
    event: Event,
    settings: NotifySettings,
    override: TemplateOverride | None,
) -> RenderedEmail:
    if override is not None:
        try:
            return render(
                _template_of(override), event, email.recipient, public_url=settings.public_url
            )
        except TemplateError as exc:
            # An admin's template that fails on real data must not cost anyone their mail.
            logger.warning(
                "the %s template fails on event %s (%s); the default is used",
                email.event_type,
                event.id,
                exc,
            )
    return render(
        DEFAULT_TEMPLATES[email.event_type], event, email.recipient, public_url=settings.public_url
    )


def _template_of(row: TemplateOverride) -> EmailTemplate:
    return EmailTemplate(subject=row.subject, text=row.text_body, html=row.html_body)


def notice_webhook_disabled(
    subscription: WebhookSubscription, settings: NotifySettings, *, now: datetime
) -> list[Notification]:
    """The emails telling admins (and the subscription's owner) an endpoint was switched off."""
    event = Event(
        id=new_id("evt"),
        type=WEBHOOK_DISABLED,
        timestamp=now,
        source=SOURCE,
        subject=subscription.id,
        data={"webhook": webhook_to_read(subscription).model_dump(mode="json")},
    )
    addresses = dict.fromkeys(
        address.lower() for address in [*settings.admin_emails, subscription.owner_email] if address
    )
    return [
        Notification(
            **notification_row(
                PlannedEmail(
                    recipient=Recipient(email=address),
                    event_type=WEBHOOK_DISABLED,
                    mandatory=True,
                    ticket_id=None,
                    ticket_reference=None,
                ),
                event,
                settings,
                override=None,
                now=now,
            )
        )
        for address in addresses
    ]


# --- webhook subscriptions and deliveries ---------------------------------------------------


class WebhookNotFound(NotFound):
    def __init__(self, subscription_id: str) -> None:
        super().__init__(f"There is no webhook {subscription_id!r}.")


class DeliveryNotFound(NotFound):
    def __init__(self, delivery_id: str) -> None:
        super().__init__(f"There is no delivery {delivery_id!r}.")


class UnsafeWebhookUrl(Unprocessable):
    def __init__(self, reason: str) -> None:
        super().__init__(
            f"url: {reason}",
            errors=[{"field": "body.url", "message": reason, "code": "unsafe_url"}],
        )


class EndpointDisabled(Conflict):
    def __init__(self) -> None:
        super().__init__("The webhook is disabled: enable it (PATCH enabled=true) first.")


def webhook_to_read(row: WebhookSubscription) -> WebhookRead:
    return WebhookRead.model_validate(row)


def delivery_to_read(row: WebhookDelivery) -> DeliveryRead:
    return DeliveryRead(
        id=row.id,
        webhook_id=row.subscription_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == DeliveryStatus.PENDING else None,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


class WebhookService:
    def __init__(
        self,
        repository: NotifyRepository,
        settings: NotifySettings,
        clock: Clock = utc_now,
        *,
        workers: DeliveryWorkers | None = None,
    ) -> None:
        self.repository = repository
        self.settings = settings
        self.clock = clock
        self.workers = workers or DeliveryWorkers()

    async def create(self, principal: Principal, data: WebhookCreate) -> WebhookCreated:
        self._check_url(data.url)
        event_types = _known_patterns(data.event_types)
        secret = new_secret()
        row = WebhookSubscription(
            url=data.url,
            event_types=event_types,
            description=data.description,
            enabled=data.enabled,
            secret=secret,
            owner_id=principal.sub,
            owner_email=principal.email,
        )
        self.repository.session.add(row)
        await self.repository.session.flush()
        return WebhookCreated(**webhook_to_read(row).model_dump(), secret=secret)

    async def list(self, principal: Principal, page: PageRequest) -> Page[WebhookRead]:
        rows = await self.repository.list_subscriptions(_owner_filter(principal), page)
        return build_page(rows, page, sort_key=lambda row: [row.id], to_item=webhook_to_read)

    async def get(self, principal: Principal, subscription_id: str) -> WebhookRead:
        return webhook_to_read(await self._visible(principal, subscription_id))

    async def update(
        self,
        principal: Principal,
        subscription_id: str,
        data: WebhookUpdate,
        if_match: str | None,
    ) -> WebhookRead:
        row = await self._visible(principal, subscription_id, for_update=True)
        require_version(if_match, row.version)
        changes = data.model_dump(exclude_unset=True)
        if changes.get("url") is not None:
            self._check_url(changes["url"])
            row.url = changes["url"]
        if changes.get("event_types") is not None:
            row.event_types = _known_patterns(changes["event_types"])
        if changes.get("description") is not None:
            row.description = changes["description"]
        if changes.get("enabled") is not None:
            if changes["enabled"] and not row.enabled:
                # Re-enabled: a clean slate; `recover` re-sends what it missed.
                row.disabled_reason, row.disabled_at, row.consecutive_failures = None, None, 0
            row.enabled = changes["enabled"]
        row.version += 1
        row.updated_at = self.clock()
        await self.repository.session.flush()
        return webhook_to_read(row)

    async def delete(self, principal: Principal, subscription_id: str) -> None:
        row = await self._visible(principal, subscription_id, for_update=True)
        await self.repository.session.delete(row)
        await self.repository.session.flush()

    async def rotate_secret(self, principal: Principal, subscription_id: str) -> SecretRotated:
        row = await self._visible(principal, subscription_id, for_update=True)
        now = self.clock()
        row.previous_secret = row.secret
        row.previous_secret_expires_at = now + ROTATION_OVERLAP
        row.secret = new_secret()
        row.version += 1
        row.updated_at = now
        await self.repository.session.flush()
        return SecretRotated(secret=row.secret, previous_secret_expires_at=now + ROTATION_OVERLAP)

    async def send_test(self, principal: Principal, subscription_id: str) -> DeliveryRead:
        row = await self._visible(principal, subscription_id)
        if not row.enabled:
            raise EndpointDisabled()
        now = self.clock()
        event = Event(
            id=new_id("evt"),
            type=TEST_EVENT_TYPE,
            timestamp=now,
            source=SOURCE,
            subject=row.id,
            data={
                "message": "A test event from Deskside: this endpoint is reachable and "
                "verifies signatures.",
                "webhook_id": row.id,
            },
        )
        delivery = WebhookDelivery(**delivery_row(row, event, event.model_dump_json(), now=now))
        self.repository.session.add(delivery)
        await self.repository.session.flush()
        self._wake_dispatcher()
        return delivery_to_read(delivery)

    async def deliveries(
        self,
        principal: Principal,
        subscription_id: str,
        status: DeliveryStatus | None,
        page: PageRequest,
    ) -> Page[DeliveryRead]:
        await self._visible(principal, subscription_id)
        rows = await self.repository.list_deliveries(
            subscription_id, status.value if status else None, page
        )
        return build_page(rows, page, sort_key=lambda row: [row.id], to_item=delivery_to_read)

    async def delivery(self, principal: Principal, delivery_id: str) -> DeliveryDetail:
        row = await self._visible_delivery(principal, delivery_id)
        attempts = await self.repository.attempts(row.id)
        return DeliveryDetail(
            **delivery_to_read(row).model_dump(),
            payload=Event.model_validate_json(row.payload).model_dump(mode="json"),
            attempt_log=[AttemptRead.model_validate(attempt) for attempt in attempts],
        )

    async def retry(self, principal: Principal, delivery_id: str) -> DeliveryRead:
        row = await self._visible_delivery(principal, delivery_id, for_update=True)
        subscription = await self.repository.get_subscription(row.subscription_id)
        if subscription is None or not subscription.enabled:
            raise EndpointDisabled()
        # A fresh run of the retry schedule, starting now; the attempt log keeps the old ones.
        row.status, row.attempts = DeliveryStatus.PENDING.value, 0
        row.next_attempt_at, row.completed_at = self.clock(), None
        await self.repository.session.flush()
        self._wake_dispatcher()
        return delivery_to_read(row)

    async def recover(
        self, principal: Principal, subscription_id: str, data: WebhookRecover
    ) -> RecoverAccepted:
        row = await self._visible(principal, subscription_id)
        if not row.enabled:
            raise EndpointDisabled()
        requeued = await self.repository.requeue_deliveries(row.id, data.since, self.clock())
        if requeued:
            self._wake_dispatcher()
        return RecoverAccepted(requeued=requeued)

    def _wake_dispatcher(self) -> None:
        """The deliveries this transaction queued go out as soon as it commits."""
        wake_after_commit(self.repository.session, self.workers.webhooks)

    def _check_url(self, url: str) -> None:
        try:
            check_url(url, egress_policy(self.settings))
        except UnsafeDestination as exc:
            raise UnsafeWebhookUrl(str(exc)) from None

    async def _visible(
        self, principal: Principal, subscription_id: str, *, for_update: bool = False
    ) -> WebhookSubscription:
        row = await self.repository.get_subscription(subscription_id, for_update=for_update)
        owner = _owner_filter(principal)
        # An integration sees only its own subscriptions; others answer 404, as if absent.
        if row is None or (owner is not None and row.owner_id != owner):
            raise WebhookNotFound(subscription_id)
        return row

    async def _visible_delivery(
        self, principal: Principal, delivery_id: str, *, for_update: bool = False
    ) -> WebhookDelivery:
        row = await self.repository.get_delivery(delivery_id, for_update=for_update)
        if row is None:
            raise DeliveryNotFound(delivery_id)
        try:
            await self._visible(principal, row.subscription_id)
        except WebhookNotFound:
            raise DeliveryNotFound(delivery_id) from None
        return row


def _owner_filter(principal: Principal) -> str | None:
    return None if principal.has_role(Role.ADMIN) else principal.sub


def _known_patterns(patterns: Sequence[str]) -> list[str]:
    families = {event_type.split(".", 1)[0] for event_type in EVENT_TYPES}
    unknown = [
        pattern
        for pattern in patterns
        if pattern != "*"
        and pattern not in EVENT_TYPES
        and not (pattern.endswith(".*") and pattern[:-2] in families)
    ]
    if unknown:
        raise Unprocessable(
            f"event_types: unknown {', '.join(repr(p) for p in unknown)}; use an event type, "
            f"a family such as 'ticket.*', or '*'.",
            errors=[
                {
                    "field": "body.event_types",
                    "message": f"unknown: {', '.join(unknown)}",
                    "code": "unknown_event_type",
                }
            ],
        )
    return list(dict.fromkeys(patterns))


# --- the notification log ---------------------------------------------------------------------


def notification_to_read(row: Notification) -> NotificationRead:
    return NotificationRead.model_validate(row)


class NotificationService:
    def __init__(self, repository: NotifyRepository) -> None:
        self.repository = repository

    async def list(
        self, principal: Principal, filters: NotificationFilters, page: PageRequest
    ) -> Page[NotificationRead]:
        if not principal.is_staff:
            # People see the mail sent to them, and nobody else's.
            if principal.email is None:
                return Page[NotificationRead](items=[], next_cursor=None)
            filters = NotificationFilters(
                ticket_reference=filters.ticket_reference,
                recipient_email=principal.email,
                status=filters.status,
            )
        rows = await self.repository.list_notifications(filters, page)
        return build_page(rows, page, sort_key=lambda row: [row.id], to_item=notification_to_read)

    async def get(self, principal: Principal, notification_id: str) -> NotificationRead:
        row = await self.repository.get_notification(notification_id)
        mine = (
            row is not None
            and principal.email is not None
            and row.recipient_email.lower() == principal.email.lower()
        )
        if row is None or not (principal.is_staff or mine):
            raise NotFound(f"There is no notification {notification_id!r}.")
        return notification_to_read(row)


# --- templates ----------------------------------------------------------------------------


class TemplateNotFound(NotFound):
    def __init__(self, event_type: str) -> None:
        super().__init__(
            f"No email is sent for {event_type!r}; templates exist for: "
            f"{', '.join(sorted(DEFAULT_TEMPLATES))}."
        )


class InvalidTemplate(Unprocessable):
    def __init__(self, error: TemplateError) -> None:
        super().__init__(f"The template does not render: {error}")


class TemplateService:
    def __init__(
        self, repository: NotifyRepository, settings: NotifySettings, clock: Clock = utc_now
    ) -> None:
        self.repository = repository
        self.settings = settings
        self.clock = clock

    async def list(self) -> list[TemplateRead]:
        overrides = {row.event_type: row for row in await self.repository.template_overrides()}
        return [
            _template_read(event_type, overrides.get(event_type))
            for event_type in sorted(DEFAULT_TEMPLATES)
        ]

    async def get(self, event_type: str) -> TemplateRead:
        _require_known_template(event_type)
        return _template_read(event_type, await self.repository.get_template(event_type))

    async def put(
        self, principal: Principal, event_type: str, data: TemplatePut, if_match: str | None
    ) -> TemplateRead:
        _require_known_template(event_type)
        template = EmailTemplate(subject=data.subject, text=data.text, html=data.html)
        self._check(event_type, template)
        row = await self.repository.get_template(event_type)
        require_version(if_match, row.version if row else 0)
        if row is None:
            row = TemplateOverride(
                event_type=event_type,
                subject=data.subject,
                text_body=data.text,
                html_body=data.html,
                updated_by=principal.sub,
            )
            self.repository.session.add(row)
        else:
            row.subject, row.text_body, row.html_body = data.subject, data.text, data.html
            row.version += 1
            row.updated_by, row.updated_at = principal.sub, self.clock()
        await self.repository.session.flush()
        return _template_read(event_type, row)

    async def reset(self, event_type: str, if_match: str | None) -> None:
        _require_known_template(event_type)
        row = await self.repository.get_template(event_type)
        if row is not None:
            require_version(if_match, row.version)
            await self.repository.session.delete(row)
            await self.repository.session.flush()

    async def preview(self, event_type: str, draft: TemplatePut | None) -> RenderedTemplate:
        _require_known_template(event_type)
        if draft is not None:
            template = EmailTemplate(subject=draft.subject, text=draft.text, html=draft.html)
        else:
            row = await self.repository.get_template(event_type)
            template = _template_of(row) if row else DEFAULT_TEMPLATES[event_type]
        sample = SAMPLE_EVENTS[event_type]
        try:
            rendered = render(
                template, sample, _sample_recipient(sample), public_url=self.settings.public_url
            )
        except TemplateError as exc:
            raise InvalidTemplate(exc) from None
        return RenderedTemplate(
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            sample_event=sample.model_dump(mode="json"),
        )

    def _check(self, event_type: str, template: EmailTemplate) -> None:
        """Refuse a template that does not parse, or fails on the sample event."""
        sample = SAMPLE_EVENTS[event_type]
        try:
            render(template, sample, _sample_recipient(sample), public_url=self.settings.public_url)
        except TemplateError as exc:
            raise InvalidTemplate(exc) from None


def _sample_recipient(sample: Event) -> Recipient:
    planned = plan_emails(sample)
    return planned[0].recipient if planned else Recipient(email="someone@example.com")


def _require_known_template(event_type: str) -> None:
    if event_type not in DEFAULT_TEMPLATES:
        raise TemplateNotFound(event_type)


def _template_read(event_type: str, row: TemplateOverride | None) -> TemplateRead:
    if row is None:
        default = DEFAULT_TEMPLATES[event_type]
        return TemplateRead(
            event_type=event_type,
            subject=default.subject,
            text=default.text,
            html=default.html,
            is_default=True,
            version=0,
        )
    return TemplateRead(
        event_type=event_type,
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        is_default=False,
        version=row.version,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


# --- preferences ------------------------------------------------------------------------------

# The event types a person can get email for (notify's own notices go to admins).
MAILED_EVENT_TYPES = sorted(t for t in DEFAULT_TEMPLATES if t != WEBHOOK_DISABLED)


class PreferenceService:
    def __init__(self, repository: NotifyRepository, clock: Clock = utc_now) -> None:
        self.repository = repository
        self.clock = clock

    async def get(self, principal: Principal) -> PreferencesRead:
        return _preferences_read(await self.repository.get_preference(principal.sub))

    async def put(
        self, principal: Principal, data: PreferencesPut, if_match: str | None
    ) -> PreferencesRead:
        unknown = [t for t in data.muted_event_types if t not in MAILED_EVENT_TYPES]
        if unknown:
            raise Unprocessable(
                f"muted_event_types: no email is sent for {', '.join(map(repr, unknown))}.",
                errors=[
                    {
                        "field": "body.muted_event_types",
                        "message": "unknown event type",
                        "code": "unknown_event_type",
                    }
                ],
            )
        locked = [t for t in data.muted_event_types if t in ALWAYS_SENT]
        if locked:
            raise Unprocessable(
                f"muted_event_types: {', '.join(map(repr, locked))} cannot be switched off: "
                "acknowledgements and security mail always go out.",
                errors=[
                    {
                        "field": "body.muted_event_types",
                        "message": "always sent",
                        "code": "always_sent",
                    }
                ],
            )
        row = await self.repository.get_preference(principal.sub)
        require_version(if_match, row.version if row else 0)
        muted = sorted(set(data.muted_event_types))
        if row is None:
            row = Preference(
                person_id=principal.sub, email=principal.email, muted_event_types=muted
            )
            self.repository.session.add(row)
        else:
            row.muted_event_types = muted
            row.email = principal.email or row.email
            row.version += 1
            row.updated_at = self.clock()
        await self.repository.session.flush()
        return _preferences_read(row)


def _preferences_read(row: Preference | None) -> PreferencesRead:
    return PreferencesRead(
        muted_event_types=list(row.muted_event_types) if row else [],
        always_sent=sorted(ALWAYS_SENT),
        event_types=MAILED_EVENT_TYPES,
        version=row.version if row else 0,
    )
