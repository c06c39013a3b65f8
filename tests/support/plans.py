"""What the code sends the database, and what the database plans for it: for tests
that a write takes as few round trips as it should and a query stays on its index
as its table grows."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from deskside_kit.database import Sessions


@contextlib.contextmanager
def statements_sent(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement `engine` sends inside the block, with its parameters."""
    sent: list[tuple[str, Any]] = []

    def capture(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)


@contextlib.asynccontextmanager
async def transaction_control_sent(engine: AsyncEngine) -> AsyncIterator[list[str]]:
    """Every BEGIN, COMMIT and ROLLBACK asyncpg sends for `engine` inside the block.

    `statements_sent` sees only what SQLAlchemy executes; these asyncpg sends by
    itself, as simple queries, which its query loggers see (it logs no prepared
    statement). PostgreSQL only.
    """
    sent: list[str] = []
    hooked: list[Any] = []

    def log(record: Any) -> None:
        sent.append(record.query.strip().rstrip(";"))

    def hook(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        if all(driver is not other for other in hooked):
            driver.add_query_logger(log)
            hooked.append(driver)

    event.listen(engine.sync_engine, "checkout", hook)
    try:
        yield sent
        # asyncpg hands each record to its loggers on the loop's next turn.
        await asyncio.sleep(0)
    finally:
        event.remove(engine.sync_engine, "checkout", hook)
        for driver in hooked:
            driver.remove_query_logger(log)


async def plan_of(engine: AsyncEngine, statement: str, parameters: Any) -> str:
    """The plan of a statement sent as `statements_sent` saw it, as one line of text.

    On PostgreSQL the plan a prepared statement may settle on (asyncpg prepares
    every statement): a generic one, made for any parameter values, which cannot
    use a partial index whose condition rests on a parameter. Sequential scans
    are off, as a test's tables are small enough to be read whole whatever their
    indexes. On SQLite, its query plan.
    """
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            await connection.exec_driver_sql("SET enable_seqscan = off")
            await connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            await connection.exec_driver_sql(f"PREPARE planned AS {statement}")
            arguments = ", ".join("NULL" for _ in parameters)
            try:
                rows = await connection.exec_driver_sql(
                    f"EXPLAIN EXECUTE planned{f'({arguments})' if arguments else ''}"
                )
            finally:
                # A prepared statement outlives the transaction; the connection goes
                # back to the pool.
                await connection.exec_driver_sql("DEALLOCATE planned")
        else:
            rows = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = " ".join(str(column) for row in rows for column in row)
        await connection.rollback()
    return plan


async def plan_of_query(
    sessions: Sessions, query: Callable[[AsyncSession], Awaitable[object]], marker: str
) -> str:
    """The plan (`plan_of`) of the one statement holding `marker` that `query` sends."""
    with statements_sent(sessions.engine) as sent:
        async with sessions.write_transaction() as session:
            await query(session)
    [(statement, parameters)] = [(s, p) for s, p in sent if marker in s]
    return await plan_of(sessions.engine, statement, parameters)
