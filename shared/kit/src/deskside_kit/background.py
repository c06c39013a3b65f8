"""Background jobs that run every few seconds inside a service, for its lifetime.

Every replica runs them; the jobs themselves claim their rows (`FOR UPDATE
SKIP LOCKED` on PostgreSQL), so N replicas share the work without doing any
of it twice. A job can also be woken: a transaction that hands it work wakes
it once it commits (`database.wake_after_commit`), so the work starts at once
and the ticks only catch what no wake announced.
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


class Wakeup:
    """Asks a periodic job for a round now, rather than at its next tick.

    Made for one `periodically` loop. A wake while a round runs is never lost:
    however many arrive, they make one more round right after it.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def _wait(self, pause: float) -> None:
        """Return once woken or after `pause` seconds, and take the wake."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), pause)
        # Taken before the round starts, so a wake during the round calls for another.
        self._event.clear()


@contextlib.asynccontextmanager
async def periodically(
    name: str,
    interval: float,
    job: Callable[[], Awaitable[object]],
    *,
    wakeup: Wakeup | None = None,
    stop_grace: float = STOP_GRACE_SECONDS,
) -> AsyncIterator[Wakeup]:
    """Run `job` every `interval` seconds, and whenever woken, until the context exits.

    Yields the loop's `Wakeup` (`wakeup`, or a new one): `wake()` starts a
    round now instead of at the next tick. The ticks go on regardless; they
    are the safety net for work a wake does not announce (another replica's,
    a retry coming due). Exiting lets a round in progress finish, up to
    `stop_grace` seconds, and starts no new one.
    """
    wakeup = wakeup or Wakeup()
    stopping = False

    async def loop() -> None:
        while not stopping:
            # Jitter, so replicas started together do not run in lockstep.
            pause = interval * random.uniform(0.8, 1.2)  # noqa: S311
            await wakeup._wait(pause)
            if stopping:
                return
            try:
                await job()
            except Exception:
                # A failing round is logged and retried next time; it never kills the loop.
                logger.exception("background job %s failed", name)

    task = asyncio.create_task(loop(), name=f"deskside-{name}")
    try:
        yield wakeup
    finally:
        stopping = True
        wakeup.wake()
        try:
            await asyncio.wait_for(asyncio.shield(task), stop_grace)
        except TimeoutError:
            logger.warning("background job %s still running after %ss: cancelled", name, stop_grace)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
