"""Periodic jobs woken on demand: a wake starts a round now, wakes never pile up or get lost."""

from __future__ import annotations

import asyncio
import time

from deskside_kit.background import Wakeup, periodically

# Long enough that no tick happens during a test: every round below is a wake's doing.
NO_TICK = 60.0


class Rounds:
    """A job that counts its rounds; while `gate` is closed a round waits on it."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.begun = asyncio.Event()
        self.changed = asyncio.Event()

    async def __call__(self) -> None:
        self.started += 1
        self.begun.set()
        self.changed.set()
        await self.gate.wait()
        self.finished += 1
        self.changed.set()

    async def wait_until(self, finished: int, within: float = 2.0) -> None:
        async with asyncio.timeout(within):
            while self.finished < finished:
                self.changed.clear()
                await self.changed.wait()


class TestWakeup:
    async def test_a_wake_starts_a_round_at_once_rather_than_at_the_next_tick(self) -> None:
        rounds = Rounds()

        async with periodically("test", NO_TICK, rounds) as wakeup:
            await asyncio.sleep(0.05)
            assert rounds.started == 0
            begun = time.monotonic()
            wakeup.wake()
            await rounds.wait_until(1)

        assert time.monotonic() - begun < 0.5

    async def test_wakes_during_a_round_make_one_more_round_right_after_it(self) -> None:
        rounds = Rounds()

        async with periodically("test", NO_TICK, rounds) as wakeup:
            rounds.gate.clear()
            wakeup.wake()
            await rounds.begun.wait()
            for _ in range(5):
                wakeup.wake()
            rounds.gate.set()
            await rounds.wait_until(2)
            # No busy loop: the five wakes were one round, and nothing follows it.
            await asyncio.sleep(0.3)

        assert rounds.started == rounds.finished == 2

    async def test_a_wake_before_the_loop_first_waits_is_not_lost(self) -> None:
        rounds = Rounds()
        wakeup = Wakeup()
        wakeup.wake()

        async with periodically("test", NO_TICK, rounds, wakeup=wakeup) as handed_back:
            await rounds.wait_until(1)

        assert handed_back is wakeup

    async def test_the_ticks_go_on_without_wakes(self) -> None:
        rounds = Rounds()

        async with periodically("test", 0.02, rounds):
            await rounds.wait_until(3)

    async def test_a_failing_round_does_not_stop_later_wakes(self) -> None:
        first, second = asyncio.Event(), asyncio.Event()

        async def job() -> None:
            if not first.is_set():
                first.set()
                raise RuntimeError("the first round fails")
            second.set()

        async with periodically("test", NO_TICK, job) as wakeup:
            wakeup.wake()
            await first.wait()
            wakeup.wake()
            await asyncio.wait_for(second.wait(), 2)

    async def test_stopping_is_prompt_while_idle_and_runs_nothing_more(self) -> None:
        rounds = Rounds()

        begun = time.monotonic()
        async with periodically("test", NO_TICK, rounds) as wakeup:
            await asyncio.sleep(0.05)
        stopped_after = time.monotonic() - begun
        wakeup.wake()
        await asyncio.sleep(0.1)

        assert stopped_after < 1
        assert rounds.started == 0
