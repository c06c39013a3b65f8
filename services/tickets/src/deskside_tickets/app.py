"""`create_app`: the tickets service as an ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from deskside_kit.app import create_service_app
from deskside_kit.settings import load_settings
from deskside_tickets.config import TicketsSettings
from deskside_tickets.router import router


def create_app(settings: TicketsSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or load_settings(TicketsSettings),
        title="Deskside tickets",
        description="Tickets, their lifecycle and the help given.",
        routers=[router],
        migrations="deskside_tickets:migrations",
    )
