"""The stack's own limits on this machine: the least a FastAPI service can do per request.

Two apps, each served by uvicorn with the same options as a Deskside service
(`deskside_kit.cli`), one worker, straight to the load generator:

- `json_app` answers `GET /v1/tickets/{ref}` with a fixed JSON document (the
  benchmark passes it the body tickets answers for a real ticket);
- `insert_app` inserts one row per `POST /rows` through an asyncpg pool as
  large as a service's, and answers 201.

Every figure of the benchmark is divided by one of these, so a ratio says how
close Deskside comes to what this stack can do at all, whatever the machine.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI

# The same pool size as a service's engine (deskside_kit.database: 10 + 10 overflow).
POOL_SIZE = 20

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
