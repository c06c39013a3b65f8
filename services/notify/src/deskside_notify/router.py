"""HTTP handlers of the notify service."""

from __future__ import annotations

from fastapi import APIRouter

from deskside_contracts.notify import WebhookRead
from deskside_contracts.paging import Page
from deskside_kit.paging import PageParams
from deskside_kit.problems import Forbidden, problem_responses
from deskside_notify.deps import WebhookManager, Webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.get("", responses=problem_responses(Forbidden), summary="List webhook subscriptions")
async def list_webhooks(
    _principal: WebhookManager, webhooks: Webhooks, page: PageParams
) -> Page[WebhookRead]:
    return await webhooks.list_webhooks(page)
