"""What every service does the same way, checked on each service and database."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from tests.support.metrics import requests_in_progress
from tests.support.tokens import bearer

PROBLEM = "application/problem+json"


class TestProbes:
    async def test_healthz(self, service_client: httpx.AsyncClient) -> None:
        response = await service_client.get("/healthz")

        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {}}

    async def test_readyz_checks_the_database(self, service_client: httpx.AsyncClient) -> None:
        response = await service_client.get("/readyz")

        assert response.status_code == 200
        assert response.json() == {"status": "ready", "checks": {"database": "ok"}}

    async def test_readyz_is_503_when_the_database_is_gone(
        self, service_app: FastAPI, service_client: httpx.AsyncClient
    ) -> None:
        await service_app.state.probe_engine.dispose()
        # An engine pointed nowhere stands in for a database that went away.
        from deskside_kit.database import create_engine

        healthy_engine = service_app.state.probe_engine
        service_app.state.probe_engine = create_engine(
            "postgresql+asyncpg://nobody@127.0.0.1:9/nothing", pool_pre_ping=False
        )
        try:
            response = await service_client.get("/readyz")
        finally:
            await service_app.state.probe_engine.dispose()
            service_app.state.probe_engine = healthy_engine

        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["checks"] == {"database": "failing"}

    async def test_metrics_count_requests_by_route_template(
        self, service_client: httpx.AsyncClient
    ) -> None:
        await service_client.get("/healthz")
        await service_client.get("/healthz")

        response = await service_client.get("/metrics")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert 'http_requests_total{method="GET",route="/healthz"' in response.text
        line = next(
            line
            for line in response.text.splitlines()
            if line.startswith("http_requests_total") and 'route="/healthz"' in line
        )
        assert line.endswith(" 2.0")

    async def test_metrics_count_the_requests_not_yet_answered(self, service_app: FastAPI) -> None:
        from tests.support.apps import serving

        entered, release = asyncio.Event(), asyncio.Event()
        waiting = APIRouter()

        @waiting.get("/slow")
        async def slow() -> dict[str, str]:
            entered.set()
            await release.wait()
            return {}

        service_app.include_router(waiting)
        async with serving(service_app) as client:
            slow_request = asyncio.create_task(client.get("/slow", headers=bearer("x")))
            await entered.wait()
            while_waiting = requests_in_progress((await client.get("/metrics")).text)
            release.set()
            assert (await slow_request).status_code == 200
            once_answered = requests_in_progress((await client.get("/metrics")).text)

        # Each reading counts the /metrics request that reads it.
        assert (while_waiting, once_answered) == (2, 1)

    async def test_openapi_declares_problems(self, service_client: httpx.AsyncClient) -> None:
        document = (await service_client.get("/openapi.json")).json()

        assert "Problem" in document["components"]["schemas"]
        assert "HTTPValidationError" not in document["components"]["schemas"]
        operation_ids = [
            operation["operationId"]
            for path in document["paths"].values()
            for operation in path.values()
        ]
        assert len(operation_ids) == len(set(operation_ids))
        assert all(op_id[0].islower() and "_" not in op_id for op_id in operation_ids)


class TestProblems:
    async def test_an_unknown_route_is_a_404_problem(
        self, service_client: httpx.AsyncClient
    ) -> None:
        response = await service_client.get("/v1/no-such-thing")

        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["detail"] == "No resource at GET /v1/no-such-thing"

    async def test_a_wrong_method_is_a_405_problem(self, service_client: httpx.AsyncClient) -> None:
        response = await service_client.delete("/healthz")

        assert response.status_code == 405
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["allow"] == "GET"


class TestRequestIds:
    async def test_a_well_formed_id_is_kept(self, service_client: httpx.AsyncClient) -> None:
        response = await service_client.get("/healthz", headers={"X-Request-ID": "portal-42.a:b"})

        assert response.headers["x-request-id"] == "portal-42.a:b"

    @pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", ""])
    async def test_a_malformed_id_is_replaced(
        self, service_client: httpx.AsyncClient, bad: str
    ) -> None:
        response = await service_client.get("/healthz", headers={"X-Request-ID": bad})

        assert response.headers["x-request-id"] != bad
        assert len(response.headers["x-request-id"]) == 32

    async def test_problems_and_logs_carry_the_id(
        self, service_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="deskside.access")

        response = await service_client.get("/v1/nowhere", headers={"X-Request-ID": "trace-me"})

        assert response.json()["request_id"] == "trace-me"
        access = [r for r in caplog.records if r.name == "deskside.access"]
        assert access[-1].__dict__["status"] == 404
        assert access[-1].__dict__["route"] == "unmatched"


class TestUnexpectedErrors:
    async def test_a_crash_is_a_500_problem_without_internals(
        self, service_app: FastAPI, caplog: pytest.LogCaptureFixture
    ) -> None:
        from tests.support.apps import serving

        crashing = APIRouter()

        @crashing.get("/boom")
        async def explode() -> None:
            raise RuntimeError("secret internals")

        service_app.include_router(crashing)
        async with serving(service_app) as client:
            response = await client.get("/boom", headers={**bearer("x"), "X-Request-ID": "crash-1"})

        assert response.status_code == 500
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["x-request-id"] == "crash-1"
        assert "secret internals" not in response.text
        assert response.json()["request_id"] == "crash-1"
        assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)
