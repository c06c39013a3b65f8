"""`create_app`: the gateway as an ASGI app.

Requests under a routed prefix go straight to the proxy, before FastAPI's
routing, so the hot path costs one prefix lookup; everything else (health,
metrics, docs, unknown paths as 404 problems) is an ordinary FastAPI app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI
from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from deskside_gateway.config import GatewaySettings
from deskside_gateway.cors import CorsMiddleware, CorsPolicy
from deskside_gateway.openapi import Document, MergedOpenApi
from deskside_gateway.proxy import UpstreamProxy
from deskside_gateway.ratelimit import RateLimitMiddleware, TokenBuckets
from deskside_gateway.router import DOCS_ASSETS, docs_assets, own_document, router
from deskside_gateway.routing import route_for
from deskside_kit import heap
from deskside_kit.auth import TokenVerifier
from deskside_kit.limits import BodyLimitMiddleware, limits_by_path
from deskside_kit.observability import Metrics, ObservabilityMiddleware, route_template
from deskside_kit.problems import install_problem_handlers
from deskside_kit.settings import load_settings


class RoutingMiddleware:
    """Sends routed paths to the proxy and the rest to the gateway's own endpoints."""

    def __init__(self, app: ASGIApp, *, proxy: UpstreamProxy) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (route := route_for(scope["path"])) is not None:
            await self.proxy(scope, receive, send, route[1])
        else:
            await self.app(scope, receive, send)


def _route_label(scope: Scope) -> str:
    # The prefix for proxied requests: one time series per prefix, not per ticket.
    route = route_for(scope["path"])
    return route[0] if route is not None else route_template(scope)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or load_settings(GatewaySettings)
    upstreams = settings.upstream_urls()
    metrics = Metrics(settings.service_name)
    proxy = UpstreamProxy(
        upstreams,
        connect_timeout=settings.upstream_connect_timeout,
        read_timeout=settings.upstream_timeout,
        max_connections=settings.max_connections,
        trust_forwarded_headers=settings.trust_forwarded_headers,
        upstream_errors=Counter(
            "gateway_upstream_errors_total",
            "Requests the gateway could not forward, by service and kind (timeout, unreachable).",
            ["service", "kind"],
            registry=metrics.registry,
        ),
    )

    async def fetch_openapi(service: str) -> Document:
        async with proxy.session.get(
            f"{upstreams[service]}/openapi.json", timeout=aiohttp.ClientTimeout(total=5)
        ) as response:
            response.raise_for_status()
            document: Document = await response.json()
            return document

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier = TokenVerifier.from_settings(settings)
        await proxy.start()
        heap.started_up()
        try:
            yield
        finally:
            await proxy.close()

    app = FastAPI(
        title="Deskside gateway",
        lifespan=lifespan,
        # The gateway serves the services' merged document instead of its own.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.upstreams = upstreams
    app.state.proxy = proxy
    app.state.openapi = MergedOpenApi(list(upstreams), fetch_openapi, own=own_document)
    install_problem_handlers(app)
    app.include_router(router)
    app.mount(DOCS_ASSETS, docs_assets)
    app.add_middleware(RoutingMiddleware, proxy=proxy)
    # Before the proxy: an oversized body is refused here and never reaches a service.
    app.add_middleware(
        BodyLimitMiddleware,
        limit_for=limits_by_path(settings.max_body_bytes, settings.max_large_body_bytes),
    )
    if settings.rate_limit_enabled:

        async def subject_of(token: str) -> str | None:
            verifier: TokenVerifier = app.state.token_verifier
            return await verifier.subject(token)

        # Outside the body limit: a throttled caller's body is never read.
        app.add_middleware(
            RateLimitMiddleware,
            buckets=TokenBuckets(
                per_second=settings.rate_limit_per_second, burst=settings.rate_limit_burst
            ),
            subject_of=subject_of,
            trust_forwarded_headers=settings.trust_forwarded_headers,
            refused=Counter(
                "gateway_rate_limited_total",
                "Requests refused with 429, by whether the caller was a subject or an address.",
                ["caller"],
                registry=metrics.registry,
            ),
        )
    # Outside the rate limit and the body limit: a preflight costs no tokens and never
    # reaches a service, and their refusals carry CORS headers an allowed page can read.
    app.add_middleware(
        CorsMiddleware,
        policy=CorsPolicy(
            origins=frozenset(settings.cors_origins),
            allow_credentials=settings.cors_allow_credentials,
            max_age=settings.cors_max_age,
        ),
    )
    app.add_middleware(ObservabilityMiddleware, metrics=metrics, route_label=_route_label)
    return app
