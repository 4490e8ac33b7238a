"""The scheduler drives the pollers in the real tree: first runs, early syncs, Retry-After holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import trio

from actors.tree import DEMO_CREDENTIAL, Garden, build_garden, run_garden
from greenhouse.config import (
    GitHubConfig,
    IntegrationSettings,
    Secret,
    WakaTimeConfig,
    WeatherConfig,
)
from greenhouse.messages import (
    CodingActivityObserved,
    CommitPushed,
    RunTask,
    SchedulerStats,
    SchedulerStatsRequest,
    ServiceStatusChanged,
    TaskFinished,
)
from greenhouse.runtime import Clock, Runnable, ask
from greenhouse.simulation.github import FakeGitHub
from tests.fake_wakatime import FakeWakaTime
from tests.fake_weather import FakeOpenWeatherMap

EPOCH = 1_785_573_885.0
WINDOW = 300.0  # the Retry-After the weather API answers first


class Fused:
    """Runs a child as usual; setting `fuse` crashes it (the supervisor then restarts it)."""

    def __init__(self, inner: Runnable) -> None:
        self.inner = inner
        self.fuse = trio.Event()

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._blow)
            await self.inner.run()

    async def _blow(self) -> None:
        await self.fuse.wait()
        raise RuntimeError("injected crash")


class RateLimitedOnce(httpx.AsyncBaseTransport):
    """The weather API, except that its first answer is 429 with `Retry-After: WINDOW`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, clock: Clock) -> None:
        self.inner = inner
        self.clock = clock
        self.sent: list[float] = []  # monotonic garden seconds of every request

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(self.clock.monotonic())
        if len(self.sent) == 1:
            return httpx.Response(429, headers={"Retry-After": f"{WINDOW:g}"},
                                  json={"message": "slow down"})
        return await self.inner.handle_async_request(request)


def task(stats: SchedulerStats, task_id: str) -> Any:
    return next(t for t in stats.tasks if t.task_id == task_id)


async def scheduler_stats(garden: Garden) -> SchedulerStats:
    stats = await ask(garden.mailbox("scheduler"), SchedulerStatsRequest(), timeout=10)
    assert isinstance(stats, SchedulerStats)
    return stats


async def test_a_restarted_poller_sends_nothing_inside_the_retry_after(
    autojump_clock: Any, tmp_path: Path
) -> None:
    clock = Clock(start_epoch=EPOCH)
    weather = FakeOpenWeatherMap(api_key=DEMO_CREDENTIAL)
    api = RateLimitedOnce(weather.transport(), clock)
    garden = build_garden(
        IntegrationSettings(weather=WeatherConfig(api_key=Secret(DEMO_CREDENTIAL), city="Lisbon")),
        clock=clock,
        db_path=str(tmp_path / "garden.db"),
        extras={"transports": {"weather": api}, "web": False},
    )
    spec = next(s for s in garden.root.specs if s.name == "weather")
    make, fused = spec.factory, []

    def factory() -> Fused:
        fused.append(Fused(make()))
        return fused[-1]

    spec.factory = factory
    status = garden.bus.subscribe("watch", (ServiceStatusChanged,), capacity=64)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        await clock.sleep(60)
        # The first sync met the 429 and failed at once; the scheduler holds weather_sync.
        assert api.sent == [0.0]
        held = task(await scheduler_stats(garden), "weather_sync")
        assert held.failures == 0 and held.running  # its retry waits for the window, not 30 s
        assert held.not_before is not None and abs(held.not_before - (EPOCH + WINDOW)) < 1
        fused[-1].fuse.set()  # the poller dies mid-backoff; its client's memory goes with it
        await clock.sleep(WINDOW - 60 - 1)
        assert len(fused) == 2  # restarted...
        assert api.sent == [0.0]  # ...and still nothing sent inside the window
        await clock.sleep(30)
        stats = task(await scheduler_stats(garden), "weather_sync")
        nursery.cancel_scope.cancel()
    assert api.sent[1] >= WINDOW and api.sent[1] < WINDOW + 5  # the retry, right after it
    assert stats.successes == 1 and stats.retries == 1 and stats.deferred == 1
    changes = []
    while len(status):
        changes.append(status.get_nowait())
    # The restarted poller remembers (through the tree) that weather was down: the recovery
    # is announced.
    assert [(c.service, c.available) for c in changes] == [("weather", False), ("weather", True)]


async def test_a_push_in_the_events_feed_asks_the_scheduler_for_an_early_sync(
    autojump_clock: Any, tmp_path: Path
) -> None:
    clock = Clock(start_epoch=EPOCH)
    fake = FakeGitHub(repo_count=2, time=clock.time)
    garden = build_garden(
        IntegrationSettings(github=GitHubConfig(username="octocat")),  # syncs every 1800 s
        clock=clock,
        db_path=str(tmp_path / "garden.db"),
        extras={"transports": {"github": fake.transport()}, "web": False},
    )
    pushes = garden.bus.subscribe("watch", (CommitPushed,), capacity=64)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        await clock.sleep(5)
        assert task(await scheduler_stats(garden), "github_sync").successes == 1  # at start-up
        fake.push("octocat/repo-1", commits=2)
        fake.events.insert(0, {
            "id": "4242", "type": "PushEvent", "actor": {"id": 1, "login": "octocat"},
            "repo": {"id": 1, "name": "octocat/repo-1"}, "payload": {"ref": "refs/heads/main"},
            "created_at": "2026-08-01T10:00:00Z",
        })
        await clock.sleep(180)  # the events feed is read every 60 s (X-Poll-Interval)
        stats = task(await scheduler_stats(garden), "github_sync")
        nursery.cancel_scope.cancel()
    assert stats.successes == 2 and stats.last_status == "succeeded"
    assert pushes.get_nowait().commit_count == 2


async def test_the_github_poller_passes_on_a_retry_after(autojump_clock: Any, tmp_path: Path) -> None:
    clock = Clock(start_epoch=EPOCH)
    fake = FakeGitHub(repo_count=1, time=clock.time)
    fake.fail_next(httpx.Response(429, headers={"Retry-After": "900"},
                                  json={"message": "secondary rate limit"}))
    garden = build_garden(
        IntegrationSettings(github=GitHubConfig(username="octocat")),
        clock=clock,
        db_path=str(tmp_path / "garden.db"),
        extras={"transports": {"github": fake.transport()}, "scheduler": False, "web": False},
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        reply = await ask(garden.mailbox("github"), RunTask(task_id="github_sync", execution_id="a"),
                          timeout=60)
        nursery.cancel_scope.cancel()
    assert isinstance(reply, TaskFinished) and not reply.ok
    assert reply.retry_after is not None and 899 <= reply.retry_after <= 900


async def test_wakatime_still_computing_asks_the_scheduler_for_an_early_run(
    autojump_clock: Any, tmp_path: Path
) -> None:
    clock = Clock(start_epoch=EPOCH)
    fake = FakeWakaTime()
    fake.stats_pending = True  # 202: WakaTime is still computing the range stats
    config = WakaTimeConfig(api_key=Secret("waka_key_1234"), api_base_url="https://waka.test/api/v1")
    garden = build_garden(
        IntegrationSettings(wakatime=config),  # syncs every 30 min
        clock=clock,
        db_path=str(tmp_path / "garden.db"),
        extras={"transports": {"wakatime": fake.transport()}, "web": False},
    )
    seen = garden.bus.subscribe("watch", (CodingActivityObserved,), capacity=64)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        await clock.sleep(150)
        fake.stats_pending = False
        await clock.sleep(25 * 60)
        stats = task(await scheduler_stats(garden), "wakatime_sync")
        nursery.cancel_scope.cancel()
    observed = []
    while len(seen):
        observed.append(seen.get_nowait())
    # At start-up, again after WakaTime's 120 s hint (twice), then the stats are in: back to
    # the 30-minute schedule.
    assert [round(m.observed_at - EPOCH) for m in observed] == [0, 120, 240]
    assert [m.stats_pending for m in observed] == [True, True, False]
    assert stats.runs == 3 and stats.successes == 3
