from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from deskside_tickets.app import create_app
from deskside_tickets.config import TicketsSettings
from tests.conftest import DatabaseUrlFor
from tests.support.apps import serving
from tests.support.tokens import TEST_JWT_SECRET


@pytest.fixture
async def settings(database_url_for: DatabaseUrlFor, tmp_path: Path) -> TicketsSettings:
    return TicketsSettings(
        env="test",
        var_dir=tmp_path,
        database_url=await database_url_for("tickets"),
        jwt_secret=TEST_JWT_SECRET,
    )


@pytest.fixture
async def client(settings: TicketsSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(settings)) as client:
        yield client
