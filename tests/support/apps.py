"""Run an app in-process for a test: its lifespan entered, a client on ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from deskside_kit.database import Sessions


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        yield client


def app_sessions(client: httpx.AsyncClient) -> Sessions:
    """The database sessions of the app behind a `serving` client, to arrange or inspect rows."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    sessions: Sessions = transport.app.state.sessions  # type: ignore[attr-defined]
    return sessions
