"""The stack's own limits on this machine: the least a FastAPI service can do per request.

Two limit apps, each served by uvicorn with the same options as a Deskside service
(`deskside_kit.cli`), one worker, straight to the load generator:

- `json_app` answers `GET /v1/tickets/{ref}` with a fixed JSON document (the
  benchmark passes it the body tickets answers for a real ticket);
- `insert_app` inserts one row per `POST /rows` through an asyncpg pool as
  large as a service's, and answers 201.

Every figure of the benchmark is divided by one of these, so a ratio says how
close Deskside comes to what this stack can do at all, whatever the machine.

A third app is not a limit but a ceiling for one target: `create_sql_app` sends,
per `POST /v1/tickets`, what a steady ticket create sends on the benchmark's
tickets database: one statement holding the ticket, its history row, its outbox
event and its audit record, without a transaction around it, and its number from
a block drawn twenty at a time. Nothing else: no token, no validation, no ORM.
Its share of the insert limit is the most a create could reach here without
sending less SQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from fastapi import FastAPI

from deskside_kit.ids import new_id
from deskside_kit.settings import DEFAULT_POOL_SIZE

# As many connections as a service keeps (deskside_kit.database.create_engine).
POOL_SIZE = DEFAULT_POOL_SIZE

json_app = FastAPI()
_document: dict[str, Any] = json.loads(os.environ.get("BENCH_LIMIT_DOCUMENT", "{}"))


@json_app.get("/v1/tickets/{ticket_ref}")
async def fixed_document(ticket_ref: str) -> dict[str, Any]:
    return _document


@asynccontextmanager
async def _pool(app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(
        os.environ["BENCH_LIMIT_DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE
    )
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_rows"
        " (id text PRIMARY KEY, title text NOT NULL, created_at timestamptz NOT NULL)"
    )
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


insert_app = FastAPI(lifespan=_pool)


@insert_app.post("/rows", status_code=201)
async def insert_row(row: dict[str, Any]) -> dict[str, str]:
    row_id = uuid.uuid4().hex
    await insert_app.state.pool.execute(
        "INSERT INTO bench_rows (id, title, created_at) VALUES ($1, $2, now())",
        row_id,
        str(row.get("title", "")),
    )
    return {"id": row_id}


@asynccontextmanager
async def _tickets_pool(app: FastAPI) -> AsyncIterator[None]:
    async with asyncpg.create_pool(
        os.environ["BENCH_LIMIT_TICKETS_DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE
    ) as pool:
        app.state.pool = pool
        # A create files its ticket under the default SLA policy (the foreign key is checked).
        app.state.policy_id = await pool.fetchval(
            "SELECT id FROM sla_policies WHERE is_default LIMIT 1"
        )
        yield


create_sql_app = FastAPI(lifespan=_tickets_pool)

# Who the ceiling's rows name as their creator: `forget_ceiling_rows` finds them by it.
CEILING_ACTOR = "bench-ceiling"

# The columns a create fills beyond their defaults, in the one statement tickets sends
# (`ALTER DATABASE … SET log_statement = 'all'` shows it): the ticket, its history,
# its event and its audit record, each an INSERT of a WITH. The rows differ from a
# real create's in two ways that cost the database nothing more or less, so that
# they make no work for the figures after this one: the SLA check is due only in an
# hour, and the event is written as already sent, so the relay and notify never see
# it.
_CREATE = """
WITH ticket AS (
    INSERT INTO tickets (id, number, reference, title, description, status, channel,
        impact, urgency, priority, priority_overridden, enrichment, work_stopped,
        requester_id, requester_email, created_by, tier, sla_policy_id, sla_paused_seconds,
        sla_first_response_due_at, sla_resolution_due_at, sla_first_response_warned,
        sla_resolution_warned, sla_first_response_breached, sla_resolution_breached,
        sla_next_check_at, search_text, version, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, 'new', 'web', $6, $7, 'p2', false, 'none', false,
        $8, $9, $15, 1, $10, 0, $11, $12, false, false, false, false, $11, $13, 1, $14, $14)
    RETURNING id
), change AS (
    INSERT INTO ticket_changes (ticket_id, at, actor, action, internal)
    VALUES ($1, $14, $15, 'created', false)
    RETURNING id
), event AS (
    INSERT INTO outbox (id, type, source, subject, data, request_id, created_at, sent_at,
        attempts)
    VALUES ($16, 'ticket.created', 'tickets', $1, $17::json, $18, $14, $14, 0)
    RETURNING sequence
)
INSERT INTO audit_records (at, request_id, actor, roles, method, path, status, client)
VALUES ($14, $18, $15, 'requester', 'POST', '/v1/tickets', 201, '127.0.0.1')
RETURNING id
"""
# Ticket numbers, drawn as tickets draws them: a block at a time, outside the create.
_NUMBER_BLOCK = 20
_numbers: deque[int] = deque()
_drawing = asyncio.Lock()
# Each takes the ceiling's actor as $1.
_FORGET = [
    "DELETE FROM ticket_changes WHERE ticket_id IN (SELECT id FROM tickets WHERE created_by = $1)",
    "DELETE FROM outbox WHERE subject IN (SELECT id FROM tickets WHERE created_by = $1)",
    "DELETE FROM audit_records WHERE actor = $1",
    "DELETE FROM tickets WHERE created_by = $1",
]


async def forget_ceiling_rows(database_url: str) -> int:
    """Delete what the ceiling wrote, so the figures after it read the desk as loaded.

    Its tickets all share one text, and tens of thousands of them would skew the
    searches and reports measured later. Vacuuming the dead rows is left to
    autovacuum, or to the benchmark's stand-in for it.
    """
    connection = await asyncpg.connect(database_url)
    deleted = 0
    try:
        # One snapshot for all four statements, or a ticket whose request was still
        # finishing could appear between them and keep its history row. Such late
        # tickets are left to the next pass.
        for _ in range(3):
            async with connection.transaction(isolation="repeatable_read"):
                for statement in _FORGET:
                    status = await connection.execute(statement, CEILING_ACTOR)
            tickets = int(status.split()[-1])
            deleted += tickets
            if tickets == 0:
                break
        return deleted
    finally:
        await connection.close()


@create_sql_app.post("/v1/tickets", status_code=201)
async def create_sql(row: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    ticket_id, request_id = new_id("tkt"), uuid.uuid4().hex
    requester = "emp-00001"
    title, description = str(row.get("title", "")), str(row.get("description", ""))
    pool: asyncpg.Pool = create_sql_app.state.pool
    number = await _next_number(pool)
    # The event carries a whole ticket, as tickets' own does: the JSON limit's document.
    ticket = {
        **_document,
        "id": ticket_id,
        "reference": f"SD-{number:06d}",
        "title": title,
        "description": description,
        "created_at": now.isoformat(),
    }
    event = json.dumps({"ticket": ticket, "watchers": [], "assignee": None, "group": None})
    # One statement, no transaction around it: atomic on its own, as a create's is.
    await pool.fetchval(
        _CREATE,
        ticket_id,
        number,
        ticket["reference"],
        title,
        description,
        str(row.get("impact", "medium")),
        str(row.get("urgency", "medium")),
        requester,
        f"{requester}@example.com",
        create_sql_app.state.policy_id,
        now + timedelta(hours=1),
        now + timedelta(hours=8),
        f"{title}\n{description}",
        now,
        CEILING_ACTOR,
        new_id("evt"),
        event,
        request_id,
    )
    return ticket


async def _next_number(pool: asyncpg.Pool) -> int:
    if _numbers:
        return _numbers.popleft()
    async with _drawing:
        if not _numbers:
            rows = await pool.fetch(
                "SELECT nextval('ticket_reference_seq') FROM generate_series(1, $1)",
                _NUMBER_BLOCK,
            )
            _numbers.extend(sorted(row[0] for row in rows))
        return _numbers.popleft()
