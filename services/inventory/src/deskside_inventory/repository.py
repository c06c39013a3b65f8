"""All SQL of the inventory service. Flushes, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_inventory.models import Technology
from deskside_kit.paging import PageRequest, after_cursor


@dataclass(frozen=True)
class TechnologyFilters:
    kind: str | None = None
    category: str | None = None
    tier: str | None = None
    recommended: bool | None = None
    q: str | None = None


class TechnologyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_page(
        self, page: PageRequest, filters: TechnologyFilters | None = None
    ) -> Sequence[Technology]:
        filters = filters or TechnologyFilters()
        statement = select(Technology)
        if filters.kind is not None:
            statement = statement.where(col(Technology.kind) == filters.kind)
        if filters.category is not None:
            statement = statement.where(col(Technology.category) == filters.category)
        if filters.tier is not None:
            statement = statement.where(col(Technology.support_tier) == filters.tier)
        if filters.recommended is not None:
            statement = statement.where(col(Technology.recommended).is_(filters.recommended))
        if filters.q:
            # The catalog is small: a case-insensitive substring match over
            # names, keys and vendors is what people expect from a search box.
            pattern = "%" + filters.q.lower().replace("\\", "").replace("%", "") + "%"
            statement = statement.where(
                or_(
                    func.lower(col(Technology.name)).like(pattern),
                    func.lower(col(Technology.key)).like(pattern),
                    func.lower(func.coalesce(col(Technology.vendor), "")).like(pattern),
                )
            )
        statement = after_cursor(statement, [col(Technology.key)], page)
        return (await self.session.exec(statement)).all()

    async def find(self, key: str, *, for_update: bool = False) -> Technology | None:
        statement = select(Technology).where(col(Technology.key) == key)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def keys(self) -> set[str]:
        return set((await self.session.exec(select(Technology.key))).all())

    async def add(self, technology: Technology) -> None:
        self.session.add(technology)
        await self.session.flush()
