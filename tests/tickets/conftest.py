from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from deskside_inventory.app import create_app as create_inventory_app
from deskside_inventory.config import InventorySettings
from deskside_inventory.models import Technology
from deskside_kit.database import Sessions
from deskside_kit.outbox import OutboxEvent
from deskside_tickets.app import create_app
from deskside_tickets.config import TicketsSettings
from tests.conftest import DatabaseUrlFor
from tests.support.apps import app_sessions, serving
from tests.support.servers import serving_over_http, unused_url
from tests.support.tokens import TEST_JWT_SECRET, bearer

ALICE = bearer("alice", "requester", email="alice@example.com", name="Alice Ames")
BOB = bearer("bob", "requester", email="bob@example.com")
AGENT = bearer("agnes", "agent", email="agnes@example.com", name="Agnes Agent")
ADMIN = bearer("root", "admin")
PROBLEM = "application/problem+json"
SERVICE_TOKEN = "test-service-token-0123456789abcdef"
# Standard Webhooks secrets of the inbound integrations: a mail gateway and monitoring.
MAILER_SECRET = "whsec_" + base64.b64encode(b"mail-integration-secret-01234567").decode()
MONITOR_SECRET = "whsec_" + base64.b64encode(b"monitoring-secret-0123456789abcd").decode()


@pytest.fixture
async def settings(database_url_for: DatabaseUrlFor, tmp_path: Path) -> TicketsSettings:
    return TicketsSettings(
        env="test",
        var_dir=tmp_path,
        database_url=await database_url_for("tickets"),
        jwt_secret=TEST_JWT_SECRET,
        service_token=SERVICE_TOKEN,
        # Nothing listens there: tests that need inventory start one (see `inventory`).
        # An unused port refuses at once, so no test waits on this timeout; it is generous
        # because a real inventory's first answer (a fresh pool, a cold catalog) can take
        # more than a second while the whole suite shares two busy cores.
        inventory_url=unused_url(),
        inventory_timeout=10.0,
        # Outbox rows stay put for the tests to read; the relay has tests of its own.
        relay_enabled=False,
        inbound_secrets={"mailer": MAILER_SECRET, "monitor": MONITOR_SECRET},
    )


@pytest.fixture
async def client(settings: TicketsSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(settings)) as client:
        yield client


@pytest.fixture
async def inventory(
    database_url_for: DatabaseUrlFor, tmp_path: Path
) -> AsyncIterator[tuple[str, Sessions]]:
    """A real inventory service over HTTP with a small catalog: (base URL, its sessions)."""
    app = create_inventory_app(
        InventorySettings(
            env="test",
            var_dir=tmp_path,
            database_url=await database_url_for("inventory"),
            jwt_secret=TEST_JWT_SECRET,
            service_token=SERVICE_TOKEN,
            relay_enabled=False,
        )
    )
    async with serving_over_http(app) as url:
        sessions: Sessions = app.state.sessions
        async with sessions.write_transaction() as session:
            session.add(
                Technology(
                    key="dropbox",
                    name="Dropbox",
                    kind="service",
                    category="storage",
                    vendor="Dropbox, Inc.",
                    support_tier="best_effort",
                )
            )
        yield url, sessions


OpenTicket = Callable[..., Awaitable[dict[str, Any]]]


async def open_ticket(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"title": "Dropbox stopped syncing", "description": "Since this morning.", **fields}
    response = await client.post("/v1/tickets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def act(
    client: httpx.AsyncClient,
    ticket: dict[str, Any],
    action: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    **extra_headers: str,
) -> httpx.Response:
    """Run a lifecycle action (`resolve`, `close`, …) on a ticket."""
    return await client.post(
        f"/v1/tickets/{ticket['reference']}/{action}",
        json=body,
        headers={**headers, **extra_headers},
    )


async def outbox_events(client: httpx.AsyncClient) -> list[OutboxEvent]:
    """The events the tickets app behind `client` has written, oldest first."""
    async with app_sessions(client).reading() as session:
        rows = await session.exec(select(OutboxEvent).order_by(OutboxEvent.sequence))  # type: ignore[arg-type]
        return list(rows.all())


def signed(
    body: bytes,
    webhook_id: str,
    *,
    secret: str = MAILER_SECRET,
    content_type: str = "application/json",
    at: datetime | None = None,
) -> dict[str, str]:
    """Headers of an inbound request signed the Standard Webhooks way."""
    timestamp = at or datetime.now(UTC)
    signature = Webhook(secret).sign(webhook_id, timestamp, body.decode())
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": content_type,
    }
