"""Small, rarely changed tables every request needs, read once per few seconds.

SLA policies, for one: every ticket read and every create needs them, and
reading them costs a query per request (about a tenth of a ticket read's CPU).
A `Snapshot` keeps what a loader returned for `ttl` seconds in this process. A
change made through this process is seen at once (`invalidate`); one made
through another replica, within `ttl` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Snapshot(Generic[T]):
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._value: T | None = None
        self._expires_at = 0.0
        # Bumped by `invalidate`: a load that began before it is not kept.
        self._generation = 0

    async def get(self, load: Callable[[], Awaitable[T]]) -> T:
        now = time.monotonic()
        if self._value is not None and now < self._expires_at:
            return self._value
        generation = self._generation
        value = await load()
        if generation == self._generation:
            self._value, self._expires_at = value, now + self.ttl
        return value

    def invalidate(self) -> None:
        self._value = None
        self._generation += 1
