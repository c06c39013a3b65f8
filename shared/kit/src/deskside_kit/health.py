"""Liveness, readiness and metrics: the same three probes on every service.

The gateway reuses liveness and metrics and has a readiness of its own (its
upstreams rather than a database).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from deskside_kit.database import database_answers
from deskside_kit.problems import problem_content, problem_response
from deskside_kit.tags import Tag

logger = logging.getLogger("deskside.health")

READINESS_TIMEOUT_SECONDS = 2.0

health_router = APIRouter(tags=[Tag.OPERATIONS])
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "Not ready", "content": problem_content()}
}


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


@health_router.get(
    "/healthz", response_model=Health, summary="The process is up", operation_id="checkLiveness"
)
async def check_liveness() -> Health:
    return Health(status="ok")


@health_router.get(
    "/readyz",
    response_model=Health,
    summary="The service can do its work: its database answers",
    responses=NOT_READY,
    operation_id="checkReadiness",
)
async def check_readiness(request: Request) -> Response | Health:
    try:
        await asyncio.wait_for(
            database_answers(request.app.state.probe_engine), READINESS_TIMEOUT_SECONDS
        )
    except Exception as exc:
        logger.warning("not ready: database check failed: %s", exc)
        return problem_response(
            503, detail="The database does not answer.", checks={"database": "failing"}
        )
    return Health(status="ready", checks={"database": "ok"})


@health_router.get(
    "/metrics",
    summary="Prometheus metrics",
    operation_id="exportMetrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def export_metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
