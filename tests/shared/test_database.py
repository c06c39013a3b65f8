"""The database layer: durable SQLite, migrations on both databases."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from deskside_kit.database import create_engine
from tests.conftest import DatabaseUrlFor


async def test_sqlite_is_durable_wal_with_full_sync(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'x.db'}")
    try:
        async with engine.connect() as connection:
            journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
            synchronous = (await connection.execute(text("PRAGMA synchronous"))).scalar_one()
            foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
    finally:
        await engine.dispose()

    assert journal == "wal"
    assert synchronous == 2  # FULL
    assert foreign_keys == 1


@pytest.mark.parametrize("service", ["tickets", "inventory", "notify"])
async def test_the_migrate_command_brings_a_database_to_head(
    service: str, database_url_for: DatabaseUrlFor, tmp_path: Path
) -> None:
    url = await database_url_for(service)
    environment = {**os.environ, f"DESKSIDE_{service.upper()}_DATABASE_URL": url}

    for _ in range(2):  # a second run finds nothing to do
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"deskside_{service}",
            "migrate",
            env=environment,
            cwd=tmp_path,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode == 0, stderr.decode()

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            version = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one()
    finally:
        await engine.dispose()
    assert version.startswith("2026")
