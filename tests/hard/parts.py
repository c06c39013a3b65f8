"""The four parts as the battery runs them: test settings, one shared service credential."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from deskside_gateway.app import create_app as create_gateway
from deskside_gateway.config import GatewaySettings
from deskside_inventory.app import create_app as create_inventory
from deskside_inventory.config import InventorySettings
from deskside_notify.app import create_app as create_notify
from deskside_notify.config import NotifySettings
from deskside_tickets.app import create_app as create_tickets
from deskside_tickets.config import TicketsSettings
from tests.support.servers import unused_url
from tests.support.tokens import TEST_JWT_SECRET

SERVICE_TOKEN = "hard-battery-service-token-0123456789"


def _service_settings(tmp_path: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    return {
        "env": "test",
        "var_dir": tmp_path,
        "jwt_secret": TEST_JWT_SECRET,
        "service_token": SERVICE_TOKEN,
        **overrides,
    }


def tickets(tmp_path: Path, **overrides: Any) -> FastAPI:
    settings = _service_settings(tmp_path, {"relay_enabled": False, **overrides})
    return create_tickets(TicketsSettings(**settings))


def inventory(tmp_path: Path, **overrides: Any) -> FastAPI:
    settings = _service_settings(tmp_path, {"relay_enabled": False, **overrides})
    return create_inventory(InventorySettings(**settings))


def notify(tmp_path: Path, **overrides: Any) -> FastAPI:
    return create_notify(NotifySettings(**_service_settings(tmp_path, overrides)))


def gateway(tmp_path: Path, **overrides: Any) -> FastAPI:
    # Nothing listens upstream unless the caller says where the services are.
    settings: dict[str, Any] = {
        "env": "test",
        "var_dir": tmp_path,
        "jwt_secret": TEST_JWT_SECRET,
        "tickets_url": unused_url(),
        "inventory_url": unused_url(),
        "notify_url": unused_url(),
        **overrides,
    }
    return create_gateway(GatewaySettings(**settings))


SERVICES: dict[str, Callable[..., FastAPI]] = {
    "tickets": tickets,
    "inventory": inventory,
    "notify": notify,
}
