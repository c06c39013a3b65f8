"""Run an app in-process for a test: its lifespan entered, a client on ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from deskside_kit.database import Sessions
from tests.support.leaks import check_answer


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            # Every answer is checked for a stack trace, SQL or a path (tests/support/leaks.py).
            event_hooks={"response": [check_answer]},
        ) as client,
    ):
        yield client


def app_sessions(client: httpx.AsyncClient) -> Sessions:
    """The database sessions of the app behind a `serving` client, to arrange or inspect rows."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    sessions: Sessions = transport.app.state.sessions  # type: ignore[attr-defined]
    return sessions
