"""The scheduler actor under MockClock: counts, overlap, dependencies, jumps, timeouts, retries."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.scheduler import SchedulerActor
from greenhouse.config import IntegrationSettings
from greenhouse.messages import (
    ExecuteTaskNow,
    RunTask,
    SchedulerStats,
    SchedulerStatsRequest,
    TaskExecutionStatus,
    TaskFinished,
    TaskStatusRequest,
)
from greenhouse.runtime import Actor, AskError, Bus, Clock, Mailbox, ask
from greenhouse.scheduling import TaskDefinition, TaskPriority

START = datetime(2026, 11, 26, tzinfo=UTC).timestamp()  # a Thursday, 00:00 UTC
DAY = 86400.0


class Recorder:
    """Function targets that record when they ran and how many copies ran at once."""

    def __init__(self) -> None:
        self.starts: dict[str, list[float]] = defaultdict(list)
        self.ends: dict[str, list[float]] = defaultdict(list)
        self.active: Counter[str] = Counter()
        self.max_active: Counter[str] = Counter()
        self.order: list[str] = []

    def target(
        self, task_id: str, duration: float = 0.0, fail_first: int = 0, always_fail: bool = False
    ) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            self.active[task_id] += 1
            self.max_active[task_id] = max(self.max_active[task_id], self.active[task_id])
            self.starts[task_id].append(trio.current_time())
            self.order.append(task_id)
            try:
                await trio.sleep(duration)
                if always_fail or len(self.starts[task_id]) <= fail_first:
                    raise RuntimeError(f"{task_id} attempt {len(self.starts[task_id])} broke")
            finally:
                self.active[task_id] -= 1
                self.ends[task_id].append(trio.current_time())

        return run


async def run_for(scheduler: SchedulerActor, seconds: float, *others: Actor) -> None:
    """Run the scheduler (and owner actors) for `seconds` of virtual time."""
    async with trio.open_nursery() as nursery:
        for actor in others:
            nursery.start_soon(actor.run)
        nursery.start_soon(scheduler.run)
        await trio.sleep(seconds)
        nursery.cancel_scope.cancel()


def stats_of(scheduler: SchedulerActor, task_id: str) -> Any:
    return next(t for t in scheduler.get_scheduler_stats().tasks if t.task_id == task_id)


class Owner(Actor):
    """An owner following the convention: RunTask by ask, answer TaskFinished or None."""

    def __init__(self, name: str, inbox: Mailbox, counts: Counter[str], work: float = 0.5) -> None:
        super().__init__(name, inbox)
        self.counts = counts
        self.work = work

    async def handle(self, message: Any) -> Any:
        if isinstance(message, RunTask):
            self.counts[message.task_id] += 1
            await trio.sleep(self.work)
            if self.counts[message.task_id] % 2:
                return None  # None means it went well
            return TaskFinished(task_id=message.task_id, execution_id=message.execution_id,
                                ok=True, duration=self.work)
        return None


# --------------------------------------------------------------------------------------------


async def test_a_day_of_the_default_schedule_runs_exact_counts(autojump_clock: Any) -> None:
    bus = Bus()
    counts: Counter[str] = Counter()
    owner_names = ["health", "spotify", "mood", "github_poller", "wakatime", "weather",
                   "social", "growth", "analytics", "cache", "privacy"]
    boxes = {name: bus.mailbox(name) for name in owner_names}
    owners = [Owner(name, box, counts) for name, box in boxes.items()]
    scheduler = SchedulerActor(bus.mailbox("scheduler"), bus, clock=Clock(START), seed=11)
    scheduled = scheduler.schedule_default_tasks(IntegrationSettings(), boxes)
    assert len(scheduled) == 11  # github found as github_poller

    wall = time.perf_counter()
    await run_for(scheduler, DAY - 1, *owners)
    elapsed = time.perf_counter() - wall

    assert dict(counts) == {
        "mood_synthesis": 480, "health_checks": 288, "weather_sync": 96, "github_sync": 48,
        "wakatime_sync": 48, "growth_calculation": 24, "analytics_processing": 24,
        "spotify_sync": 2880, "social_sync": 24, "cache_maintenance": 1, "data_cleanup": 1,
    }
    for task in scheduler.get_scheduler_stats().tasks:
        assert task.runs == counts[task.task_id] == task.successes
        assert task.failures == task.skipped_overlaps == task.coalesced == 0
        assert task.max_duration == pytest.approx(0.5)
    # The issue asks for "well under a second"; bench/scheduler_day.py measures it. This bound
    # is only a generous end-to-end deadline for a loaded CI machine.
    assert elapsed < 30.0


async def test_a_task_never_overlaps_itself(autojump_clock: Any) -> None:
    rec = Recorder()
    scheduler = SchedulerActor(clock=Clock(START))
    scheduler.register_task(TaskDefinition("slow", rec.target("slow", duration=25), timeout=100))
    scheduler.schedule_task("slow", interval_seconds=10)
    t0 = trio.current_time()
    await run_for(scheduler, 95)
    assert rec.max_active["slow"] == 1
    assert [s - t0 for s in rec.starts["slow"]] == [0, 30, 60, 90]
    stats = stats_of(scheduler, "slow")
    assert stats.skipped_overlaps == 6  # due at 10, 20, 40, 50, 70, 80 while a run was in flight
    # The fourth run was still in flight when the scheduler stopped: it ends as cancelled.
    assert (stats.runs, stats.successes, stats.last_status) == (4, 3, "cancelled")


async def test_dependencies_run_first_within_the_cycle(autojump_clock: Any) -> None:
    rec = Recorder()
    scheduler = SchedulerActor(clock=Clock(START))
    scheduler.register_task(TaskDefinition("github_sync", rec.target("github_sync", 5)))
    scheduler.register_task(TaskDefinition("wakatime_sync", rec.target("wakatime_sync", 8)))
    scheduler.register_task(TaskDefinition(
        "growth_calculation", rec.target("growth_calculation", 1),
        priority=TaskPriority.CRITICAL, dependencies=("github_sync", "wakatime_sync"),
    ))
    for task_id in ("growth_calculation", "github_sync", "wakatime_sync"):
        scheduler.schedule_task(task_id, interval_seconds=3600)
    t0 = trio.current_time()
    await run_for(scheduler, 2 * 3600 + 60)
    growth = [s - t0 for s in rec.starts["growth_calculation"]]
    # Each cycle waits for both syncs of that cycle, even though growth is the most urgent task.
    assert growth == [8, 3608, 7208]
    for start in growth:
        for dep in ("github_sync", "wakatime_sync"):
            assert any(start - 3600 < end - t0 <= start for end in rec.ends[dep])


async def test_a_failing_dependency_holds_the_dependent(autojump_clock: Any) -> None:
    rec = Recorder()
    scheduler = SchedulerActor(clock=Clock(START))
    scheduler.register_task(TaskDefinition("github_sync", rec.target("github_sync",
                                                                     always_fail=True)))
    scheduler.register_task(TaskDefinition("growth_calculation", rec.target("growth"),
                                           dependencies=("github_sync", "wakatime_sync")))
    scheduler.schedule_task("github_sync", interval_seconds=600)
    scheduler.schedule_task("growth_calculation", interval_seconds=600)
    await run_for(scheduler, 1900)
    stats = stats_of(scheduler, "growth_calculation")
    # wakatime_sync is not registered (no poller in this garden): it does not block.
    assert stats.runs == 0 and stats.waiting_for == ("github_sync",)
    assert stats.coalesced == 3  # due again at 600, 1200, 1800 while still waiting
    assert stats_of(scheduler, "github_sync").failures == 4

    # A manual run does not wait for dependencies.
    execution_id = scheduler.execute_task_now("growth_calculation")
    await run_for(scheduler, 1)
    status = scheduler.get_task_status(execution_id)
    assert status is not None and status.status == "succeeded" and status.trigger == "manual"


def test_a_dependency_cycle_is_refused() -> None:
    scheduler = SchedulerActor()
    scheduler.register_task(TaskDefinition("a", Recorder().target("a"), dependencies=("b",)))
    scheduler.register_task(TaskDefinition("b", Recorder().target("b"), dependencies=("c",)))
    with pytest.raises(ValueError, match="dependency cycle"):
        scheduler.register_task(TaskDefinition("c", Recorder().target("c"), dependencies=("a",)))
    assert scheduler.task_ids == ["a", "b"]


async def test_missed_runs_coalesce_after_a_six_hour_clock_jump(autojump_clock: Any) -> None:
    rec = Recorder()
    clock = Clock(START)
    scheduler = SchedulerActor(clock=clock)
    scheduler.register_task(TaskDefinition("mood", rec.target("mood", 1)))
    scheduler.register_task(TaskDefinition("hourly", rec.target("hourly", 1)))
    scheduler.schedule_task("mood", interval_seconds=180)
    scheduler.schedule_task("hourly", interval_seconds=3600)
    t0 = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        await trio.sleep(1000)
        assert len(rec.starts["mood"]) == 6 and len(rec.starts["hourly"]) == 1
        clock.jump(6 * 3600)  # NTP sets the Pi's clock six hours forward
        await trio.sleep(100)
        nursery.cancel_scope.cancel()
    after = {task: [s - t0 for s in starts if s - t0 >= 1000] for task, starts in rec.starts.items()}
    # The jump wakes the scheduler at once (Clock.on_jump), at 1000: exactly one catch-up run
    # each, not 120 mood runs at once; then mood goes on at its phase.
    assert after == {"mood": [1000, 1080], "hourly": [1000]}
    assert stats_of(scheduler, "mood").coalesced == 119  # 120 occurrences were due, one ran
    assert stats_of(scheduler, "hourly").coalesced == 5
    # The phase is kept: the next mood run is one interval after the coalesced one.
    assert stats_of(scheduler, "mood").next_run == START + 1080 + 6 * 3600 + 180


async def test_the_loop_sleeps_until_the_next_due_task(autojump_clock: Any) -> None:
    ticks: list[float] = []

    class Counting(SchedulerActor):
        def _tick(self) -> float:
            ticks.append(trio.current_time())
            return super()._tick()

    rec = Recorder()
    scheduler = Counting(clock=Clock(START))
    scheduler.register_task(TaskDefinition("hourly", rec.target("hourly", 1)))
    scheduler.schedule_task("hourly", interval_seconds=3600)
    t0 = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        await trio.sleep(3 * 3600 + 10)
        nursery.cancel_scope.cancel()
    assert [s - t0 for s in rec.starts["hourly"]] == [0, 3600, 7200, 10800]
    # A wake-up per run (and the start), not one a minute to look for a clock jump.
    assert len(ticks) <= 2 * 4


async def test_a_backward_clock_jump_does_not_stall_intervals(autojump_clock: Any) -> None:
    rec = Recorder()
    clock = Clock(START)
    scheduler = SchedulerActor(clock=clock)
    scheduler.register_task(TaskDefinition("tick", rec.target("tick")))
    scheduler.schedule_task("tick", interval_seconds=60)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        await trio.sleep(100)
        clock.jump(-3 * 3600)
        await trio.sleep(300)
        nursery.cancel_scope.cancel()
    assert len(rec.starts["tick"]) == 7  # 0, 60, then 120..360 as if nothing happened


async def test_a_timeout_cancels_the_run(autojump_clock: Any) -> None:
    cancelled_at: list[float] = []

    async def stuck() -> None:
        try:
            await trio.sleep(1000)
        except trio.Cancelled:
            cancelled_at.append(trio.current_time())
            raise

    scheduler = SchedulerActor(clock=Clock(START))
    scheduler.register_task(TaskDefinition("stuck", stuck, timeout=10))
    t0 = trio.current_time()
    execution_id = scheduler.execute_task_now("stuck")
    await run_for(scheduler, 30)
    assert [t - t0 for t in cancelled_at] == [10]
    status = scheduler.get_task_status(execution_id)
    assert status is not None
    assert (status.status, status.duration) == ("timed_out", 10)
    assert status.error == "timed out after 10s"
    stats = stats_of(scheduler, "stuck")
    assert (stats.timeouts, stats.failures, stats.running) == (1, 1, False)


async def test_an_owner_that_never_answers_times_out_and_the_scheduler_goes_on(
    autojump_clock: Any,
) -> None:
    class Silent(Actor):
        async def handle(self, message: Any) -> Any:
            await trio.sleep(float("inf"))

    bus = Bus()
    box = bus.mailbox("silent")
    rec = Recorder()
    scheduler = SchedulerActor(clock=Clock(START))
    scheduler.register_task(TaskDefinition("silent_sync", box, timeout=20))
    scheduler.register_task(TaskDefinition("other", rec.target("other")))
    scheduler.schedule_task("silent_sync", interval_seconds=60)
    scheduler.schedule_task("other", interval_seconds=60)
    await run_for(scheduler, 150, Silent("silent", box))
    stats = stats_of(scheduler, "silent_sync")
    assert stats.runs == 3 and stats.timeouts == 3 and stats.successes == 0
    assert len(rec.starts["other"]) == 3


async def test_a_late_answer_is_dropped_and_a_stopped_scheduler_cancels_what_runs(
    autojump_clock: Any,
) -> None:
    class Slow(Actor):
        """Answers after `work` seconds; the first run is late (past the 20 s timeout)."""

        def __init__(self, inbox: Mailbox) -> None:
            super().__init__("slow", inbox)
            self.answered = 0

        async def handle(self, message: Any) -> Any:
            await trio.sleep(30 if self.answered == 0 else 5)
            self.answered += 1
            return None

    bus = Bus()
    box = bus.mailbox("slow")
    owner = Slow(box)
    scheduler = SchedulerActor(clock=Clock(START))
    scheduler.register_task(TaskDefinition("sync", box, timeout=20, max_retries=1,
                                           retry_backoff=15))
    first = scheduler.execute_task_now("sync")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(owner.run)
        nursery.start_soon(scheduler.run)
        await trio.sleep(36)  # timed out at 20, retried at 35: the late answer (30) is dropped
        retrying = stats_of(scheduler, "sync")
        assert (retrying.timeouts, retrying.retries, retrying.running) == (1, 1, True)
        assert scheduler.get_task_status(first).attempts == 2  # type: ignore[union-attr]
        await trio.sleep(10)
        second = scheduler.execute_task_now("sync")
        await trio.sleep(1)  # stop while the owner works on it
        nursery.cancel_scope.cancel()
    done, stopped = scheduler.get_task_status(first), scheduler.get_task_status(second)
    assert done is not None and stopped is not None
    assert (done.status, done.attempts, done.duration) == ("succeeded", 2, 5)
    assert (stopped.status, stopped.error) == ("cancelled", "the scheduler stopped during the run")
    stats = stats_of(scheduler, "sync")
    assert (stats.runs, stats.successes, stats.failures, stats.running) == (2, 1, 0, False)
    assert stats.last_status == "cancelled" and scheduler.get_scheduler_stats().running == 0


async def test_an_owner_with_a_full_mailbox_gets_its_run_when_there_is_room(
    autojump_clock: Any,
) -> None:
    bus = Bus()
    box = bus.mailbox("busy", capacity=1)
    box.put_nowait("something queued before")  # full: the run cannot be sent at once
    counts: Counter[str] = Counter()
    owner = Owner("busy", box, counts, work=2)
    scheduler = SchedulerActor(clock=Clock(START))
    scheduler.register_task(TaskDefinition("sync", box, timeout=30))
    execution_id = scheduler.execute_task_now("sync")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        await trio.sleep(5)  # the owner is not reading yet: the run waits for room
        waiting = scheduler.get_task_status(execution_id)
        assert waiting is not None and waiting.status == "running" and not counts
        nursery.start_soon(owner.run)
        await trio.sleep(5)
        nursery.cancel_scope.cancel()
    done = scheduler.get_task_status(execution_id)
    assert done is not None and (done.status, done.duration) == ("succeeded", 7)
    assert counts == {"sync": 1}


async def test_failures_retry_with_backoff(autojump_clock: Any) -> None:
    rec = Recorder()
    scheduler = SchedulerActor(clock=Clock(START))
    scheduler.register_task(TaskDefinition("flaky", rec.target("flaky", fail_first=2),
                                           max_retries=3, retry_backoff=30))
    scheduler.register_task(TaskDefinition("broken", rec.target("broken", always_fail=True),
                                           max_retries=2, retry_backoff=30))
    t0 = trio.current_time()
    flaky = scheduler.execute_task_now("flaky")
    broken = scheduler.execute_task_now("broken")
    await run_for(scheduler, 200)
    assert [s - t0 for s in rec.starts["flaky"]] == [0, 30, 90]  # waits 30 s, then 60 s
    assert [s - t0 for s in rec.starts["broken"]] == [0, 30, 90]  # gives up after 2 retries
    flaky_status = scheduler.get_task_status(flaky)
    broken_status = scheduler.get_task_status(broken)
    assert flaky_status is not None and broken_status is not None
    assert (flaky_status.status, flaky_status.attempts) == ("succeeded", 3)
    assert (broken_status.status, broken_status.attempts) == ("failed", 3)
    assert broken_status.error == "RuntimeError: broken attempt 3 broke"
    assert (stats_of(scheduler, "flaky").retries, stats_of(scheduler, "flaky").failures) == (2, 0)
    assert (stats_of(scheduler, "broken").retries, stats_of(scheduler, "broken").failures) == (2, 1)


async def test_owner_reports_failure_or_raises(autojump_clock: Any) -> None:
    class Unhappy(Actor):
        async def handle(self, message: Any) -> Any:
            if message.task_id == "reported":
                return TaskFinished(task_id=message.task_id, execution_id=message.execution_id,
                                    ok=False, error="API returned 502")
            if message.task_id == "boolean":
                return False  # like the GitHub poller's sync() result
            raise ValueError("no data")

    bus = Bus()
    box = bus.mailbox("unhappy")
    scheduler = SchedulerActor(clock=Clock(START))
    scheduler.register_task(TaskDefinition("reported", box))
    scheduler.register_task(TaskDefinition("raised", box))
    reported = scheduler.execute_task_now("reported")
    scheduler.register_task(TaskDefinition("boolean", box))
    raised = scheduler.execute_task_now("raised")
    boolean = scheduler.execute_task_now("boolean")
    await run_for(scheduler, 5, Unhappy("unhappy", box))
    first, second = scheduler.get_task_status(reported), scheduler.get_task_status(raised)
    third = scheduler.get_task_status(boolean)
    assert first is not None and second is not None and third is not None
    assert (first.status, first.error) == ("failed", "API returned 502")
    assert (second.status, second.error) == ("failed", "ValueError: no data")
    assert (third.status, third.error) == ("failed", "the owner reported a failure")


async def test_higher_priority_runs_first(autojump_clock: Any) -> None:
    rec = Recorder()
    scheduler = SchedulerActor(clock=Clock(START), max_concurrent=1)
    for name, priority in [("low", TaskPriority.LOW), ("normal", TaskPriority.NORMAL),
                           ("high", TaskPriority.HIGH), ("critical", TaskPriority.CRITICAL)]:
        scheduler.register_task(TaskDefinition(name, rec.target(name, 2), priority=priority))
        scheduler.schedule_task(name, interval_seconds=3600)
    await run_for(scheduler, 20)
    assert rec.order == ["critical", "high", "normal", "low"]


async def test_cron_runs_at_two_in_the_configured_zone(autojump_clock: Any) -> None:
    clock = Clock(START)
    ran_at: list[float] = []

    async def maintenance() -> None:
        ran_at.append(clock.time())

    scheduler = SchedulerActor(clock=clock, timezone="Europe/Berlin")
    scheduler.register_task(TaskDefinition("cache_maintenance", maintenance))
    scheduler.schedule_task("cache_maintenance", cron_expression="0 2 * * *")
    await run_for(scheduler, 2 * DAY)
    berlin = ZoneInfo("Europe/Berlin")
    local = [datetime.fromtimestamp(t, berlin) for t in ran_at]
    assert [d.isoformat() for d in local] == [
        "2026-11-26T02:00:00+01:00", "2026-11-27T02:00:00+01:00"
    ]
    assert ran_at[0] == START + 3600  # 02:00 in Berlin is 01:00 UTC in November


async def test_execute_task_now_returns_an_id_whose_status_can_be_read(
    autojump_clock: Any,
) -> None:
    rec = Recorder()
    scheduler = SchedulerActor(clock=Clock(START))
    scheduler.register_task(TaskDefinition("github_sync", rec.target("github_sync", 5)))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        execution_id = scheduler.execute_task_now("github_sync")
        queued = scheduler.get_task_status(execution_id)
        assert queued is not None and queued.status == "queued"
        await trio.sleep(1)
        running = scheduler.get_task_status(execution_id)
        assert running is not None and running.status == "running"
        # A second request while it runs is queued behind it, never run alongside.
        second = scheduler.execute_task_now("github_sync")
        assert second != execution_id
        await trio.sleep(20)
        nursery.cancel_scope.cancel()
    done = scheduler.get_task_status(execution_id)
    assert isinstance(done, TaskExecutionStatus)
    assert (done.status, done.attempts, done.duration, done.trigger) == (
        "succeeded", 1, 5, "manual"
    )
    assert done.started_at == START and done.finished_at == START + 5
    after = scheduler.get_task_status(second)
    assert after is not None and after.status == "succeeded" and after.started_at == START + 5
    assert rec.max_active["github_sync"] == 1
    assert scheduler.get_task_status("no-such-id") is None


async def test_the_scheduler_answers_asks(autojump_clock: Any) -> None:
    bus = Bus()
    box = bus.mailbox("scheduler")
    rec = Recorder()
    scheduler = SchedulerActor(box, bus, clock=Clock(START))
    scheduler.register_task(TaskDefinition("weather_sync", rec.target("weather_sync", 3)))
    scheduler.schedule_task("weather_sync", interval_seconds=900)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        await trio.sleep(10)
        execution_id = await ask(box, ExecuteTaskNow(task_id="weather_sync"))
        assert isinstance(execution_id, str)
        await trio.sleep(10)
        status = await ask(box, TaskStatusRequest(execution_id=execution_id))
        stats = await ask(box, SchedulerStatsRequest())
        with pytest.raises(AskError, match="no task registered as 'nope'"):
            await ask(box, ExecuteTaskNow(task_id="nope"))
        nursery.cancel_scope.cancel()
    assert isinstance(status, TaskExecutionStatus) and status.status == "succeeded"
    assert isinstance(stats, SchedulerStats)
    (weather,) = stats.tasks
    assert (weather.runs, weather.successes, weather.schedule) == (2, 2, "every 900s")
    assert weather.mean_duration == 3 and weather.max_duration == 3
    assert weather.last_run == START + 10 and weather.next_run == START + 900
    assert weather.priority == "normal" and stats.timezone == "UTC"


# --------------------------------------------------------------------------------------------
# Property: for random task sets and durations, no task runs concurrently with itself, and
# every due occurrence is accounted for (run, skipped as an overlap, or coalesced) and runs.


@settings(max_examples=25)
@given(
    tasks=st.lists(
        st.tuples(
            st.integers(30, 600),  # interval
            st.integers(0, 900),  # duration (may exceed the interval)
            st.sampled_from(list(TaskPriority)),
            st.floats(0, 20),  # jitter
        ),
        min_size=1,
        max_size=5,
    ),
    max_concurrent=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_property_no_self_overlap_and_every_due_task_runs(
    tasks: list[tuple[int, int, TaskPriority, float]], max_concurrent: int, seed: int
) -> None:
    horizon = 3000.5
    rec = Recorder()
    scheduler = SchedulerActor(clock=Clock(START), max_concurrent=max_concurrent, seed=seed)

    async def scenario() -> None:
        for index, (interval, duration, priority, jitter) in enumerate(tasks):
            name = f"t{index}"
            scheduler.register_task(TaskDefinition(
                name, rec.target(name, duration), priority=priority,
                timeout=duration + 10, jitter=jitter,
            ))
            scheduler.schedule_task(name, interval_seconds=interval)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(scheduler.run)
            await trio.sleep(horizon)
            accounted = {}
            for index in range(len(tasks)):
                stats = stats_of(scheduler, f"t{index}")
                accounted[index] = (stats.runs + stats.skipped_overlaps + stats.coalesced
                                    + stats.pending)
                scheduler.set_schedule(f"t{index}", None)  # stop; what is waiting must drain
            await trio.sleep(20 * 900 + 600)
            nursery.cancel_scope.cancel()
        for index, (interval, _, _, jitter) in enumerate(tasks):
            # Occurrences k*interval + jitter_k (jitter_k < min(jitter, interval/2)) that fell
            # due within the horizon; only the last one can straddle it.
            due = int(horizon // interval) + 1
            straddles = (due - 1) * interval + min(jitter, interval / 2) >= horizon
            assert accounted[index] in ({due - 1, due} if straddles else {due})

    trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
    for index in range(len(tasks)):
        name = f"t{index}"
        assert rec.max_active[name] == 1
        stats = stats_of(scheduler, name)
        assert not stats.pending and not stats.running and stats.runs >= 1
        assert len(rec.starts[name]) == stats_of(scheduler, name).runs


async def test_a_scaled_clock_runs_the_schedule_in_garden_time(autojump_clock: Any) -> None:
    clock = Clock(START, scale=60.0)  # the demo: a garden half hour is 30 real seconds
    ran_at: list[float] = []

    async def sync() -> None:
        ran_at.append(clock.time())
        await clock.sleep(600)  # ten garden minutes of work

    scheduler = SchedulerActor(clock=clock)
    scheduler.register_task(TaskDefinition("github_sync", sync, timeout=900))
    scheduler.schedule_task("github_sync", interval_seconds=1800)
    t0 = trio.current_time()
    await run_for(scheduler, 95)  # trio seconds: 5700 garden seconds
    assert [t - START for t in ran_at] == [0, 1800, 3600, 5400]
    assert trio.current_time() - t0 == 95
    assert stats_of(scheduler, "github_sync").max_duration == pytest.approx(600)


async def test_a_stray_message_does_not_crash_the_scheduler(autojump_clock: Any) -> None:
    bus = Bus()
    box = bus.mailbox("scheduler")
    scheduler = SchedulerActor(box, bus, clock=Clock(START))
    scheduler.register_task(TaskDefinition("tick", Recorder().target("tick")))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        await box.put(RunTask(task_id="tick", execution_id="x"))  # not for the scheduler
        with pytest.raises(AskError, match="does not handle RunTask"):
            await ask(box, RunTask(task_id="tick", execution_id="y"))
        stats = await ask(box, SchedulerStatsRequest())
        nursery.cancel_scope.cancel()
    assert [t.task_id for t in stats.tasks] == ["tick"]
