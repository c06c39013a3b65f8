"""The kit's snapshot of small tables: kept for a while, dropped on change."""

from __future__ import annotations

import asyncio

from deskside_kit.snapshot import Snapshot


class Loader:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        return self.calls


async def test_a_snapshot_is_read_once_within_its_time() -> None:
    snapshot: Snapshot[int] = Snapshot(ttl=60)
    load = Loader()
    assert [await snapshot.get(load) for _ in range(3)] == [1, 1, 1]
    assert load.calls == 1


async def test_no_time_means_every_get_reads() -> None:
    snapshot: Snapshot[int] = Snapshot(ttl=0)
    load = Loader()
    assert [await snapshot.get(load) for _ in range(3)] == [1, 2, 3]


async def test_invalidating_makes_the_next_get_read_again() -> None:
    snapshot: Snapshot[int] = Snapshot(ttl=60)
    load = Loader()
    await snapshot.get(load)
    snapshot.invalidate()
    assert await snapshot.get(load) == 2
    assert await snapshot.get(load) == 2


async def test_a_read_overtaken_by_a_change_is_not_kept() -> None:
    snapshot: Snapshot[str] = Snapshot(ttl=60)
    reading = asyncio.Event()
    release = asyncio.Event()

    async def slow_old_state() -> str:
        reading.set()
        await release.wait()
        return "before the change"

    async def new_state() -> str:
        return "after the change"

    slow = asyncio.create_task(snapshot.get(slow_old_state))
    await reading.wait()
    snapshot.invalidate()  # the change lands while the slow read is under way
    release.set()
    assert await slow == "before the change"  # its caller gets what it read ...
    assert await snapshot.get(new_state) == "after the change"  # ... nobody else does
