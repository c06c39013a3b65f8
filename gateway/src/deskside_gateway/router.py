"""The gateway's own endpoints: health, readiness of the services, metrics and docs."""

from __future__ import annotations

import asyncio
from functools import cache
from importlib.resources import files
from typing import Any

import aiohttp
from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.staticfiles import StaticFiles

from deskside_kit.health import Health, check_liveness, export_metrics
from deskside_kit.problems import describe_problems, problem_content, problem_response
from deskside_kit.tags import Tag, describe_tags

READINESS_TIMEOUT_SECONDS = 2.0
DOCS_ASSETS = "/docs/assets"

router = APIRouter(tags=[Tag.OPERATIONS])
router.add_api_route(
    "/healthz",
    check_liveness,
    methods=["GET"],
    response_model=Health,
    summary="The gateway is up",
    operation_id="checkLiveness",
)
router.add_api_route(
    "/metrics",
    export_metrics,
    methods=["GET"],
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
    summary="Prometheus metrics of the gateway",
    operation_id="exportMetrics",
)


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"description": "Not ready", "content": problem_content()}},
    summary="The gateway can do its work: every service is ready",
    operation_id="checkReadiness",
)
async def check_readiness(request: Request) -> Response | Health:
    upstreams: dict[str, str] = request.app.state.upstreams
    session: aiohttp.ClientSession = request.app.state.proxy.session
    results = await asyncio.gather(
        *(_upstream_readiness(session, url) for url in upstreams.values())
    )
    checks = dict(zip(upstreams, results, strict=True))
    if any(result != "ok" for result in checks.values()):
        failing = ", ".join(name for name, result in checks.items() if result != "ok")
        return problem_response(503, detail=f"Not ready: {failing}.", checks=checks)
    return Health(status="ready", checks=checks)


async def _upstream_readiness(session: aiohttp.ClientSession, base_url: str) -> str:
    try:
        async with session.get(
            f"{base_url}/readyz", timeout=aiohttp.ClientTimeout(total=READINESS_TIMEOUT_SECONDS)
        ) as response:
            return "ok" if response.status == 200 else f"not ready ({response.status})"
    except TimeoutError:
        return "timeout"
    except aiohttp.ClientError:
        return "unreachable"


@cache
def own_document() -> dict[str, Any]:
    """The gateway's own public endpoints as an OpenAPI document, for the merged one."""
    return describe_tags(
        describe_problems(get_openapi(title="Deskside gateway", version="1", routes=router.routes))
    )


@router.get("/openapi.json", include_in_schema=False)
async def get_merged_openapi(request: Request) -> JSONResponse:
    document: dict[str, Any] = await request.app.state.openapi.document()
    return JSONResponse(document)


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
async def get_docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Deskside API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
    )


# Swagger UI's own files, shipped in a wheel, so /docs works without the internet.
docs_assets = StaticFiles(directory=str(files("fastapi_offline") / "static"))
