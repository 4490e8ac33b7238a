"""The WakaTime and social pollers in small supervision trees under trio's MockClock."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from actors.social import SocialPoller
from actors.tree import build_garden
from actors.wakatime import WakaTimePoller
from greenhouse.config import IntegrationSettings, Secret, WakaTimeConfig
from greenhouse.messages import (
    CodingActivity,
    CodingActivityObserved,
    RepositoriesObserved,
    RepositorySnapshot,
    RunTask,
    ServiceStatusChanged,
    SocialActivity,
    SocialActivityObserved,
)
from greenhouse.runtime import Bus, Clock, Mailbox, Supervisor
from greenhouse.services.social import SocialService
from greenhouse.services.wakatime import WakaTimeService
from tests.fake_social import NOW, FakeSocialWorld, config
from tests.fake_wakatime import FakeWakaTime
from tests.poller_tree import Collector, run_tree

HOUR = 3600.0
WAKA_START = 1674993600.0  # 2023-01-29 12:00 UTC, the WakaTime fixtures' day


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def wakatime_poller(fake: FakeWakaTime) -> Callable[[Bus, Mailbox, Clock], WakaTimePoller]:
    def make(bus: Bus, box: Mailbox, clock: Clock) -> WakaTimePoller:
        service = WakaTimeService(
            WakaTimeConfig(api_key=Secret("waka_key_1234"), api_base_url="https://waka.test/api/v1"),
            transport=fake.transport(),
            clock=clock,
            rng=random.Random(5),
        )
        return WakaTimePoller(box, bus, service, clock, interval=30 * 60.0, days=3)

    return make


def social_poller(world: FakeSocialWorld) -> Callable[[Bus, Mailbox, Clock], SocialPoller]:
    def make(bus: Bus, box: Mailbox, clock: Clock) -> SocialPoller:
        service = SocialService(
            config(), transport=httpx.MockTransport(world), clock=clock, rng=random.Random(5)
        )
        return SocialPoller(box, bus, service, clock, interval=HOUR)

    return make


WAKA_TYPES = (CodingActivityObserved, CodingActivity, ServiceStatusChanged)
SOCIAL_TYPES = (SocialActivityObserved, SocialActivity, ServiceStatusChanged)


async def test_wakatime_publishes_every_30_min_and_changes_only_on_change(autojump_clock) -> None:
    fake = FakeWakaTime()

    async def script(seen: Collector, root: Supervisor, bus: Bus) -> None:
        await trio.sleep(HOUR + 60)  # polls at 0, 30 and 60 min
        observed = seen.of(CodingActivityObserved)
        assert [round(m.observed_at - WAKA_START) for m in observed] == [0, 1800, 3600]
        first = observed[0]
        assert first.projects[0].name == "wakatime-cli"
        assert first.today_seconds == pytest.approx(8256.598, abs=0.01)
        assert first.languages["Python"] == 117742.732685  # from the real 7-day stats
        assert not first.stats_pending
        assert len(seen.of(CodingActivity)) == 1  # nothing changed after the first poll
        event = seen.of(CodingActivity)[0]
        assert event.source == "wakatime_sync" and event.top_project == "wakatime-cli"

        fake.today_seconds += 60  # a minute more: not worth telling viewers
        await trio.sleep(30 * 60)
        assert len(seen.of(CodingActivity)) == 1
        fake.today_seconds += 20 * 60  # twenty minutes more: a change
        await trio.sleep(30 * 60)
        events = seen.of(CodingActivity)
        assert len(events) == 2
        assert events[1].today_seconds == pytest.approx(8256.598 + 21 * 60, abs=0.01)
        assert events[1].intensity > events[0].intensity
        assert not seen.of(ServiceStatusChanged)

    await run_tree(wakatime_poller(fake), WAKA_START, WAKA_TYPES, script)


async def test_wakatime_202_stats_retried_sooner(autojump_clock) -> None:
    fake = FakeWakaTime()
    fake.stats_pending = True

    async def script(seen: Collector, root: Supervisor, bus: Bus) -> None:
        await trio.sleep(150)
        observed = seen.of(CodingActivityObserved)
        assert [round(m.observed_at - WAKA_START) for m in observed] == [0, 120]
        assert all(m.stats_pending for m in observed)
        assert not seen.of(ServiceStatusChanged)  # computing is not an outage
        fake.stats_pending = False
        await trio.sleep(120)  # the retry at 240 s gets the stats; then back to 30 min
        observed = seen.of(CodingActivityObserved)
        assert not observed[-1].stats_pending
        count = len(observed)
        await trio.sleep(25 * 60)
        assert len(seen.of(CodingActivityObserved)) == count

    await run_tree(wakatime_poller(fake), WAKA_START, WAKA_TYPES, script)


async def test_wakatime_survives_an_hour_of_failure_then_recovers(autojump_clock) -> None:
    fake = FakeWakaTime()

    async def script(seen: Collector, root: Supervisor, bus: Bus) -> None:
        await trio.sleep(5)
        poller = root.child("poller")
        good = poller.last_data
        assert good is not None
        fake.failing = httpx.Response(503, text="maintenance")
        await trio.sleep(HOUR)
        status = seen.of(ServiceStatusChanged)
        assert len(status) == 1 and not status[0].available and "503" in status[0].error
        assert root.child("poller") is poller  # never crashed, never restarted
        assert poller.last_data is good  # last good data kept
        assert poller.failures >= 2  # kept its schedule while down
        fake.failing = None
        await trio.sleep(30 * 60)
        status = seen.of(ServiceStatusChanged)
        assert len(status) == 2 and status[1].available
        assert poller.last_data is not good

    await run_tree(wakatime_poller(fake), WAKA_START, WAKA_TYPES, script)


async def test_wakatime_run_task(autojump_clock) -> None:
    fake = FakeWakaTime()

    async def script(seen: Collector, root: Supervisor, bus: Bus) -> None:
        await trio.sleep(10)
        before = len(seen.of(CodingActivityObserved))
        await bus.publish(RunTask(task_id="social_sync", execution_id="x0"))  # not ours
        await bus.publish(RunTask(task_id="wakatime_sync", execution_id="x1"))
        await trio.sleep(1)
        assert len(seen.of(CodingActivityObserved)) == before + 1

    await run_tree(wakatime_poller(fake), WAKA_START, WAKA_TYPES, script)


async def test_social_publishes_hourly_and_activity_only_for_new_posts(autojump_clock) -> None:
    world = FakeSocialWorld()

    async def script(seen: Collector, root: Supervisor, bus: Bus) -> None:
        await trio.sleep(2 * HOUR + 60)  # polls at 0, 1 h, 2 h
        observed = seen.of(SocialActivityObserved)
        assert [round(m.observed_at - NOW) for m in observed] == [0, 3600, 7200]
        # The fixtures' posts are a day or more old: nothing new to announce after a start.
        assert seen.of(SocialActivity) == []
        assert observed[0].summary.posts_by_source == {"bluesky": 2, "linkedin": 1, "twitter": 2}
        # Everything is unseen on the first poll (it goes to the history), nothing after.
        assert len(observed[0].new_posts) == 9 and observed[1].new_posts == ()

        world.post_status("99", "2026-11-26T10:00:00.000Z", "<p>Trying #rust on a Pi</p>")
        await trio.sleep(HOUR)
        (activity,) = seen.of(SocialActivity)
        assert activity.new_posts == 1 and activity.by_source == {"mastodon": 1}
        assert activity.source == "social_sync"
        latest = seen.of(SocialActivityObserved)[-1]
        assert [p.id for p in latest.new_posts] == ["99"]
        assert "rust" in activity.top_topics

        await trio.sleep(HOUR)  # unchanged: no new event
        assert len(seen.of(SocialActivity)) == 1

    await run_tree(social_poller(world), NOW, SOCIAL_TYPES, script)


async def test_social_trends_match_repositories(autojump_clock) -> None:
    world = FakeSocialWorld()

    async def script(seen: Collector, root: Supervisor, bus: Bus) -> None:
        await trio.sleep(1)
        await bus.publish(
            RepositoriesObserved(
                repositories=(
                    RepositorySnapshot(full_name="me/garden", name="garden", language="Rust",
                                       topics=("kubernetes",)),
                ),
            )
        )
        await bus.publish(RunTask(task_id="social_sync", execution_id="s1"))
        await trio.sleep(1)
        latest = seen.of(SocialActivityObserved)[-1]
        assert latest.trends.matching_your_work == ("kubernetes", "rust")

    await run_tree(social_poller(world), NOW, SOCIAL_TYPES, script,
                   subscribe=(RunTask, RepositoriesObserved))


async def test_social_survives_an_hour_of_failure_then_recovers(autojump_clock) -> None:
    world = FakeSocialWorld()

    async def script(seen: Collector, root: Supervisor, bus: Bus) -> None:
        await trio.sleep(5)
        poller = root.child("poller")
        good = poller.last_data
        assert good is not None
        for host in ("blog.test", "mastodon.test", "bsky.test", "hn.test", "x.test", "li.test"):
            world.failing[host] = httpx.Response(502, text="bad gateway")
        await trio.sleep(HOUR + 60)
        status = seen.of(ServiceStatusChanged)
        assert len(status) == 1 and not status[0].available
        assert root.child("poller") is poller and poller.last_data is good
        world.failing.clear()
        await trio.sleep(HOUR)
        status = seen.of(ServiceStatusChanged)
        assert len(status) == 2 and status[1].available

    await run_tree(social_poller(world), NOW, SOCIAL_TYPES, script)


async def test_one_failing_source_does_not_mark_social_unavailable(autojump_clock) -> None:
    world = FakeSocialWorld()
    world.failing["x.test"] = httpx.Response(500)

    async def script(seen: Collector, root: Supervisor, bus: Bus) -> None:
        await trio.sleep(5)
        latest = seen.of(SocialActivityObserved)[-1]
        assert list(latest.failures) == ["twitter"]
        assert latest.summary.sources_failed == ("twitter",)
        assert not seen.of(ServiceStatusChanged)

    await run_tree(social_poller(world), NOW, SOCIAL_TYPES, script)


def test_tree_adds_pollers_only_when_configured_or_injected(tmp_path: Any) -> None:
    plain = build_garden(IntegrationSettings(), db_path=str(tmp_path / "a.db"))
    assert "wakatime" not in plain.mailboxes and "social" not in plain.mailboxes
    plain.store.close()
    injected = build_garden(
        IntegrationSettings(),
        db_path=str(tmp_path / "b.db"),
        extras={"transports": {"wakatime": FakeWakaTime().transport(),
                               "social": httpx.MockTransport(FakeSocialWorld())}},
    )
    names = [spec.name for spec in injected.root.specs]
    assert "wakatime" in names and "social" in names
    injected.store.close()
    configured = build_garden(
        IntegrationSettings(wakatime=WakaTimeConfig(api_key=Secret("k" * 12))),
        db_path=str(tmp_path / "c.db"),
    )
    assert "wakatime" in [spec.name for spec in configured.root.specs]
    configured.store.close()
