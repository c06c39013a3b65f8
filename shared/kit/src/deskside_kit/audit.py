"""The audit trail: every request that changes something, and every refused one.

`AuditMiddleware` writes one `audit_records` row per such request, in the
service's own database, before the answer leaves: a caller that got an answer
has its record. A change that commits carries its record in its own transaction
(one commit, not two: the change and its record land together or not at all);
anything else, a refusal or a failed change, is recorded on its own.

Kept: who (the verified token's subject and roles, or nobody), what (method,
path, status), when, the request id and the client address. Never a body, a
query string or a header: they may hold personal data and secrets.

Admins read each service's trail at `GET /v1/audit/<service>`
(`/v1/audit/tickets`, …), which the gateway routes like any other path.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import Column, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskside_contracts.audit import AuditRecordRead
from deskside_contracts.common import Role
from deskside_contracts.common import UtcDateTime as Moment
from deskside_contracts.paging import Page
from deskside_kit.auth import PRINCIPAL_KEY, Principal, require_roles
from deskside_kit.context import current_request_id
from deskside_kit.database import (
    Sessions,
    UtcDateTime,
    after_commit,
    before_request_commit,
    insert_new,
    utc_now,
)
from deskside_kit.paging import PageParams, PageRequest, after_cursor, build_page
from deskside_kit.problems import Forbidden, problem_responses
from deskside_kit.tags import Tag

logger = logging.getLogger("deskside.audit")

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Refusals: no valid credential, not allowed, and "not found", which is also
# how someone else's object answers.
REFUSED = frozenset({401, 403, 404})


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_records"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utc_now, sa_column=Column(UtcDateTime, nullable=False))
    request_id: str | None = Field(default=None, max_length=128)
    actor: str | None = Field(default=None, max_length=255)
    roles: str = Field(default="", max_length=255)
    method: str = Field(max_length=16)
    path: str = Field(max_length=2048)
    status: int
    client: str | None = Field(default=None, max_length=64)


def is_audited(method: str, status: int) -> bool:
    # A 503 is a request that never reached the database (`deskside_kit.database`):
    # it changed nothing, and waiting for a connection to record it would only keep
    # the answer back.
    return status != 503 and (method in MUTATING or status in REFUSED)


class AuditMiddleware:
    def __init__(self, app: ASGIApp, *, sessions: Callable[[], Sessions]) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        answered = False
        # A change writes its record in the change's transaction (one commit, not two);
        # here, the record's id and status once that transaction has committed.
        committed: tuple[int, int] | None = None

        async def record_with_the_change(session: AsyncSession, status: int) -> None:
            # As a plain row, not a table model: an entity INSERT through the session
            # takes the ORM's bulk path, which costs more than the change's own rows.
            values = _record_values(scope, status)
            if session.dirty or session.deleted:
                # Left to the commit's flush, which orders updates and inserts itself.
                connection = await session.connection()
                record_id = await AuditRepository.add(connection, values)
            else:
                # Only new rows (a ticket opened): they and the record go in one
                # statement on PostgreSQL, one round trip fewer for a create.
                record_id = await insert_new(session, last=(AuditRecord, values))

            def remember() -> None:
                nonlocal committed
                committed = (record_id, status)

            after_commit(session, remember)

        async def record(status: int) -> None:
            if committed is None:
                values = _record_values(scope, status)
                await self._write(scope, lambda c: AuditRepository.add(c, values))
            elif committed[1] != status:
                # Answered otherwise than its route said it would (a response object of
                # the endpoint's own): the record says what the caller got.
                record_id = committed[0]
                await self._write(
                    scope, lambda c: AuditRepository.correct_status(c, record_id, status)
                )

        async def send_after_recording(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                if is_audited(scope["method"], message["status"]):
                    await record(message["status"])
            await send(message)

        if scope["method"] in MUTATING:
            before_request_commit(scope, record_with_the_change)
        try:
            await self.app(scope, receive, send_after_recording)
        except Exception:
            if not answered and scope["method"] in MUTATING:
                await record(500)  # the outer middleware answers 500
            raise

    async def _write(
        self, scope: Scope, write: Callable[[AsyncConnection], Awaitable[object]]
    ) -> None:
        sessions = self.sessions()
        try:
            # Core statements on a connection of its own, not an ORM session.
            async with (
                sessions.write_lock or contextlib.nullcontext(),
                sessions.engine.begin() as connection,
            ):
                await write(connection)
        except Exception:
            # The answer still goes out; the failure is loud in the logs.
            logger.exception(
                "could not write the audit record of %s %s", scope["method"], scope["path"]
            )


def _record_values(scope: Scope, status: int) -> dict[str, Any]:
    principal: Principal | None = scope.get("state", {}).get(PRINCIPAL_KEY)
    client = scope.get("client")
    return {
        "at": utc_now(),
        "request_id": current_request_id(),
        "actor": principal.sub if principal else None,
        "roles": " ".join(sorted(principal.roles)) if principal else "",
        "method": scope["method"],
        "path": scope["path"][:2048],
        "status": status,
        "client": str(client[0])[:64] if client else None,
    }


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    async def add(connection: AsyncConnection, record: dict[str, Any]) -> int:
        """One record, by a Core INSERT on the caller's connection (no ORM session)."""
        record_id = (await connection.execute(_INSERT_RETURNING_ID, record)).scalar_one()
        assert record_id is not None  # the database numbers every record
        return record_id

    @staticmethod
    async def correct_status(connection: AsyncConnection, record_id: int, status: int) -> None:
        await connection.execute(
            update(AuditRecord).where(col(AuditRecord.id) == record_id), {"status": status}
        )

    async def newest_first(
        self,
        page: PageRequest,
        *,
        actor: str | None = None,
        method: str | None = None,
        status: int | None = None,
        since: datetime | None = None,
    ) -> Sequence[AuditRecord]:
        statement = select(AuditRecord)
        if actor is not None:
            statement = statement.where(col(AuditRecord.actor) == actor)
        if method is not None:
            statement = statement.where(col(AuditRecord.method) == method.upper())
        if status is not None:
            statement = statement.where(col(AuditRecord.status) == status)
        if since is not None:
            statement = statement.where(col(AuditRecord.at) >= since)
        statement = after_cursor(statement, [col(AuditRecord.id)], page, descending=True)
        return (await self.session.exec(statement)).all()


_INSERT_RETURNING_ID = insert(AuditRecord).returning(col(AuditRecord.id))


def to_read(record: AuditRecord) -> AuditRecordRead:
    assert record.id is not None
    return AuditRecordRead(
        id=record.id,
        at=record.at,
        request_id=record.request_id,
        actor=record.actor,
        roles=record.roles.split(),
        method=record.method,
        path=record.path,
        status=record.status,
        client=record.client,
    )


def audit_router(service_name: str) -> APIRouter:
    """`GET /v1/audit/<service_name>`: the service's trail, newest first (admins)."""
    router = APIRouter(prefix=f"/v1/audit/{service_name}", tags=[Tag.AUDIT])

    @router.get(
        "",
        dependencies=[Depends(require_roles(Role.ADMIN))],
        responses=problem_responses(Forbidden),
        summary="The audit trail: changes and refusals, newest first (admins)",
        # One per service in the merged document: listTicketsAuditRecords, ...
        operation_id=f"list{service_name.capitalize()}AuditRecords",
    )
    async def list_audit_records(
        request: Request,
        page: PageParams,
        actor: Annotated[str | None, Query(max_length=255)] = None,
        method: Annotated[str | None, Query(max_length=16)] = None,
        status: Annotated[int | None, Query(ge=100, le=599)] = None,
        since: Annotated[Moment | None, Query()] = None,
    ) -> Page[AuditRecordRead]:
        sessions: Sessions = request.app.state.sessions
        async with sessions.reading() as session:
            rows = await AuditRepository(session).newest_first(
                page, actor=actor, method=method, status=status, since=since
            )
        return build_page(rows, page, sort_key=lambda row: [row.id], to_item=to_read)

    return router
