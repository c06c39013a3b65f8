"""All SQL of the inventory service. Flushes, never commits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_inventory.models import Technology
from deskside_kit.paging import PageRequest, after_cursor


class TechnologyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_page(self, page: PageRequest) -> Sequence[Technology]:
        statement = after_cursor(select(Technology), [col(Technology.key)], page)
        return (await self.session.exec(statement)).all()

    async def find(self, key: str) -> Technology | None:
        return await self.session.get(Technology, key)
