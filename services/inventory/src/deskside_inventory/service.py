"""The rules of the inventory service; turns rows into contracts."""

from __future__ import annotations

from deskside_contracts.inventory import TechnologyRead
from deskside_contracts.paging import Page
from deskside_inventory.errors import TechnologyNotFound
from deskside_inventory.repository import TechnologyRepository
from deskside_kit.paging import PageRequest, build_page


class CatalogService:
    def __init__(self, technologies: TechnologyRepository) -> None:
        self.technologies = technologies

    async def list_technologies(self, page: PageRequest) -> Page[TechnologyRead]:
        rows = await self.technologies.list_page(page)
        return build_page(
            rows, page, sort_key=lambda t: [t.key], to_item=TechnologyRead.model_validate
        )

    async def get_technology(self, key: str) -> TechnologyRead:
        technology = await self.technologies.find(key)
        if technology is None:
            raise TechnologyNotFound(key)
        return TechnologyRead.model_validate(technology)
