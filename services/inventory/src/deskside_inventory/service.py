"""The rules of the inventory service; turns rows into contracts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from deskside_contracts.inventory import (
    TechnologyCreate,
    TechnologyRead,
    TechnologyUpdate,
)
from deskside_contracts.paging import Page
from deskside_inventory.errors import TechnologyExists, TechnologyNotFound
from deskside_inventory.models import Technology
from deskside_inventory.repository import TechnologyFilters, TechnologyRepository
from deskside_kit.database import utc_now
from deskside_kit.outbox import record_event
from deskside_kit.paging import PageRequest, build_page
from deskside_kit.problems import Unprocessable
from deskside_kit.versions import require_version

SOURCE = "inventory"
# The most people a `technology.tier_changed` event names; `people_affected` counts them all.
PEOPLE_IN_EVENT = 1000


def technology_to_read(technology: Technology) -> TechnologyRead:
    return TechnologyRead.model_validate(technology)


class CatalogService:
    def __init__(self, technologies: TechnologyRepository) -> None:
        self.technologies = technologies

    async def list_technologies(
        self, page: PageRequest, filters: TechnologyFilters | None = None
    ) -> Page[TechnologyRead]:
        rows = await self.technologies.list_page(page, filters)
        return build_page(rows, page, sort_key=lambda t: [t.key], to_item=technology_to_read)

    async def get_technology(self, key: str) -> TechnologyRead:
        return technology_to_read(await self._technology(key))

    async def create_technology(self, data: TechnologyCreate) -> TechnologyRead:
        await self._check_alternative(data.key, data.recommended_alternative)
        technology = Technology(**_columns(data.model_dump(mode="json")))
        try:
            async with self.technologies.session.begin_nested():
                await self.technologies.add(technology)
        except IntegrityError:
            raise TechnologyExists(data.key) from None
        read = technology_to_read(technology)
        self._emit("technology.created", technology, technology=read.model_dump(mode="json"))
        return read

    async def update_technology(
        self, key: str, data: TechnologyUpdate, if_match: str | None
    ) -> TechnologyRead:
        technology = await self._technology(key, for_update=True)
        require_version(if_match, technology.version)
        changes = _columns(data.model_dump(mode="json", exclude_unset=True))
        if "recommended_alternative" in changes:
            await self._check_alternative(key, changes["recommended_alternative"])
        old_tier = technology.support_tier
        changed = False
        for name, value in changes.items():
            if getattr(technology, name) != value:
                setattr(technology, name, value)
                changed = True
        if not changed:
            return technology_to_read(technology)
        technology.version += 1
        technology.updated_at = utc_now()
        read = technology_to_read(technology)
        if technology.support_tier != old_tier:
            people = await self.technologies.people_using(key)
            self._emit(
                "technology.tier_changed",
                technology,
                old_tier=old_tier,
                new_tier=technology.support_tier,
                people_affected=len(people),
                # Whom notify tells; capped so one event stays a sensible size for webhooks.
                people=people[:PEOPLE_IN_EVENT],
                technology=read.model_dump(mode="json"),
            )
        return read

    async def _technology(self, key: str, *, for_update: bool = False) -> Technology:
        technology = await self.technologies.find(key, for_update=for_update)
        if technology is None:
            raise TechnologyNotFound(key)
        return technology

    async def _check_alternative(self, key: str, alternative: str | None) -> None:
        if alternative is None:
            return
        if alternative == key:
            raise Unprocessable(
                "recommended_alternative: a technology is no alternative to itself."
            )
        if await self.technologies.find(alternative) is None:
            raise Unprocessable(f"recommended_alternative: no technology {alternative!r}.")

    def _emit(self, event_type: str, row: Technology, **data: Any) -> None:
        record_event(
            self.technologies.session,
            source=SOURCE,
            type=event_type,
            subject=row.key,
            data=data,
        )


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    # Lists default to empty rather than null, as the table keeps them.
    for name in ("links", "app_identifiers"):
        if name in fields and fields[name] is None:
            fields[name] = []
    return fields
