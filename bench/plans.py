"""`EXPLAIN ANALYZE` of the queries behind lists, search and reports, at full size.

The SQL is not written out by hand: each query is run through the service's
own repository and report code on a real session, and the statements it
actually sends (with their parameters) are captured from SQLAlchemy and
explained. A plan that scans a whole large table is flagged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.dataset import DAYS
from deskside_kit.database import create_engine
from deskside_kit.paging import PageRequest, encode_cursor
from deskside_tickets.reports import ReportService
from deskside_tickets.repository import TicketFilters, TicketRepository

# Tables big enough that reading all of them is the problem the plans are checked for.
LARGE_TABLES = ("tickets", "ticket_comments")
Query = Callable[[AsyncSession], Awaitable[Any]]


def _queries(deep_cursor: str) -> dict[str, Query]:
    year = datetime.now(UTC) - timedelta(days=DAYS + 1)
    now = datetime.now(UTC)
    first = PageRequest(limit=50, cursor=None)

    def tickets(session: AsyncSession) -> TicketRepository:
        return TicketRepository(session)

    return {
        "list-first-page": lambda s: tickets(s).list_page(first, TicketFilters(), "-created_at"),
        "list-deep-page": lambda s: tickets(s).list_page(
            PageRequest(limit=50, cursor=deep_cursor), TicketFilters(), "-created_at"
        ),
        "search-common-word": lambda s: tickets(s).list_page(
            first, TicketFilters(q="password"), "-created_at"
        ),
        "search-rare-words": lambda s: tickets(s).list_page(
            first, TicketFilters(q="hotel network"), "-created_at"
        ),
        # Words that go together match far more often than their shares multiplied.
        "search-words-that-go-together": lambda s: tickets(s).list_page(
            first, TicketFilters(q="Dropbox shared folder"), "-created_at"
        ),
        # Three words that meet in a few hundred tickets over the year, a handful of
        # them in the last week: the page is picked from the few by their ids.
        "search-words-few-tickets-have": lambda s: tickets(s).list_page(
            first, TicketFilters(q="0x1015 hotel Fairphone"), "-created_at"
        ),
        # A typo: no ticket has the word, and PostgreSQL keeps no statistics for it.
        "search-a-word-no-ticket-has": lambda s: tickets(s).list_page(
            first, TicketFilters(q="pasword"), "-created_at"
        ),
        "filtered-list": lambda s: tickets(s).list_page(
            first,
            TicketFilters(statuses=["closed"], technology_key="ios", assignee_id="agent-07"),
            "-created_at",
        ),
        "report-summary": lambda s: ReportService(tickets(s)).summary(year, now),
        "report-productivity": lambda s: ReportService(tickets(s)).productivity(year, now),
    }


async def write_plans(database_url: str, folder: Path, ticket_count: int) -> dict[str, bool]:
    """Explain every query into `folder`; returns, per query, whether it avoids full scans."""
    folder.mkdir(parents=True, exist_ok=True)
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(
            "SELECT created_at, id FROM tickets"
            " ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
            int(ticket_count * 0.9),
        )
    finally:
        await connection.close()
    deep_cursor = encode_cursor([row["created_at"], row["id"]])
    engine = create_engine(database_url.replace("postgresql://", "postgresql+asyncpg://", 1))
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    verdicts: dict[str, bool] = {}
    try:
        for name, query in _queries(deep_cursor).items():
            captured.clear()
            async with AsyncSession(engine) as session:
                await query(session)
            statements = [
                (sql, params)
                for sql, params in captured
                if sql.lstrip().upper().startswith("SELECT")
            ]
            verdicts[name] = await _explain(database_url, name, statements, folder)
    finally:
        await engine.dispose()
    return verdicts


async def _explain(
    database_url: str, name: str, statements: list[tuple[str, Any]], folder: Path
) -> bool:
    connection = await asyncpg.connect(database_url)
    sections = []
    uses_indexes = True
    try:
        for sql, parameters in statements:
            rows = await connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *(parameters or ()))
            plan = "\n".join(row[0] for row in rows)
            scans = [table for table in LARGE_TABLES if re.search(rf"Seq Scan on {table}\b", plan)]
            uses_indexes &= not scans
            verdict = (
                f"FULL SCAN of {', '.join(scans)}" if scans else "no full scan of a large table"
            )
            sections.append(
                f"-- {verdict}\n{sql.strip()}\n"
                f"-- parameters: {list(parameters or ())!r}\n\n{plan}\n"
            )
    finally:
        await connection.close()
    (folder / f"{name}.txt").write_text("\n".join(sections))
    return uses_indexes
