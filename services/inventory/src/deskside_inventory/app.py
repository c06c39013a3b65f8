"""`create_app`: the inventory service as an ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from deskside_inventory.config import InventorySettings
from deskside_inventory.router import router
from deskside_kit.app import create_service_app
from deskside_kit.settings import load_settings


def create_app(settings: InventorySettings | None = None) -> FastAPI:
    return create_service_app(
        settings or load_settings(InventorySettings),
        title="Deskside inventory",
        description="The technology catalog with support tiers, devices and accounts.",
        routers=[router],
        migrations="deskside_inventory:migrations",
    )
