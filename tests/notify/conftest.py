from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from deskside_notify.app import create_app
from deskside_notify.config import NotifySettings
from deskside_notify.delivery import Mailer, WebhookDispatcher
from tests.conftest import DatabaseUrlFor
from tests.support.apps import serving
from tests.support.tokens import TEST_JWT_SECRET, bearer

SERVICE_TOKEN = "test-service-token-0123456789abcdef"
SERVICE = {"X-Deskside-Service-Token": SERVICE_TOKEN}
ADMIN = bearer("root", "admin", email="root@example.com")
INTEGRATION = bearer("crm", "integration")
PROBLEM = "application/problem+json"

SettingsFor = Callable[..., NotifySettings]


@pytest.fixture
async def settings_for(database_url_for: DatabaseUrlFor, tmp_path: Path) -> SettingsFor:
    """Notify's settings for a test; keyword arguments override them."""
    database_url = await database_url_for("notify")

    def make(**overrides: Any) -> NotifySettings:
        values: dict[str, Any] = {
            "env": "test",
            "var_dir": tmp_path,
            "database_url": database_url,
            "jwt_secret": TEST_JWT_SECRET,
            "service_token": SERVICE_TOKEN,
            # The receivers in these tests listen on loopback over plain HTTP.
            "webhook_allow_http": True,
            "webhook_allow_private": True,
            "admin_emails": ["ops@example.com"],
            # The workers stay idle unless a test drives them (`run_once`) itself:
            # no look for an hour, and no wake when new work is stored.
            "delivery_interval": 3600.0,
            "delivery_wake_on_commit": False,
        }
        values.update(overrides)
        return NotifySettings(**values)

    return make


@pytest.fixture
async def client(settings_for: SettingsFor) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(settings_for())) as client:
        yield client


def app_of(client: httpx.AsyncClient) -> FastAPI:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, FastAPI)
    return app


def mailer_of(client: httpx.AsyncClient) -> Mailer:
    mailer: Mailer = app_of(client).state.mailer
    return mailer


def dispatcher_of(client: httpx.AsyncClient) -> WebhookDispatcher:
    dispatcher: WebhookDispatcher = app_of(client).state.dispatcher
    return dispatcher
