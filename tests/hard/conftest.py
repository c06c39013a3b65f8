"""The services as the battery runs them: each on each database backend, as their own tests do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DatabaseUrlFor
from tests.e2e.conftest import stack_ports, start_stack
from tests.hard import parts
from tests.inventory import test_access as inventory_access
from tests.notify.conftest import SERVICE_TOKEN as NOTIFY_SERVICE_TOKEN
from tests.support.apps import serving
from tests.tickets.conftest import client, settings

__all__ = ["client", "inventory", "notify", "settings", "stack_ports", "start_stack"]


@pytest.fixture
async def inventory(
    database_url_for: DatabaseUrlFor, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    database_url = await database_url_for("inventory")
    async with inventory_access.inventory_with_catalog(database_url, tmp_path) as client:
        yield client


@pytest.fixture
async def notify(
    database_url_for: DatabaseUrlFor, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    app = parts.notify(
        tmp_path,
        database_url=await database_url_for("notify"),
        service_token=NOTIFY_SERVICE_TOKEN,
        delivery_interval=3600.0,
    )
    async with serving(app) as client:
        yield client
