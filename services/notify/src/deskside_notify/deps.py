"""The dependencies of the notify service, each declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from deskside_contracts.common import Role
from deskside_kit.auth import Principal, require_roles
from deskside_kit.database import Session
from deskside_notify.config import NotifySettings
from deskside_notify.repository import NotifyRepository
from deskside_notify.service import (
    DeliveryWorkers,
    EventIntake,
    NotificationService,
    PreferenceService,
    TemplateService,
    WebhookService,
)


def _settings(request: Request) -> NotifySettings:
    settings: NotifySettings = request.app.state.settings
    return settings


Settings = Annotated[NotifySettings, Depends(_settings)]


def _workers(request: Request) -> DeliveryWorkers:
    workers: DeliveryWorkers = request.app.state.delivery_workers
    return workers


Workers = Annotated[DeliveryWorkers, Depends(_workers)]


def _intake(session: Session, settings: Settings, workers: Workers) -> EventIntake:
    return EventIntake(NotifyRepository(session), settings, workers=workers)


Intake = Annotated[EventIntake, Depends(_intake)]


def _webhook_service(session: Session, settings: Settings, workers: Workers) -> WebhookService:
    return WebhookService(NotifyRepository(session), settings, workers=workers)


Webhooks = Annotated[WebhookService, Depends(_webhook_service)]


def _notification_service(session: Session) -> NotificationService:
    return NotificationService(NotifyRepository(session))


Notifications = Annotated[NotificationService, Depends(_notification_service)]


def _template_service(session: Session, settings: Settings) -> TemplateService:
    return TemplateService(NotifyRepository(session), settings)


Templates = Annotated[TemplateService, Depends(_template_service)]


def _preference_service(session: Session) -> PreferenceService:
    return PreferenceService(NotifyRepository(session))


Preferences = Annotated[PreferenceService, Depends(_preference_service)]

# Webhook subscriptions carry delivery targets for every event: admins and
# integrations manage them (an integration only its own), requesters and agents do not.
WebhookManager = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.INTEGRATION))]

# Templates speak for the whole help desk: admins only.
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]

# People with mail of their own: everyone but integrations.
Person = Annotated[Principal, Depends(require_roles(Role.REQUESTER, Role.AGENT, Role.ADMIN))]
