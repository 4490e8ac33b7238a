"""Alarms: both kinds end a wait at the deadline or on a ring, and VirtualTimers keep time."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from actors.scheduler import SchedulerActor
from greenhouse.config import IntegrationSettings
from greenhouse.messages import RunTask
from greenhouse.runtime import Actor, Bus, Clock, Mailbox
from greenhouse.runtime.alarms import Alarm, TrioAlarm, VirtualTimers

START = 1_800_000_000.0


@asynccontextmanager
async def alarms(kind: str) -> AsyncIterator[Callable[[], Alarm]]:
    """A factory of alarms of `kind`; for "virtual" ("virtual-public": trio's public statistics
    only), with the timers installed in the run."""
    if kind == "trio":
        yield TrioAlarm
        return
    timers = VirtualTimers()
    timers.install(private=kind == "virtual")
    try:
        yield timers.alarm
    finally:
        timers.uninstall()


KINDS = ["trio", "virtual", "virtual-public"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_wait_ends_at_its_deadline(autojump_clock: Any, kind: str) -> None:
    async with alarms(kind) as make:
        alarm = make()
        alarm.deadline = trio.current_time() + 42
        await alarm.wait()
        assert trio.current_time() == pytest.approx(42)
        await alarm.wait()  # a deadline already passed: returns at once
        assert trio.current_time() == pytest.approx(42)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_ring_ends_the_wait_early_or_the_next_one_at_once(
    autojump_clock: Any, kind: str
) -> None:
    async with alarms(kind) as make:
        alarm = make()
        alarm.deadline = math.inf
        alarm.ring()  # before the wait: the wait returns at once
        await alarm.wait()
        assert trio.current_time() == 0
        alarm.deadline = 100.0
        async with trio.open_nursery() as nursery:

            async def ring_later() -> None:
                await trio.sleep(7)
                alarm.ring()

            nursery.start_soon(ring_later)
            await alarm.wait()
        assert trio.current_time() == pytest.approx(7)
        alarm.deadline = 100.0  # the ring was used up: this wait runs to the deadline
        await alarm.wait()
        assert trio.current_time() == pytest.approx(100)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("moved_to", [5.0, 50.0])
async def test_a_deadline_moved_while_waiting_is_the_one_kept(
    autojump_clock: Any, kind: str, moved_to: float
) -> None:
    async with alarms(kind) as make:
        alarm = make()
        alarm.deadline = 20.0
        async with trio.open_nursery() as nursery:

            async def move() -> None:
                await trio.sleep(1)
                alarm.deadline = moved_to

            nursery.start_soon(move)
            await alarm.wait()
        assert trio.current_time() == pytest.approx(moved_to)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_cancelled_wait_is_cancelled_and_never_fires_later(
    autojump_clock: Any, kind: str
) -> None:
    async with alarms(kind) as make:
        alarm, other = make(), make()
        alarm.deadline = 10.0
        with trio.move_on_after(3) as scope:
            await alarm.wait()
        assert scope.cancelled_caught
        assert trio.current_time() == pytest.approx(3)
        other.deadline = 30.0
        await other.wait()  # the cancelled entry at 10 s wakes nobody on the way
        assert trio.current_time() == pytest.approx(30)
        if kind != "trio":  # the timers jumped once, straight to 30 (3 was autojump's)
            assert make.__self__.jumps == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["virtual", "trio"])
async def test_the_timers_let_wait_all_tasks_blocked_wake_first(
    autojump_clock: Any, kind: str
) -> None:
    """Idle means what trio means: a task in `wait_all_tasks_blocked` wakes before the clock
    moves to the next alarm (trio's autojump does the same for its own deadlines)."""
    async with alarms(kind) as make:

        async def ticker() -> None:
            alarm = make()
            while True:
                alarm.deadline = trio.current_time() + 1
                await alarm.wait()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            with trio.fail_after(100):  # (the clock running on past it would end here)
                await trio.testing.wait_all_tasks_blocked()
            assert trio.current_time() == 0
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("kind", ["virtual", "virtual-public"])
async def test_virtual_timers_keep_trio_deadlines_and_wake_every_tie(
    autojump_clock: Any, kind: str
) -> None:
    order: list[str] = []
    async with alarms(kind) as make:

        async def sleeper(name: str, deadline: float) -> None:
            alarm = make()
            alarm.deadline = deadline
            await alarm.wait()
            order.append(f"{name}@{trio.current_time():g}")

        async with trio.open_nursery() as nursery:
            for name in "abc":
                nursery.start_soon(sleeper, name, 5.0)
            with trio.move_on_after(2.5):  # a cancel scope's deadline still fires on time
                await trio.sleep_forever()
            order.append(f"scope@{trio.current_time():g}")
    # (the three tied alarms run in trio's batch order, which trio shuffles)
    assert order[0] == "scope@2.5" and sorted(order[1:]) == ["a@5", "b@5", "c@5"]


async def test_clock_sleep_with_timers_moves_the_same_virtual_time(autojump_clock: Any) -> None:
    timers = VirtualTimers()
    timers.install()
    clock = Clock(start_epoch=START, scale=60, timers=timers)
    clock.time()
    await clock.sleep(1800)  # 30 garden minutes: 30 trio seconds at 60x
    assert trio.current_time() == pytest.approx(30)
    assert clock.time() == pytest.approx(START + 1800)
    await clock.sleep(-5)  # nothing to wait: a schedule point only
    assert trio.current_time() == pytest.approx(30)
    timers.uninstall()
    assert timers.jumps == 1


async def test_virtual_timers_need_an_autojumping_mock_clock() -> None:
    with pytest.raises(RuntimeError, match="MockClock"):
        VirtualTimers().install()


def test_virtual_timers_refuse_a_mock_clock_that_does_not_autojump() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="autojump_threshold=0"):
            VirtualTimers().install()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=1.0))


class Owner(Actor):
    """Records when each run started and takes a while over it."""

    def __init__(self, name: str, inbox: Mailbox, seen: list[tuple[str, float]]) -> None:
        super().__init__(name, inbox)
        self.seen = seen

    async def handle(self, message: Any) -> Any:
        if isinstance(message, RunTask):
            self.seen.append((message.task_id, trio.current_time()))
            await self.clock.sleep(0.5)
        return None


async def _one_day(timers: VirtualTimers | None) -> tuple[list[tuple[str, float]], Counter[str]]:
    if timers is not None:
        timers.install()
    bus = Bus()
    seen: list[tuple[str, float]] = []
    names = ["health", "spotify", "mood", "github", "github_events", "wakatime", "weather",
             "social", "growth", "analytics", "cache", "privacy"]
    boxes = {name: bus.mailbox(name) for name in names}
    owners = [Owner(name, box, seen) for name, box in boxes.items()]
    clock = Clock(START, timers=timers)
    for owner in owners:
        owner.clock = clock
    scheduler = SchedulerActor(bus.mailbox("scheduler"), bus, clock=clock, seed=3)
    scheduler.schedule_default_tasks(IntegrationSettings(), boxes)
    async with trio.open_nursery() as nursery:
        for owner in owners:
            nursery.start_soon(owner.run)
        nursery.start_soon(scheduler.run)
        await trio.sleep(86400 - 1)
        nursery.cancel_scope.cancel()
    # Sorted: runs due at the same instant start in trio's (random) batch order.
    return sorted(seen), Counter(task for task, _ in seen)


def test_the_scheduler_runs_the_same_day_on_either_kind_of_alarm() -> None:
    """The simulation's timers change how waits end, not when: a day of the default schedule
    (jittered, with owners that take time) starts every run at the same virtual instant."""
    with_trio = trio.run(_one_day, None, clock=trio.testing.MockClock(autojump_threshold=0))
    timers = VirtualTimers()
    virtual = trio.run(_one_day, timers, clock=trio.testing.MockClock(autojump_threshold=0))
    assert with_trio[1]["spotify_sync"] == 2880 and with_trio[1]["mood_synthesis"] == 480
    assert virtual == with_trio
    assert timers.jumps > 5000  # the timers, not autojump, moved the clock to the runs
