"""The rules of the notify service; turns rows into contracts."""

from __future__ import annotations

from deskside_contracts.notify import WebhookRead
from deskside_contracts.paging import Page
from deskside_kit.paging import PageRequest, build_page
from deskside_notify.repository import WebhookRepository


class WebhookService:
    def __init__(self, webhooks: WebhookRepository) -> None:
        self.webhooks = webhooks

    async def list_webhooks(self, page: PageRequest) -> Page[WebhookRead]:
        rows = await self.webhooks.list_page(page)
        return build_page(rows, page, sort_key=lambda w: [w.id], to_item=WebhookRead.model_validate)
