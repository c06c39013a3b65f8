from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from deskside_inventory.app import create_app as create_inventory_app
from deskside_inventory.config import InventorySettings
from deskside_kit.settings import ServiceSettings
from deskside_notify.app import create_app as create_notify_app
from deskside_notify.config import NotifySettings
from deskside_tickets.app import create_app as create_tickets_app
from deskside_tickets.config import TicketsSettings
from tests.conftest import DatabaseUrlFor
from tests.support.apps import serving
from tests.support.tokens import TEST_JWT_SECRET

SERVICES: dict[str, tuple[type[ServiceSettings], Callable[..., FastAPI]]] = {
    "tickets": (TicketsSettings, create_tickets_app),
    "inventory": (InventorySettings, create_inventory_app),
    "notify": (NotifySettings, create_notify_app),
}


@pytest.fixture(params=sorted(SERVICES))
def service(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def service_app(service: str, database_url_for: DatabaseUrlFor, tmp_path: Path) -> FastAPI:
    settings_class, create_app = SERVICES[service]
    settings = settings_class(
        env="test",
        var_dir=tmp_path,
        database_url=await database_url_for(service),
        jwt_secret=TEST_JWT_SECRET,
    )
    return create_app(settings)


@pytest.fixture
async def service_client(service_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(service_app) as client:
        yield client
