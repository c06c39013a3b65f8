"""The dependencies of the notify service, each declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from deskside_contracts.common import Role
from deskside_kit.auth import Principal, require_roles
from deskside_kit.database import Session
from deskside_notify.repository import WebhookRepository
from deskside_notify.service import WebhookService


def _webhook_service(session: Session) -> WebhookService:
    return WebhookService(WebhookRepository(session))


Webhooks = Annotated[WebhookService, Depends(_webhook_service)]

# Webhook subscriptions carry delivery targets for every event: admins and
# integrations manage them, requesters and agents do not.
WebhookManager = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.INTEGRATION))]
