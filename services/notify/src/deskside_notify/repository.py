"""All SQL of the notify service. Flushes, never commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_kit.paging import PageRequest, after_cursor
from deskside_notify.models import WebhookSubscription


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_page(self, page: PageRequest) -> Sequence[WebhookSubscription]:
        statement = after_cursor(select(WebhookSubscription), [col(WebhookSubscription.id)], page)
        return (await self.session.exec(statement)).all()
