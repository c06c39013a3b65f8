from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from deskside_inventory.app import create_app
from deskside_inventory.config import InventorySettings
from tests.conftest import DatabaseUrlFor
from tests.support.apps import serving
from tests.support.tokens import TEST_JWT_SECRET


@pytest.fixture
async def client(
    database_url_for: DatabaseUrlFor, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = InventorySettings(
        env="test",
        var_dir=tmp_path,
        database_url=await database_url_for("inventory"),
        jwt_secret=TEST_JWT_SECRET,
        # Outbox rows stay put for the tests to read; the relay has tests of its own.
        relay_enabled=False,
    )
    async with serving(create_app(settings)) as client:
        yield client
