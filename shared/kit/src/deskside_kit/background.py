"""Background jobs that run every few seconds inside a service, for its lifetime.

Every replica runs them; the jobs themselves claim their rows (`FOR UPDATE
SKIP LOCKED` on PostgreSQL), so N replicas share the work without doing any
of it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable

logger = logging.getLogger("deskside.background")


@contextlib.asynccontextmanager
async def periodically(
    name: str, interval: float, job: Callable[[], Awaitable[object]]
) -> AsyncIterator[None]:
    """Run `job` every `interval` seconds until the context exits."""

    async def loop() -> None:
        while True:
            # Jitter, so replicas started together do not run in lockstep.
            await asyncio.sleep(interval * random.uniform(0.8, 1.2))  # noqa: S311
            try:
                await job()
            except Exception:
                # A failing round is logged and retried next time; it never kills the loop.
                logger.exception("background job %s failed", name)

    task = asyncio.create_task(loop(), name=f"deskside-{name}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
