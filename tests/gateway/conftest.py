"""The gateway in-process, in front of real upstream servers on loopback.

The upstreams are small echo apps served by uvicorn over real HTTP, so every
test exercises the gateway's actual client, connection pool and headers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from deskside_gateway.app import create_app
from deskside_gateway.config import GatewaySettings
from tests.support.apps import serving
from tests.support.servers import serving_over_http, unused_url
from tests.support.tokens import TEST_JWT_SECRET

SLOW_SECONDS = 3.0


def echo_app(name: str, *, openapi: dict[str, Any] | None = None, ready: bool = True) -> Starlette:
    """An upstream that answers every request with what it received."""

    async def echo(request: Request) -> Response:
        body = await request.body()
        if request.url.path.endswith("/slow"):
            await asyncio.sleep(SLOW_SECONDS)
        if request.url.path.endswith("/stream"):
            return StreamingResponse(_chunks(int(request.query_params["count"])))
        payload = {
            "service": name,
            "method": request.method,
            "path": request.url.path,
            "raw_path": request.scope["raw_path"].decode(),
            "query": request.scope["query_string"].decode(),
            "headers": [[key.decode(), value.decode()] for key, value in request.scope["headers"]],
            "body_length": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        response = JSONResponse(payload, status_code=int(request.headers.get("x-status", 200)))
        # Headers a proxy must drop on the way back, and repeated ones it must keep.
        response.headers["connection"] = "x-upstream-private"
        response.headers["x-upstream-private"] = "secret"
        response.headers["keep-alive"] = "timeout=5"
        response.headers.append("set-cookie", "a=1")
        response.headers.append("set-cookie", "b=2")
        return response

    async def readiness(_: Request) -> Response:
        return JSONResponse({"status": "ready"}, status_code=200 if ready else 503)

    async def document(_: Request) -> Response:
        if openapi is None:
            return JSONResponse({"detail": "no document"}, status_code=500)
        return JSONResponse(openapi)

    return Starlette(
        routes=[
            Route("/readyz", readiness),
            Route("/openapi.json", document),
            Route("/{path:path}", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
    )


async def _chunks(count: int) -> AsyncIterator[bytes]:
    for index in range(count):
        yield f"chunk {index}\n".encode()
        await asyncio.sleep(0)


def running_upstream(app: Starlette) -> AbstractAsyncContextManager[str]:
    """Serve an echo app over real HTTP; yields its base URL."""
    return serving_over_http(app, lifespan="off")


GatewayFor = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def gateway_for() -> AsyncIterator[GatewayFor]:
    """`await gateway_for(tickets=url, ..., **settings)`: a client on a gateway so configured."""
    async with AsyncExitStack() as stack:

        async def make(**options: Any) -> httpx.AsyncClient:
            options.setdefault("tickets_url", unused_url())
            options.setdefault("inventory_url", unused_url())
            options.setdefault("notify_url", unused_url())
            options.setdefault("jwt_secret", TEST_JWT_SECRET)
            settings = GatewaySettings(env="test", **options)
            return await stack.enter_async_context(serving(create_app(settings)))

        yield make


@pytest.fixture
async def upstreams() -> AsyncIterator[dict[str, str]]:
    """Three echo upstreams, one per service."""
    async with (
        running_upstream(echo_app("tickets")) as tickets,
        running_upstream(echo_app("inventory")) as inventory,
        running_upstream(echo_app("notify")) as notify,
    ):
        yield {"tickets_url": tickets, "inventory_url": inventory, "notify_url": notify}


@pytest.fixture
async def gateway(gateway_for: GatewayFor, upstreams: dict[str, str]) -> httpx.AsyncClient:
    return await gateway_for(**upstreams)


def echoed(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json", response.text
    payload: dict[str, Any] = json.loads(response.content)
    return payload


def echoed_headers(response: httpx.Response) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in echoed(response)["headers"]:
        headers.setdefault(name, []).append(value)
    return headers
