"""HTTP handlers of the inventory service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from deskside_contracts.inventory import TechnologyRead
from deskside_contracts.paging import Page
from deskside_inventory.deps import Catalog
from deskside_inventory.errors import TechnologyNotFound
from deskside_kit.auth import CurrentPrincipal
from deskside_kit.paging import PageParams
from deskside_kit.problems import problem_responses

router = APIRouter(prefix="/v1/technologies", tags=["technologies"])

TechnologyKey = Annotated[
    str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Catalog key, e.g. `ipad`.")
]


@router.get("", summary="List the technology catalog, by key")
async def list_technologies(
    _principal: CurrentPrincipal, catalog: Catalog, page: PageParams
) -> Page[TechnologyRead]:
    return await catalog.list_technologies(page)


@router.get(
    "/{key}",
    responses=problem_responses(TechnologyNotFound),
    summary="Read one technology with its support tier",
)
async def get_technology(
    key: TechnologyKey, _principal: CurrentPrincipal, catalog: Catalog
) -> TechnologyRead:
    return await catalog.get_technology(key)
