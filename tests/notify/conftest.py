from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from deskside_notify.app import create_app
from deskside_notify.config import NotifySettings
from tests.conftest import DatabaseUrlFor
from tests.support.apps import serving
from tests.support.tokens import TEST_JWT_SECRET


@pytest.fixture
async def client(
    database_url_for: DatabaseUrlFor, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = NotifySettings(
        env="test",
        var_dir=tmp_path,
        database_url=await database_url_for("notify"),
        jwt_secret=TEST_JWT_SECRET,
    )
    async with serving(create_app(settings)) as client:
        yield client
