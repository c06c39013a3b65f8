"""Fixtures every test directory shares.

Every API test runs twice: on SQLite (the embedded default) and on
PostgreSQL (production). PostgreSQL is found or started by
`tests/support/postgres.py`; when there is none the PostgreSQL half is
skipped with a loud line, and under `CI=true` that is a failure instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.support import leaks
from tests.support.postgres import (
    PostgresServer,
    create_database,
    drop_database,
    find_or_start_postgres,
    stop_postgres,
)

_postgres_report: list[str] = []

DatabaseUrlFor = Callable[[str], Awaitable[str]]


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server, explanation = find_or_start_postgres(tmp_path_factory.mktemp("postgres"))
    _postgres_report.append(explanation)
    if server is None:
        message = f"PostgreSQL tests cannot run: {explanation}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield server
    finally:
        stop_postgres(server)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if leaks.checked:
        terminalreporter.write_line(
            f"errors: {leaks.checked} answers checked for a stack trace, SQL or a path; "
            "any leak fails its test"
        )
    for line in _postgres_report:
        terminalreporter.write_line(f"PostgreSQL for tests: {line}")
    if _postgres_report and "skip" in " ".join(_postgres_report).lower():
        terminalreporter.write_line("!" * 70, red=True, bold=True)


@pytest.fixture(scope="session")
async def postgres_databases(postgres: PostgresServer) -> AsyncIterator[dict[str, str]]:
    """One database per service for the whole run, made on first use, dropped at the end."""
    created: dict[str, str] = {}
    yield created
    for name in created.values():
        await drop_database(postgres, name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def postgres_for_backend(
    backend: str, request: pytest.FixtureRequest
) -> tuple[PostgresServer | None, dict[str, str]]:
    """The server and the run's databases when `backend` is PostgreSQL.

    Requested lazily, so SQLite-only runs never look for PostgreSQL; this is a
    plain fixture because an async one cannot request others on demand.
    """
    if backend != "postgresql":
        return None, {}
    server: PostgresServer = request.getfixturevalue("postgres")
    databases: dict[str, str] = request.getfixturevalue("postgres_databases")
    return server, databases


@pytest.fixture
async def database_url_for(
    postgres_for_backend: tuple[PostgresServer | None, dict[str, str]], tmp_path: Path
) -> AsyncIterator[DatabaseUrlFor]:
    """`await database_url_for("tickets")`: an empty database for that service on `backend`.

    PostgreSQL databases are shared by the tests of a run and emptied after each
    test (tables truncated, sequences restarted), which is much faster than
    creating and migrating one per test.
    """
    server, databases = postgres_for_backend
    used: list[str] = []

    async def url_for(service: str) -> str:
        if server is None:
            return f"sqlite+aiosqlite:///{tmp_path / f'{service}.db'}"
        if service not in databases:
            name = f"deskside_test_{service}_{secrets.token_hex(3)}"
            await create_database(server, name)
            databases[service] = name
        used.append(databases[service])
        return server.database_url(databases[service])

    yield url_for

    if server is not None:
        for name in used:
            await _empty_database(server.database_url(name, driver="postgresql"))


async def _empty_database(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(f'"{row["tablename"]}"' for row in tables)
            await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        sequences = await connection.fetch(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
        )
        for row in sequences:
            await connection.execute(f'ALTER SEQUENCE "{row["sequencename"]}" RESTART')
    finally:
        await connection.close()
