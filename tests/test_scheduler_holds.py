"""The scheduler keeps an owner's `retry_after`: no retry, scheduled or manual run before it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import trio

from actors.scheduler import SchedulerActor
from greenhouse.messages import TaskFinished
from greenhouse.runtime import Clock
from greenhouse.scheduling import TaskDefinition

START = datetime(2026, 11, 26, tzinfo=UTC).timestamp()


class Service:
    """A task target that answers with scripted `(ok, retry_after)` pairs, then (True, None)."""

    def __init__(self, script: list[tuple[bool, float | None]]) -> None:
        self.script = list(script)
        self.starts: list[float] = []

    def target(self) -> Callable[[], Awaitable[TaskFinished]]:
        async def run() -> TaskFinished:
            self.starts.append(trio.current_time())
            ok, wait = self.script.pop(0) if self.script else (True, None)
            return TaskFinished(task_id="sync", execution_id="-", ok=ok,
                                error=None if ok else "HTTP 429", retry_after=wait)

        return run


def stats(scheduler: SchedulerActor) -> Any:
    return next(t for t in scheduler.get_scheduler_stats().tasks if t.task_id == "sync")


async def run_for(scheduler: SchedulerActor, seconds: float) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()


def scheduler_with(
    service: Service, *, interval: float, jitter: float = 0.0, retries: int = 2,
    backoff: float = 5.0, clock: Clock | None = None, holds: dict[str, float] | None = None,
    kind: type[SchedulerActor] = SchedulerActor,
) -> SchedulerActor:
    scheduler = kind(clock=clock or Clock(START), seed=3, not_before=holds)
    scheduler.register_task(TaskDefinition("sync", service.target(), max_retries=retries,
                                           retry_backoff=backoff, jitter=jitter))
    scheduler.schedule_task("sync", interval_seconds=interval)
    return scheduler


async def test_a_retry_waits_for_the_retry_after_not_the_backoff(autojump_clock: Any) -> None:
    service = Service([(False, 100.0)])
    scheduler = scheduler_with(service, interval=1000)
    t0 = trio.current_time()
    await run_for(scheduler, 150)
    # Backoff alone would have retried at 5 s, inside the server's window.
    assert [s - t0 for s in service.starts] == [0, 100]
    assert stats(scheduler).deferred == 1 and stats(scheduler).retries == 1


async def test_the_next_scheduled_run_waits_too(autojump_clock: Any) -> None:
    service = Service([(True, 250.0)])
    scheduler = scheduler_with(service, interval=100)
    t0 = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        await trio.sleep(150)
        held = stats(scheduler)
        assert held.pending and held.waiting_for == ("retry_after",)
        assert held.not_before == pytest.approx(START + 250)
        await trio.sleep(200)
        nursery.cancel_scope.cancel()
    # Due at 100 and 200, held to 250 (one run, the other coalesced), then back on phase.
    assert [s - t0 for s in service.starts] == [0, 250, 300]
    after = stats(scheduler)
    assert after.deferred == 1 and after.coalesced == 1 and after.not_before is None


async def test_a_hold_longer_than_the_period_drops_the_retry(autojump_clock: Any) -> None:
    service = Service([(False, 500.0)])
    scheduler = scheduler_with(service, interval=300)
    t0 = trio.current_time()
    await run_for(scheduler, 650)
    # No retry at all (it would wait past the next run anyway); the run due at 300 waits to 500.
    assert [s - t0 for s in service.starts] == [0, 500, 600]
    assert stats(scheduler).retries == 0 and stats(scheduler).failures == 1


async def test_a_manual_run_waits_for_the_hold(autojump_clock: Any) -> None:
    service = Service([(True, 60.0)])
    scheduler = scheduler_with(service, interval=3600)
    t0 = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        await trio.sleep(10)
        execution = scheduler.execute_task_now("sync")
        await trio.sleep(1)
        status = scheduler.get_task_status(execution)
        assert status is not None and status.status == "waiting"
        assert status.waiting_for == ("retry_after",)
        await trio.sleep(60)
        nursery.cancel_scope.cancel()
    assert [s - t0 for s in service.starts] == [0, 60]


async def test_a_wall_clock_jump_does_not_shorten_the_hold(autojump_clock: Any) -> None:
    clock = Clock(START)
    service = Service([(False, 600.0)])
    scheduler = scheduler_with(service, interval=1800, clock=clock)
    t0 = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        await trio.sleep(100)
        clock.jump(6 * 3600)  # NTP syncs: the wall clock leaps past the server's window
        await trio.sleep(700)
        nursery.cancel_scope.cancel()
    assert [s - t0 for s in service.starts] == [0, 600]


async def test_the_hold_outlives_a_scheduler_restart(autojump_clock: Any) -> None:
    holds: dict[str, float] = {}  # the tree passes one dict to every incarnation
    clock = Clock(START)
    service = Service([(False, 300.0)])
    first = scheduler_with(service, interval=1800, clock=clock, holds=holds, retries=0)
    t0 = trio.current_time()
    await run_for(first, 20)  # the run failed with Retry-After 300; then the scheduler died
    second = scheduler_with(service, interval=1800, clock=clock, holds=holds, retries=0)
    await run_for(second, 400)
    # A fresh scheduler runs an interval task at once, but not inside the server's window.
    assert [s - t0 for s in service.starts] == [0, 300]
    assert stats(second).not_before is None and stats(second).deferred == 1


async def test_the_first_run_is_immediate_whatever_the_jitter(autojump_clock: Any) -> None:
    service = Service([])
    scheduler = scheduler_with(service, interval=1800, jitter=600)
    t0 = trio.current_time()
    await run_for(scheduler, 1)
    assert [s - t0 for s in service.starts] == [0]


async def test_occurrences_inside_a_hold_are_counted_without_waking_the_loop(
    autojump_clock: Any,
) -> None:
    ticks: list[float] = []

    class Counting(SchedulerActor):
        def _tick(self) -> float:
            ticks.append(trio.current_time())
            return super()._tick()

    service = Service([(True, 300.0)])  # like the events feed's X-Poll-Interval
    scheduler = scheduler_with(service, interval=10, retries=0, backoff=30.0, kind=Counting)
    t0 = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        await trio.sleep(155)
        # Due every 10 s: the run due at 10 waits for the hold, 20..150 fold into it; the
        # stats count them though the loop did not wake for them.
        held = stats(scheduler)
        assert held.pending and held.waiting_for == ("retry_after",)
        assert held.coalesced == 14 and held.next_run == START + 160
        await trio.sleep(200)
        nursery.cancel_scope.cancel()
    assert [s - t0 for s in service.starts] == [0, 300, 310, 320, 330, 340, 350]
    final = stats(scheduler)
    assert final.coalesced == 29 and final.deferred == 1  # due at 20..300 while waiting
    # One wake at the start, one when the run at 10 is queued, one when the hold ends, and a
    # couple per run after it; not one per occurrence inside the hold.
    assert len([t for t in ticks if t - t0 < 300]) <= 4
