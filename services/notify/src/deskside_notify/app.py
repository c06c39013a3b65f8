"""`create_app`: the notify service as an ASGI app."""

from __future__ import annotations

from fastapi import FastAPI

from deskside_kit.app import create_service_app
from deskside_kit.settings import load_settings
from deskside_notify.config import NotifySettings
from deskside_notify.router import router


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    return create_service_app(
        settings or load_settings(NotifySettings),
        title="Deskside notify",
        description="Email and webhook delivery of Deskside events.",
        routers=[router],
        migrations="deskside_notify:migrations",
    )
