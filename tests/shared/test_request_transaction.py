"""A request's write transaction: what joins it before the commit, what is undone if it fails.

The commit runs after every other dependency has finished, so a failure there
(or in a hook just before it) must still give back an idempotency key the
request claimed: otherwise a retry would be told "in progress" for minutes.
"""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_kit.database import Session, before_request_commit
from deskside_kit.idempotency import IdempotencyDep
from deskside_tickets.models import Ticket
from tests.support.apps import app_sessions, serving
from tests.support.plans import transaction_control_sent
from tests.support.tokens import bearer

ALICE = bearer("alice")


class Order(BaseModel):
    item: str


class Placed(BaseModel):
    item: str


class CommitFailure(Exception):
    pass


def _orders(commits_to_fail: list[int]) -> APIRouter:
    router = APIRouter()

    @router.post("/orders", status_code=201)
    async def place(
        order: Order, request: Request, session: Session, idempotency: IdempotencyDep
    ) -> Placed:
        replay = await idempotency.claim(order)
        if replay is not None:
            return replay  # type: ignore[return-value]

        async def fail_once(_session: AsyncSession, _status: int) -> None:
            if commits_to_fail:
                commits_to_fail.pop()
                raise CommitFailure("the transaction could not commit")

        # Fails where a commit would fail: after the endpoint and its other dependencies.
        before_request_commit(request.scope, fail_once)
        placed = Placed(item=order.item)
        await idempotency.remember(201, placed, {})
        return placed

    return router


@pytest.fixture
def service() -> str:
    # The kit's request transaction, seen through one service (tests/shared/conftest.py).
    return "tickets"


async def test_a_failed_commit_gives_the_idempotency_key_back(service_app: FastAPI) -> None:
    service_app.include_router(_orders(commits_to_fail=[1]))
    headers = {**ALICE, "Idempotency-Key": "order-1"}
    async with serving(service_app) as client:
        failed = await client.post("/orders", json={"item": "dock"}, headers=headers)
        retried = await client.post("/orders", json={"item": "dock"}, headers=headers)
        replayed = await client.post("/orders", json={"item": "dock"}, headers=headers)
    assert failed.status_code == 500
    # The retry runs afresh, not "still in progress"; the one after replays it.
    assert (retried.status_code, retried.json()) == (201, {"item": "dock"})
    assert replayed.status_code == 201
    assert replayed.headers.get("idempotent-replayed") == "true"


async def test_a_key_claimed_after_the_request_sent_a_statement_is_refused(
    service_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    # The claim's connection would be the request's second: enough such requests at
    # once would hold every pooled connection while each waited for another.
    router = APIRouter()

    @router.post("/late-claims", status_code=201)
    async def claim_late(order: Order, session: Session, idempotency: IdempotencyDep) -> Placed:
        await session.exec(select(Ticket.id).limit(1))
        await idempotency.claim(order)
        return Placed(item=order.item)

    service_app.include_router(router)
    headers = {**ALICE, "Idempotency-Key": "order-2"}
    async with serving(service_app) as client:
        keyed = await client.post("/late-claims", json={"item": "dock"}, headers=headers)
        unkeyed = await client.post("/late-claims", json={"item": "dock"}, headers=ALICE)

    assert keyed.status_code == 500
    assert "claim the Idempotency-Key before the request's first statement" in caplog.text
    assert unkeyed.status_code == 201  # without a key there is nothing to claim


class Opened(BaseModel):
    id: str


def _tickets_with_a_late_hook() -> APIRouter:
    # A create whose request adds a hook of its own after the audit record's: the
    # record's statement may then not end the transaction by itself.
    router = APIRouter()

    @router.post("/late-hook-tickets", status_code=201)
    async def open_ticket(request: Request, session: Session) -> Opened:
        ticket = Ticket(
            number=1, reference="SD-000001", title="Dock", requester_id="a", created_by="a"
        )
        session.add(ticket)

        async def fail_late(_session: AsyncSession, _status: int) -> None:
            raise CommitFailure("the last hook could not write")

        before_request_commit(request.scope, fail_late)
        return Opened(id=ticket.id)

    return router


async def test_a_hook_after_the_audit_record_keeps_the_change_in_its_transaction(
    service_app: FastAPI,
) -> None:
    # The audit record's hook runs first and writes the ticket with its record in one
    # statement; had that statement been sent alone (as when it is the last hook), the
    # ticket would stay though the request failed.
    service_app.include_router(_tickets_with_a_late_hook())
    async with serving(service_app) as client:
        failed = await client.post("/late-hook-tickets", headers=ALICE)
        async with app_sessions(client).reading() as session:
            tickets = (await session.exec(select(Ticket))).all()
    assert failed.status_code == 500
    assert tickets == []


def _reads_and_writes() -> APIRouter:
    router = APIRouter()

    async def two_reads(session: AsyncSession) -> int:
        await session.exec(select(Ticket.id).limit(1))
        return len((await session.exec(select(Ticket.id))).all())

    @router.get("/ticket-count")
    async def count(session: Session) -> int:
        return await two_reads(session)

    @router.post("/ticket-count")
    async def count_and_record(session: Session) -> int:
        return await two_reads(session)  # and the audit record, which writes

    return router


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_a_read_request_sends_its_statements_without_a_transaction(
    service_app: FastAPI,
) -> None:
    # At READ COMMITTED each statement reads its own snapshot, in a transaction or
    # not: BEGIN and COMMIT around a read request would only cost two round trips.
    service_app.include_router(_reads_and_writes())
    async with serving(service_app) as client:
        engine = app_sessions(client).engine
        async with transaction_control_sent(engine) as read_control:
            read = await client.get("/ticket-count", headers=ALICE)
        async with transaction_control_sent(engine) as write_control:
            written = await client.post("/ticket-count", headers=ALICE)
    assert (read.status_code, read.json()) == (200, 0)
    assert read_control == []
    # A request that writes keeps its transaction: its reads, then its audit record.
    assert written.status_code == 200
    assert [query.split()[0] for query in write_control] == ["BEGIN", "COMMIT"]
