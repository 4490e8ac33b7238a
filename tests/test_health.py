"""The health actor: heartbeats on the scheduler's `health_checks` runs or its own timer."""

from __future__ import annotations

from typing import Any

import trio

from actors.health import HEALTH_TASK, HealthActor, StatusRequest
from greenhouse.messages import Heartbeat, RunTask
from greenhouse.runtime import Bus, Clock, ask

START = 1_790_000_000.0


async def _beats_seen(interval: float | None, run_tasks: list[str], wait: float) -> tuple[
    list[Heartbeat], dict[str, Any]
]:
    bus = Bus()
    box = bus.mailbox("health")
    beats = bus.subscribe("watcher", (Heartbeat,), capacity=64)
    actor = HealthActor(box, bus, clock=Clock(START), interval=interval)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        for task_id in run_tasks:
            await trio.sleep(10)
            assert await ask(box, RunTask(task_id=task_id, execution_id="x")) is None
        await trio.sleep(wait)
        report = await ask(box, StatusRequest())
        nursery.cancel_scope.cancel()
    seen = []
    while True:
        try:
            seen.append(beats.get_nowait())
        except trio.WouldBlock:
            return seen, report


async def test_without_a_timer_each_health_checks_run_is_one_beat(autojump_clock: Any) -> None:
    seen, report = await _beats_seen(None, [HEALTH_TASK, "spotify_sync", HEALTH_TASK], 3600)
    # An hour passes and no beat comes on its own; another task's run is not a beat. (The
    # clock starts at its first reading, the first beat.)
    assert [(b.sequence, b.at - START) for b in seen] == [(1, 0.0), (2, 20.0)]
    assert (report["heartbeat"], report["heartbeat_at"]) == (2, START + 20)


async def test_with_an_interval_it_beats_on_its_own(autojump_clock: Any) -> None:
    seen, report = await _beats_seen(30.0, [], 95)
    assert [(b.sequence, b.at - START) for b in seen] == [(1, 0), (2, 30), (3, 60), (4, 90)]
    assert report["heartbeat"] == 4


async def test_the_report_before_any_beat(autojump_clock: Any) -> None:
    _seen, report = await _beats_seen(None, [], 0)
    assert (report["heartbeat"], report["heartbeat_at"]) == (0, None)
    assert report["tree"] is None and report["services"] == {}
