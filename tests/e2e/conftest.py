"""The stack as real processes on loopback, on SQLite or on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

import pytest

from deskside_kit.devstack import GATEWAY, SERVICES, Stack
from tests.conftest import DatabaseUrlFor
from tests.support.servers import free_ports, port_is_free
from tests.support.tokens import TEST_JWT_SECRET

StartStack = Callable[[Mapping[str, str]], Awaitable[Stack]]


@pytest.fixture
def stack_ports() -> dict[str, int]:
    """The ports the test's stack listens on, by part: known before it starts."""
    return dict(zip([p.name for p in (*SERVICES, GATEWAY)], free_ports(4), strict=True))


@pytest.fixture
async def start_stack(
    backend: str, database_url_for: DatabaseUrlFor, tmp_path: Path, stack_ports: dict[str, int]
) -> AsyncIterator[StartStack]:
    """Starts the four processes with extra environment; stops them after the test."""
    started: list[Stack] = []
    ports = stack_ports

    async def start(extra: Mapping[str, str]) -> Stack:
        environment = {
            "DESKSIDE_ENV": "test",
            "DESKSIDE_VAR_DIR": str(tmp_path / "var"),
            "DESKSIDE_JWT_SECRET": TEST_JWT_SECRET,
            # These tests send one caller's traffic as fast as they can; rate
            # limiting has tests of its own (tests/gateway, tests/hard).
            "DESKSIDE_GATEWAY_RATE_LIMIT_BURST": "100000",
            **extra,
        }
        if backend == "postgresql":
            for part in SERVICES:
                name = f"DESKSIDE_{part.name.upper()}_DATABASE_URL"
                environment[name] = await database_url_for(part.name)
        running = Stack(ports=ports, env=environment, log_dir=tmp_path / "logs")
        started.append(running)
        await asyncio.to_thread(running.start)
        return running

    yield start
    for running in started:
        await asyncio.to_thread(running.stop)
    assert all(port_is_free(port) for port in ports.values()), "a process still holds a port"


@pytest.fixture
async def stack(start_stack: StartStack) -> Stack:
    return await start_stack({})
