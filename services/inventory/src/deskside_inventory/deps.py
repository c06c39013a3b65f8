"""The dependencies of the inventory service, each declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from deskside_contracts.common import Role
from deskside_inventory.repository import TechnologyRepository
from deskside_inventory.service import CatalogService
from deskside_kit.auth import Principal, require_roles
from deskside_kit.database import Session


def _catalog_service(session: Session) -> CatalogService:
    return CatalogService(TechnologyRepository(session))


Catalog = Annotated[CatalogService, Depends(_catalog_service)]

# Admins manage the catalog; everyone may read it.
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
