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

# On shutdown a round in progress gets this long to finish (a relay batch being
# marked sent, a webhook attempt ending) before it is cancelled. A cancelled
# round loses nothing: its transaction rolls back or its leases run out, and
# another replica (or this one, restarted) does the work.
STOP_GRACE_SECONDS = 8.0


@contextlib.asynccontextmanager
async def periodically(
    name: str,
    interval: float,
    job: Callable[[], Awaitable[object]],
    *,
    stop_grace: float = STOP_GRACE_SECONDS,
) -> AsyncIterator[None]:
    """Run `job` every `interval` seconds until the context exits.

    Exiting lets a round in progress finish, up to `stop_grace` seconds, and
    starts no new one.
    """
    stopping = asyncio.Event()

    async def loop() -> None:
        while not stopping.is_set():
            # Jitter, so replicas started together do not run in lockstep.
            pause = interval * random.uniform(0.8, 1.2)  # noqa: S311
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), pause)
            if stopping.is_set():
                return
            try:
                await job()
            except Exception:
                # A failing round is logged and retried next time; it never kills the loop.
                logger.exception("background job %s failed", name)

    task = asyncio.create_task(loop(), name=f"deskside-{name}")
    try:
        yield
    finally:
        stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), stop_grace)
        except TimeoutError:
            logger.warning("background job %s still running after %ss: cancelled", name, stop_grace)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
