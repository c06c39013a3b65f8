"""One real stack (four processes, SQLite) for every test of a module, and clients for it.

The client is tested the way an integration uses it: over HTTP, through the
gateway. SQLite only: the services' PostgreSQL behaviour has tests of its own,
and one stack per module keeps these fast.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from deskside_client import DesksideClient, RetryPolicy
from deskside_kit.devstack import GATEWAY, SERVICES, Stack
from deskside_kit.tokens import mint_token
from tests.support.receivers import WebhookReceiver, webhook_receiver
from tests.support.servers import free_ports, port_is_free
from tests.support.tokens import TEST_JWT_SECRET

# Quick retries: the tests wait for nothing but the server.
FAST_RETRIES = RetryPolicy(retries=3, backoff=0.01, max_backoff=0.05)
MakeClient = Callable[..., DesksideClient]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# Secrets of the integrations the stack trusts for signed inbound posts.
CHECKIN_SECRET = new_secret()
INBOUND_SECRET = new_secret()


@pytest.fixture
def backend() -> str:
    """These tests run on SQLite only (the top-level fixture would make them run twice)."""
    return "sqlite"


def token(sub: str, *roles: str) -> str:
    return mint_token(
        TEST_JWT_SECRET, sub=sub, roles=list(roles) or ["requester"], email=f"{sub}@example.com"
    )


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("client-stack")
    ports = dict(zip([p.name for p in (*SERVICES, GATEWAY)], free_ports(4), strict=True))
    environment = {
        "DESKSIDE_ENV": "test",
        "DESKSIDE_VAR_DIR": str(folder / "var"),
        "DESKSIDE_JWT_SECRET": TEST_JWT_SECRET,
        "DESKSIDE_GATEWAY_RATE_LIMIT_BURST": "100000",
        "DESKSIDE_NOTIFY_WEBHOOK_ALLOW_HTTP": "true",
        "DESKSIDE_NOTIFY_WEBHOOK_ALLOW_PRIVATE": "true",
        "DESKSIDE_NOTIFY_DELIVERY_INTERVAL": "0.1",
        "DESKSIDE_TICKETS_RELAY_INTERVAL": "0.1",
        "DESKSIDE_INVENTORY_CHECKIN_SECRETS": json.dumps({"test-mdm": CHECKIN_SECRET}),
        "DESKSIDE_TICKETS_INBOUND_SECRETS": json.dumps({"test-monitoring": INBOUND_SECRET}),
    }
    running = Stack(ports=ports, env=environment, log_dir=folder / "logs")
    await asyncio.to_thread(running.start)
    try:
        yield running
    finally:
        await asyncio.to_thread(running.stop)
        assert all(port_is_free(port) for port in ports.values()), "a process still holds a port"


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as endpoint:
        yield endpoint


@pytest.fixture
async def make_client(stack: Stack) -> AsyncIterator[MakeClient]:
    """`make_client("alice", "agent", ...)`: a client with that caller's token, closed after."""
    made: list[DesksideClient] = []

    def make(sub: str, *roles: str, **options: Any) -> DesksideClient:
        options.setdefault("retries", FAST_RETRIES)
        client = DesksideClient(stack.gateway_url, token(sub, *roles), **options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()
