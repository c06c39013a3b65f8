"""`create_app`: the tickets service as an ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from deskside_kit.app import create_service_app
from deskside_kit.background import periodically
from deskside_kit.database import Sessions, utc_now
from deskside_kit.settings import load_settings
from deskside_kit.snapshot import Snapshot
from deskside_kit.webhooks import WebhookVerifier
from deskside_tickets.config import TicketsSettings
from deskside_tickets.inbound import InboundProcessor
from deskside_tickets.policies import SlaPolicyService
from deskside_tickets.repository import ReferenceNumbers, TicketRepository
from deskside_tickets.router import (
    agents_router,
    groups_router,
    inbound_router,
    policies_router,
    reports_router,
    router,
)
from deskside_tickets.service import TicketService
from deskside_tickets.technologies import TechnologyDirectory


def create_app(settings: TicketsSettings | None = None) -> FastAPI:
    settings = settings or load_settings(TicketsSettings)

    @asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(
            base_url=str(settings.inventory_url).rstrip("/"),
            timeout=httpx.Timeout(settings.inventory_timeout),
        ) as inventory:
            app.state.technologies = TechnologyDirectory(
                inventory, service_token=app.state.service_token
            )
            app.state.policy_snapshot = Snapshot(settings.snapshot_seconds)
            app.state.routing_snapshot = Snapshot(settings.snapshot_seconds)
            app.state.reference_numbers = ReferenceNumbers(app.state.sessions.engine)

            async def housekeeping() -> None:
                sessions: Sessions = app.state.sessions
                async with sessions.write_transaction() as session:
                    service = TicketService(
                        TicketRepository(session), settings, app.state.technologies
                    )
                    await service.check_slas(utc_now())
                    await service.close_resolved(utc_now())
                    await service.enrich_pending()

            async with app.state.sessions.write_transaction() as session:
                await SlaPolicyService(TicketRepository(session)).ensure_default()

            app.state.inbound_verifier = WebhookVerifier(
                {
                    name: secret.get_secret_value()
                    for name, secret in settings.inbound_secrets.items()
                }
            )
            inbound = InboundProcessor(app.state.sessions, settings)
            app.state.inbound_processor = inbound

            async with (
                periodically("tickets-housekeeping", settings.housekeeping_interval, housekeeping),
                periodically("tickets-inbound", settings.inbound_interval, inbound.run_once),
            ):
                yield

    return create_service_app(
        settings,
        title="Deskside tickets",
        description="Tickets, their lifecycle and the help given.",
        routers=[
            router,
            policies_router,
            agents_router,
            groups_router,
            reports_router,
            inbound_router,
        ],
        migrations="deskside_tickets:migrations",
        resources=resources,
    )
