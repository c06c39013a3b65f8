"""`create_app`: the inventory service as an ASGI app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from deskside_inventory.catalog import load_starter_catalog
from deskside_inventory.config import InventorySettings
from deskside_inventory.devices import DeviceService
from deskside_inventory.repository import DeviceRepository, TechnologyRepository
from deskside_inventory.router import (
    accounts_router,
    devices_router,
    inbound_router,
    reports_router,
    router,
)
from deskside_kit.app import create_service_app
from deskside_kit.background import periodically
from deskside_kit.database import Sessions, utc_now
from deskside_kit.settings import load_settings
from deskside_kit.webhooks import WebhookVerifier

logger = logging.getLogger("deskside.inventory")


def create_app(settings: InventorySettings | None = None) -> FastAPI:
    settings = settings or load_settings(InventorySettings)

    @asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        app.state.checkin_verifier = WebhookVerifier(
            {name: secret.get_secret_value() for name, secret in settings.checkin_secrets.items()}
        )
        if settings.should_load_starter_catalog:
            sessions: Sessions = app.state.sessions
            async with sessions.write_transaction() as session:
                repository = TechnologyRepository(session)
                if not await repository.keys():
                    added = await load_starter_catalog(repository)
                    logger.info("loaded the starter catalog: %d technologies", added)

        async def housekeeping() -> None:
            async with app.state.sessions.write_transaction() as session:
                devices = DeviceService(
                    DeviceRepository(session),
                    TechnologyRepository(session),
                    stale_after=timedelta(days=settings.check_in_stale_days),
                )
                await devices.recheck_stale(utc_now())

        async with periodically(
            "inventory-housekeeping", settings.housekeeping_interval, housekeeping
        ):
            yield

    return create_service_app(
        settings,
        title="Deskside inventory",
        description="The technology catalog with support tiers, devices and accounts.",
        routers=[router, devices_router, accounts_router, inbound_router, reports_router],
        migrations="deskside_inventory:migrations",
        resources=resources,
    )
