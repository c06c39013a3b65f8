"""A change's audit record rides in the change's own transaction, and says what the caller got.

The trail as a whole (every change and refusal, admins only) is tested in
`tests/hard/test_audit.py`; here, how a record is written.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from deskside_kit.database import Session
from tests.support.apps import app_sessions, serving
from tests.support.tokens import bearer

ALICE = bearer("alice")
ADMIN = bearer("root", "admin")

odd_routes = APIRouter()


@odd_routes.post("/odd/answers-otherwise", status_code=201)
async def answers_otherwise(session: Session) -> JSONResponse:
    # Works in the request's transaction, then answers with a status of its own.
    await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return JSONResponse({"queued": True}, status_code=202)


@odd_routes.post("/odd/fails-its-response-model", status_code=201, response_model=int)
async def fails_its_response_model(session: Session) -> Any:
    await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    # Checked before the transaction commits: it rolls back, and its record goes alone.
    return "not a number"


@pytest.fixture
def service() -> str:
    # The kit's request transaction, seen through one service (tests/shared/conftest.py).
    return "tickets"


@pytest.fixture
def tickets(service_app: FastAPI) -> FastAPI:
    service_app.include_router(odd_routes)
    return service_app


async def _records_of(client: httpx.AsyncClient, request_id: str) -> list[dict[str, Any]]:
    trail = await client.get("/v1/audit/tickets", params={"limit": 100}, headers=ADMIN)
    assert trail.status_code == 200
    return [r for r in trail.json()["items"] if r["request_id"] == request_id]


async def test_a_change_commits_with_its_record(tickets: FastAPI, backend: str) -> None:
    async with serving(tickets) as client:
        created = await client.post("/v1/tickets", json={"title": "VPN drops"}, headers=ALICE)
        assert created.status_code == 201
        request_id = created.headers["x-request-id"]
        (record,) = await _records_of(client, request_id)
        assert (record["method"], record["status"], record["actor"]) == ("POST", 201, "alice")
        if backend == "postgresql":
            # The transaction that wrote a row is its xmin: one transaction wrote both.
            async with app_sessions(client).reading() as session:
                writers = (
                    await session.exec(  # type: ignore[call-overload]
                        text(
                            "SELECT (SELECT xmin::text FROM tickets WHERE reference = :ref),"
                            " (SELECT xmin::text FROM audit_records WHERE request_id = :rid)"
                        ),
                        params={"ref": created.json()["reference"], "rid": request_id},
                    )
                ).one()
            assert writers[0] == writers[1]


@pytest.mark.parametrize(
    ("path", "status"),
    [("/odd/answers-otherwise", 202), ("/odd/fails-its-response-model", 500)],
)
async def test_the_record_says_what_the_caller_got(
    tickets: FastAPI, path: str, status: int
) -> None:
    async with serving(tickets) as client:
        answer = await client.post(path, headers=ALICE)
        assert answer.status_code == status
        records = await _records_of(client, answer.headers["x-request-id"])
    assert [(r["path"], r["status"]) for r in records] == [(path, status)]


async def test_a_refused_change_is_recorded_on_its_own(tickets: FastAPI) -> None:
    async with serving(tickets) as client:
        refused = await client.post(
            "/v1/sla-policies", json={"name": "x", "targets": {}}, headers=ALICE
        )
        assert refused.status_code == 403
        records = await _records_of(client, refused.headers["x-request-id"])
    assert [(r["method"], r["status"], r["actor"]) for r in records] == [("POST", 403, "alice")]
