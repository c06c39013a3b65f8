"""The dependencies of the inventory service, each declared once (all `async def`:
FastAPI would run a plain `def` in its thread pool, a thread hop per request)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from deskside_contracts.common import Role
from deskside_inventory.accounts import AccountService
from deskside_inventory.config import InventorySettings
from deskside_inventory.devices import DeviceService
from deskside_inventory.reports import AdoptionService
from deskside_inventory.repository import (
    AccountRepository,
    DeviceRepository,
    TechnologyRepository,
    UsageRepository,
)
from deskside_inventory.service import CatalogService
from deskside_kit.auth import Principal, require_roles
from deskside_kit.database import Session


async def _catalog_service(session: Session) -> CatalogService:
    return CatalogService(TechnologyRepository(session))


Catalog = Annotated[CatalogService, Depends(_catalog_service)]


async def _device_service(request: Request, session: Session) -> DeviceService:
    settings: InventorySettings = request.app.state.settings
    return DeviceService(
        DeviceRepository(session),
        TechnologyRepository(session),
        stale_after=timedelta(days=settings.check_in_stale_days),
    )


Devices = Annotated[DeviceService, Depends(_device_service)]


async def _account_service(session: Session) -> AccountService:
    return AccountService(AccountRepository(session), TechnologyRepository(session))


Accounts = Annotated[AccountService, Depends(_account_service)]

# Everyone with a token who may own a device: people, the desk, and integrations.
DeviceUser = Annotated[Principal, Depends(require_roles(Role.REQUESTER, Role.AGENT, Role.ADMIN))]

# Admins manage the catalog; everyone may read it.
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


async def _adoption_service(session: Session) -> AdoptionService:
    return AdoptionService(TechnologyRepository(session), UsageRepository(session))


Adoption = Annotated[AdoptionService, Depends(_adoption_service)]

# The desk: agents and admins.
Staff = Annotated[Principal, Depends(require_roles(Role.AGENT, Role.ADMIN))]
