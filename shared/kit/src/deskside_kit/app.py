"""`create_service_app`: what every Deskside service's `create_app` builds on."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI

from deskside_kit import heap
from deskside_kit.audit import AuditMiddleware, audit_router
from deskside_kit.auth import TokenVerifier
from deskside_kit.background import periodically
from deskside_kit.database import (
    Sessions,
    answer_503_when_the_database_is_out_of_reach,
    create_engine,
    migrate,
)
from deskside_kit.health import health_router
from deskside_kit.idempotency import GIVE_BACK_INTERVAL_SECONDS, ClaimsToGiveBack
from deskside_kit.limits import BodyLimitMiddleware, limits_by_path
from deskside_kit.observability import Metrics, ObservabilityMiddleware
from deskside_kit.problems import describe_problems, install_problem_handlers
from deskside_kit.relay import OutboxRelay
from deskside_kit.settings import RelaySettings, ServiceSettings
from deskside_kit.tags import describe_tags

logger = logging.getLogger("deskside.app")

Resources = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    migrations: str,
    resources: Resources | None = None,
) -> FastAPI:
    """A FastAPI app with the kit's errors, auth, health, metrics, logs and database.

    `migrations` is the Alembic script location (`deskside_tickets:migrations`).
    `resources` opens the service's own long-lived resources (HTTP clients,
    background workers) after the database and closes them before it.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.resolved_database_url,
            pool_size=settings.database_pool_size,
            pool_timeout=settings.database_pool_timeout,
        )
        # Readiness asks on a connection of its own: a pool kept busy by a storm is load,
        # not a database gone, and a probe queued behind it would take the replica out
        # of service just when the others need it most.
        app.state.probe_engine = create_engine(settings.resolved_database_url, pool_size=1)
        try:
            if settings.should_migrate_on_start:
                await migrate(engine, migrations)
            app.state.engine = engine
            app.state.sessions = Sessions.for_engine(engine)
            app.state.claims_to_give_back = ClaimsToGiveBack(app.state.sessions)
            app.state.token_verifier = TokenVerifier.from_settings(settings)
            app.state.service_token = settings.resolved_service_token()
            app.state.started_at = time.time()
            async with AsyncExitStack() as running:
                await running.enter_async_context(_outbox_relay(app, settings))
                await running.enter_async_context(
                    periodically(
                        "idempotency-give-back",
                        GIVE_BACK_INTERVAL_SECONDS,
                        app.state.claims_to_give_back.give_back,
                        wakeup=app.state.claims_to_give_back.added,
                    )
                )
                if resources is not None:
                    await running.enter_async_context(resources(app))
                heap.started_up()
                yield
        finally:
            await engine.dispose()
            await app.state.probe_engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        separate_input_output_schemas=False,
    )
    app.state.settings = settings
    app.state.metrics = Metrics(settings.service_name)
    install_problem_handlers(app)
    answer_503_when_the_database_is_out_of_reach(app)
    app.include_router(health_router)
    for router in routers:
        app.include_router(router)
    app.include_router(audit_router(settings.service_name))
    app.add_middleware(
        BodyLimitMiddleware,
        limit_for=limits_by_path(settings.max_body_bytes, settings.max_large_body_bytes),
    )
    # Inside observability, so each record carries the request id.
    app.add_middleware(AuditMiddleware, sessions=lambda: app.state.sessions)
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics)
    _describe_problems_in_openapi(app)
    return app


@asynccontextmanager
async def _outbox_relay(app: FastAPI, settings: ServiceSettings) -> AsyncIterator[None]:
    """Relay the outbox to notify for the app's lifetime, when the service produces events."""
    if not isinstance(settings, RelaySettings) or not settings.relay_enabled:
        yield
        return
    service_token: str | None = app.state.service_token
    if service_token is None:
        logger.warning(
            "no service token: events stay in the outbox until DESKSIDE_SERVICE_TOKEN is set"
        )
        yield
        return
    # Its own client: no proxy from the environment between two services of one stack.
    async with httpx.AsyncClient(trust_env=False) as client:
        relay = OutboxRelay(
            app.state.sessions,
            client,
            str(settings.notify_url),
            service_token,
            linger=settings.relay_linger,
            registry=app.state.metrics.registry,
        )
        app.state.outbox_relay = relay
        # Woken by each commit that records events; the interval is the safety net for the
        # rest: other replicas' events, and rounds skipped while notify was failing.
        async with periodically(
            "outbox-relay",
            settings.relay_interval,
            relay.run_once,
            wakeup=app.state.sessions.outbox_written,
        ):
            yield


def _describe_problems_in_openapi(app: FastAPI) -> None:
    """Declare every error as problem+json in the app's OpenAPI document, and its tags.

    Operation ids are not made up here: every route names its own `operation_id=`
    (`createTicket`, `listDevices`), as generated clients name their methods
    after them; a route that forgets gets FastAPI's `create_ticket_v1_tickets_post`,
    which the tests refuse.
    """
    build_default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        app.openapi_schema = describe_tags(describe_problems(build_default()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
