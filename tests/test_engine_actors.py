"""Growth, mood and analytics actors in a real tree under MockClock, with histories in SQLite."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.testing

from actors.mood import MOOD_INPUTS
from actors.tree import Garden, build_garden, run_garden
from greenhouse.config import load_settings
from greenhouse.engines.growth import ProjectSnapshot
from greenhouse.engines.mood import MusicSignal, ProductivitySignal, WeatherSignal
from greenhouse.insights import GardenInsights
from greenhouse.messages import (
    AtmosphereChanged,
    CommitSnapshot,
    CommitsObserved,
    GardenEvent,
    GrowthStageChanged,
    GrowthUpdated,
    MusicObserved,
    RepositoriesObserved,
    RepositorySnapshot,
    RunTask,
    TaskFinished,
    TrackChanged,
    ViewerConnected,
    ViewerDisconnected,
    VisitorJoined,
    VisitorLeft,
    VisitRecorded,
    WeatherObserved,
)
from greenhouse.models import AtmosphericMood, CurrentWeather, MusicMood, SeasonalInfluence
from greenhouse.runtime import Clock, ask

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC).timestamp()  # a Thursday morning
DAY = 86400.0


@pytest.fixture
def clock() -> trio.testing.MockClock:
    """Virtual time that only jumps after 20 ms of real idleness.

    The persistence actor and the state loaders work in threads; with a zero threshold virtual
    time would race past every timeout while a thread runs.
    """
    return trio.testing.MockClock(autojump_threshold=0.02)


class Sync(msgspec.Struct, frozen=True):
    """A no-op asked of an actor: its reply means everything queued before it was handled."""


async def settle(garden: Garden) -> None:
    """Wait until the engine actors handled their queues and persistence committed the rows."""
    for name in ("growth", "mood", "analytics"):
        if name in garden.mailboxes:
            await ask(garden.mailbox(name), Sync(), timeout=3600)
    await ask(garden.mailbox("persistence"), Sync(), timeout=3600)


class Watcher:
    """Collects what the tree publishes (garden events and task results)."""

    def __init__(self, garden: Garden) -> None:
        self.box = garden.bus.subscribe("test-watcher", (GardenEvent, TaskFinished), capacity=10000)
        self.seen: list[Any] = []

    def drain(self) -> list[Any]:
        while True:
            try:
                self.seen.append(self.box.get_nowait())
            except trio.WouldBlock:
                return self.seen

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.drain() if isinstance(m, kind)]


@asynccontextmanager
async def running_garden(
    db: Path, scheduler: bool = False, **env: str
) -> AsyncIterator[tuple[Garden, Watcher]]:
    # Viewers are not what these tests are about: no WebSocket server, and ephemeral ports for
    # anything else that listens, so parallel test runs never fight over a port.
    base = {
        "GREENHOUSE_DB": str(db),
        "ENABLE_REAL_TIME_EVENTS": "false",
        "GREENHOUSE_HTTP_PORT": "0",
        "GREENHOUSE_WS_PORT": "0",
    }
    settings = load_settings(None, {**base, **env})
    # Most tests play the scheduler themselves (RunTask on the bus), so the real one stays out.
    garden = build_garden(settings, clock=Clock(start_epoch=T0), extras={"scheduler": scheduler})
    watcher = Watcher(garden)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        await settle(garden)  # every actor started (and restored its state)
        yield garden, watcher
        await settle(garden)
        nursery.cancel_scope.cancel()


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def hours_for(score: float) -> float:
    """WakaTime hours that give `score` when time is the only factor: 1 - exp(-h/40)."""
    return -40.0 * math.log(1.0 - score)


async def test_stage_events_only_on_real_changes(clock: Any, tmp_path: Path) -> None:
    db = tmp_path / "garden.db"
    async with running_garden(db) as (garden, watcher):
        # Only coding time is known, so the score is exactly the time factor.
        for score in (0.30, 0.44, 0.48, 0.44, 0.46, 0.435, 0.42):
            await garden.bus.publish(
                ProjectSnapshot(name="me/greenhouse", coding_seconds=hours_for(score) * 3600)
            )
            await trio.sleep(60)
        changes = watcher.of(GrowthStageChanged)
        # 0.30 seedling; 0.44 stays (band 0.43-0.47); 0.48 -> sapling; 0.44, 0.46, 0.435 stay
        # (inside the band); 0.42 -> seedling.
        assert [(c.old_stage, c.new_stage) for c in changes] == [
            ("seedling", "sapling"),
            ("sapling", "seedling"),
        ]
        assert all(c.repository == "me/greenhouse" for c in changes)
        updates = watcher.of(GrowthUpdated)
        assert len(updates) == 7
        assert updates[0].factors_missing == (
            "age", "commits", "complexity", "consistency", "engagement", "innovation"
        )
    rows = query(db, "SELECT repository, score, stage FROM growth_history ORDER BY at")
    assert [r[2] for r in rows] == ["seedling", "seedling", "sapling", "sapling", "sapling",
                                    "sapling", "seedling"]
    assert rows[2][1] == pytest_approx(0.48)
    plant = query(db, "SELECT stage, health, coding_seconds FROM plant_growth")
    assert plant == [("seedling", "dormant", hours_for(0.42) * 3600)]


def pytest_approx(value: float) -> Any:
    import pytest

    return pytest.approx(value, abs=1e-9)


async def test_github_observations_grow_a_plant(clock: Any, tmp_path: Path) -> None:
    db = tmp_path / "garden.db"
    repo = RepositorySnapshot(
        full_name="me/greenhouse",
        name="greenhouse",
        languages={"Python": 180_000, "JavaScript": 40_000},
        stars=3,
        forks=1,
        watchers=3,
        topics=("garden",),
        created_at=T0 - 300 * DAY,
        pushed_at=T0 - 2 * DAY,
    )
    async with running_garden(db) as (garden, watcher):
        await garden.bus.publish(RepositoriesObserved(repositories=(repo,), observed_at=T0))
        await settle(garden)
        first = watcher.of(GrowthUpdated)[-1]
        commits = tuple(
            CommitSnapshot(sha=f"{i:040x}", repository="me/greenhouse", author="me",
                           timestamp=T0 - i * DAY)
            for i in range(60)
        )
        await garden.bus.publish(CommitsObserved(repository="me/greenhouse", commits=commits,
                                                 new_count=60))
        await settle(garden)
        second = watcher.of(GrowthUpdated)[-1]
        assert second.score > first.score
        assert "commits" in second.factors and "commits" not in first.factors
        # The same commits again (a webhook redelivery, a repeated poll) change nothing.
        await garden.bus.publish(CommitsObserved(repository="me/greenhouse", commits=commits))
        await settle(garden)
        assert watcher.of(GrowthUpdated)[-1] is second
        # The hourly task answers an ask and records a history point for every plant.
        done = await ask(garden.mailbox("growth"),
                         RunTask(task_id="growth_calculation", execution_id="x1"))
        assert isinstance(done, TaskFinished) and done.ok and done.execution_id == "x1"
        # A published RunTask is answered on the bus; other tasks are ignored.
        await garden.bus.publish(RunTask(task_id="github_sync", execution_id="x2"))
        await garden.bus.publish(RunTask(task_id="growth_calculation", execution_id="x3"))
        await settle(garden)
        finished = [f.execution_id for f in watcher.of(TaskFinished)]
        assert finished == ["x3"]
    assert query(db, "SELECT COUNT(*) FROM growth_history")[0][0] == 4
    stored = query(db, "SELECT type FROM events WHERE type = 'growth_updated'")
    assert len(stored) == 2


async def test_a_repeated_repository_list_waits_for_the_hourly_rescore(
    clock: Any, tmp_path: Path
) -> None:
    db = tmp_path / "garden.db"
    repo = RepositorySnapshot(full_name="me/greenhouse", name="greenhouse", stars=3, forks=1,
                              watchers=3, created_at=T0 - 30 * DAY, pushed_at=T0 - DAY)
    async with running_garden(db) as (garden, watcher):
        await garden.bus.publish(RepositoriesObserved(repositories=(repo,), observed_at=T0))
        await settle(garden)
        first = watcher.of(GrowthUpdated)
        assert len(first) == 1
        garden.clock.jump(10 * DAY)  # the plant ages (its age factor grows) ...
        await garden.bus.publish(RepositoriesObserved(repositories=(repo,), observed_at=T0))
        await settle(garden)
        assert watcher.of(GrowthUpdated) == first  # ... but the same list is not news
        starred = msgspec.structs.replace(repo, stars=40)
        await garden.bus.publish(RepositoriesObserved(repositories=(starred,), observed_at=T0))
        await settle(garden)
        moved = watcher.of(GrowthUpdated)[-1]
        assert moved.score > first[0].score and moved.timestamp > first[0].timestamp
        # The hourly task is what moves a score with time alone.
        garden.clock.jump(10 * DAY)
        await ask(garden.mailbox("growth"), RunTask(task_id="growth_calculation",
                                                    execution_id="h1"))
        await settle(garden)
        assert watcher.of(GrowthUpdated)[-1].score > moved.score


async def test_growth_state_survives_a_restart(clock: Any, tmp_path: Path) -> None:
    db = tmp_path / "garden.db"
    async with running_garden(db) as (garden, _):
        await garden.bus.publish(
            ProjectSnapshot(name="me/greenhouse", coding_seconds=hours_for(0.5) * 3600)
        )
    async with running_garden(db) as (garden, watcher):
        # Stored stage sapling; 0.44 is inside the band under it, so no stage event after restart.
        await garden.bus.publish(
            ProjectSnapshot(name="me/greenhouse", coding_seconds=hours_for(0.44) * 3600)
        )
        await settle(garden)
        assert watcher.of(GrowthStageChanged) == []
        assert watcher.of(GrowthUpdated)[-1].stage == "sapling"
        # Commits restored from the stored snapshot are not counted twice when GitHub resends
        # them (with their shas) after the restart.
        await garden.bus.publish(ProjectSnapshot(name="me/greenhouse", commit_times=(T0 - DAY,)))
        await settle(garden)
        growth = garden.root.child("growth")
        assert growth is not None
        growth.commits.pop("me/greenhouse", None)  # as after a restart: only times are known
        resent = CommitSnapshot(sha="a" * 40, repository="me/greenhouse", author="me",
                                timestamp=T0 - DAY)
        await garden.bus.publish(CommitsObserved(repository="me/greenhouse", commits=(resent,)))
        await settle(garden)
        assert growth.projects["me/greenhouse"].commit_times == (T0 - DAY,)
        # The stored snapshot lets the hourly task rescore without a new observation.
        await ask(garden.mailbox("growth"), RunTask(task_id="growth_calculation", execution_id="r"))
    # First run 1; after the restart: 0.44, the commit, the hourly task (the resend moved nothing).
    assert query(db, "SELECT COUNT(*) FROM growth_history")[0][0] == 4


STORM = WeatherSignal(at=T0, condition="Thunderstorm", temperature=16, clouds=100, rain_mm_h=9,
                      wind_speed=14, is_day=True)
CALM = WeatherSignal(at=T0, condition="Clear", temperature=12, clouds=10, wind_speed=1,
                     is_day=True)


async def test_atmosphere_changes_are_announced_once(clock: Any, tmp_path: Path) -> None:
    db = tmp_path / "garden.db"
    async with running_garden(db) as (garden, watcher):
        await garden.bus.publish(STORM)
        await garden.bus.publish(MusicSignal(at=T0, energy=0.9, tempo=170, valence=0.4))
        # The scheduler's 3-minute task for 45 minutes: nothing new to say.
        for i in range(15):
            await trio.sleep(180)
            await garden.bus.publish(RunTask(task_id="mood_synthesis", execution_id=f"m{i}"))
        await settle(garden)
        changes = watcher.of(AtmosphereChanged)
        assert [c.new_atmosphere for c in changes] == ["stormy_intensity"]
        assert changes[0].old_atmosphere is None
        # Announced on the storm; the music that followed moved energy by less than 0.15, and
        # its fading out over the next half hour changed nothing the viewers need to hear.
        assert set(changes[0].data_sources) == {"weather", "time_of_day"}
        # Quiet music: still stormy, but the energy falls by more than 0.15, so it is news.
        now = garden.clock.time()
        await garden.bus.publish(MusicSignal(at=now, energy=0.15, tempo=70, acousticness=0.9,
                                             valence=0.4))
        await settle(garden)
        # Then the storm passes: the atmosphere itself changes.
        await garden.bus.publish(msgspec.structs.replace(CALM, at=now))
        await settle(garden)
        changes = watcher.of(AtmosphereChanged)
        assert [(c.old_atmosphere, c.new_atmosphere) for c in changes[1:]] == [
            ("stormy_intensity", "stormy_intensity"),
            ("stormy_intensity", "serene_morning"),
        ]
        assert changes[1].energy_change < -0.15
        assert len([t for t in watcher.of(TaskFinished) if t.task_id == "mood_synthesis"]) == 15
    rows = query(db, "SELECT atmosphere, weather_pattern FROM mood_history ORDER BY at")
    assert len(rows) == 2 + 15 + 2  # every synthesis is a history row
    assert rows[0] == ("stormy_intensity", "thunderstorm")
    assert rows[-1][0] == "serene_morning"
    stored = query(db, "SELECT data FROM events WHERE type = 'atmosphere_changed' ORDER BY id")
    assert len(stored) == 3
    assert '"new_atmosphere":"serene_morning"' in stored[2][0]


async def test_a_repeated_signal_waits_for_the_scheduled_synthesis(
    clock: Any, tmp_path: Path
) -> None:
    db = tmp_path / "garden.db"
    song = MusicSignal(at=T0, energy=0.7, tempo=120, valence=0.6, track="t1")
    async with running_garden(db) as (garden, _watcher):
        await garden.bus.publish(song)
        await settle(garden)
        # The same track seen by three more polls: only fresher, nothing to synthesise.
        for minutes in (1, 2, 3):
            await garden.bus.publish(msgspec.structs.replace(song, at=T0 + 60 * minutes))
        await settle(garden)
        assert len(query(db, "SELECT at FROM mood_history")) == 1
        # The scheduled synthesis takes the freshest copy in; a new track is news at once.
        await garden.bus.publish(RunTask(task_id="mood_synthesis", execution_id="m1"))
        await garden.bus.publish(msgspec.structs.replace(song, at=T0 + 240, track="t2"))
        await settle(garden)
    assert len(query(db, "SELECT at FROM mood_history")) == 3


async def test_a_new_track_from_a_poll_is_one_synthesis(clock: Any, tmp_path: Path) -> None:
    db = tmp_path / "garden.db"
    async with running_garden(db) as (garden, _watcher):
        for at, track in ((T0, "t1"), (T0 + 30, "t2")):
            # What the Spotify poller publishes for a poll that finds a new track.
            mood = MusicMood(is_playing=True, track_id=track, track=track, energy=0.8,
                             confidence=0.6, source="estimate")
            await garden.bus.publish_many([
                MusicObserved(mood=mood, observed_at=at),
                TrackChanged(track_id=track, previous_track_id=None, mood=mood, observed_at=at),
            ])
            await settle(garden)
        mood_actor = garden.root.child("mood")
        assert mood_actor is not None
        assert mood_actor.inputs.music.track == "t2" and mood_actor.inputs.music.at == T0 + 30
    assert len(query(db, "SELECT at FROM mood_history")) == 2  # one synthesis per new track
    # ...and the mood actor is not even woken for the TrackChanged beside each MusicObserved.
    assert TrackChanged not in MOOD_INPUTS


async def test_weather_observation_from_a_real_payload(clock: Any, tmp_path: Path) -> None:
    raw = (FIXTURES / "openweathermap" / "weather.current.rain.captured.json").read_bytes()
    current = msgspec.json.decode(raw, type=CurrentWeather)
    observed = WeatherObserved(
        location="Quiapo",
        units="metric",
        current=current,
        mood=AtmosphericMood(energy=0.4, focus=0.6, creativity=0.6, serenity=0.5, intensity=0.3,
                             weather_pattern="rain", is_day=True, description="moderate rain"),
        season=SeasonalInfluence(season="summer", hemisphere="north", day_length_hours=12.8,
                                 daylight_ratio=0.53, growth_factor=0.9),
        observed_at=T0,
        changed=True,
    )
    async with running_garden(tmp_path / "garden.db") as (garden, watcher):
        await garden.bus.publish(observed)
        await settle(garden)
        change = watcher.of(AtmosphereChanged)[-1]
    assert change.weather_pattern == "soft_rain"  # 2.47 mm in the last hour
    assert "weather" in change.data_sources


async def test_coding_time_reaches_growth_and_mood(clock: Any, tmp_path: Path) -> None:
    async with running_garden(tmp_path / "garden.db") as (garden, watcher):
        await garden.bus.publish(ProjectSnapshot(name="me/greenhouse", stars=5))
        await settle(garden)
        await garden.bus.publish(
            ProductivitySignal(at=T0, recent_seconds=7200, baseline_seconds=3600,
                               project_seconds={"Greenhouse": 20 * 3600.0})
        )
        await settle(garden)
        update = watcher.of(GrowthUpdated)[-1]
        assert "time" in update.factors
        assert "productivity" in watcher.of(AtmosphereChanged)[-1].data_sources


async def test_wakatime_observation_feeds_growth_and_mood(clock: Any, tmp_path: Path) -> None:
    from greenhouse.messages import CodingActivityObserved
    from greenhouse.models import WakaSummaries
    from greenhouse.productivity import coding_days, productivity_metrics

    raw = (FIXTURES / "wakatime" / "summaries.3days.derived.json").read_bytes()
    days = coding_days(msgspec.json.decode(raw, type=WakaSummaries).data)
    metrics = productivity_metrics(days)
    assert metrics.top_projects, "the fixture names projects"
    project = metrics.top_projects[0]
    observed = CodingActivityObserved(
        observed_at=T0,
        days=len(days),
        today_seconds=metrics.today_seconds,
        projects=metrics.top_projects,
        languages={},
        metrics=metrics,
    )
    async with running_garden(tmp_path / "garden.db") as (garden, watcher):
        await garden.bus.publish(ProjectSnapshot(name=f"someone/{project.name}", stars=1))
        await settle(garden)
        await garden.bus.publish(observed)
        await settle(garden)
        update = watcher.of(GrowthUpdated)[-1]
        change = watcher.of(AtmosphereChanged)[-1]
        plants = await garden.extras["insights"].get_plants()
    assert update.repository == f"someone/{project.name}"  # matched on the name after the slash
    assert "time" in update.factors
    assert "productivity" in change.data_sources
    assert plants[0].coding_seconds == project.seconds


async def test_analytics_counts_viewers_and_stores_sessions(
    clock: Any, tmp_path: Path
) -> None:
    db = tmp_path / "garden.db"
    async with running_garden(db) as (garden, watcher):
        for connection in ("c1", "c2", "c2"):  # a duplicate connect is counted once
            await garden.bus.publish(ViewerConnected(connection_id=connection))
        for connection in ("c1", "unknown"):
            await garden.bus.publish(ViewerDisconnected(connection_id=connection))
        now = garden.clock.time()
        visits = [
            ("v1", "/", "https://news.ycombinator.com/item?id=1", now),
            ("v1", "/plants/greenhouse?tab=growth", None, now + 60),
            ("v2", "/plants/greenhouse", None, now + 120),
        ]
        for visitor, path, referrer, at in visits:
            await garden.bus.publish(
                VisitRecorded(visitor_id=visitor, path=path, referrer=referrer, at=at)
            )
        await trio.sleep(200)
        await garden.bus.publish(ViewerConnected(connection_id="c3"))
        await settle(garden)
        joined = watcher.of(VisitorJoined)
        left = watcher.of(VisitorLeft)
        assert [e.live_viewers for e in joined] == [1, 2, 2]
        assert [e.live_viewers for e in left] == [1]
        assert joined[-1].visitors_today == 2
        # The WebSocket actor restarted and lost c2 and c3 without a word: its count wins.
        await garden.bus.publish(ViewerConnected(connection_id="c4", live_viewers=1))
        await settle(garden)
        assert watcher.of(VisitorJoined)[-1].live_viewers == 1
        done = await ask(garden.mailbox("analytics"),
                         RunTask(task_id="analytics_processing", execution_id="a1"))
        assert done.ok
        await settle(garden)
        insights: GardenInsights = garden.extras["insights"]
        metrics = await insights.get_engagement_metrics(hours=24)
        journey = await insights.get_visitor_journey_analysis("v1")
        exported = await insights.export_analytics_data()
    stored = query(db, "SELECT visitor_id, path, referrer FROM analytics_visits ORDER BY at")
    assert stored == [("v1", "/", "news.ycombinator.com"), ("v1", "/plants/greenhouse", None),
                      ("v2", "/plants/greenhouse", None)]
    sessions = query(db, 'SELECT visitor_id, pages, entry_page, exit_page FROM analytics_sessions '
                         "ORDER BY visitor_id")
    assert sessions == [("v1", 2, "/", "/plants/greenhouse"),
                        ("v2", 1, "/plants/greenhouse", "/plants/greenhouse")]
    assert (metrics.visitors, metrics.sessions, metrics.page_views) == (2, 2, 3)
    assert metrics.bounce_rate == 0.5
    assert metrics.most_viewed_plants == [("greenhouse", 2)]
    assert journey.sessions[0]["paths"] == ["/", "/plants/greenhouse"]
    assert len(exported["sessions"]) == 2
    # Viewer events never carry a connection id.
    events = query(db, "SELECT data FROM events WHERE type IN ('visitor_joined', 'visitor_left')")
    assert events and all("c1" not in e[0] and "c2" not in e[0] for e in events)


async def test_portfolio_and_mood_trend_queries(clock: Any, tmp_path: Path) -> None:
    async with running_garden(tmp_path / "garden.db") as (garden, _):
        await garden.bus.publish(ProjectSnapshot(
            name="a", coding_seconds=3600.0, languages={"Python": 1000}, created_at=T0 - DAY))
        await garden.bus.publish(ProjectSnapshot(name="b", languages={"Rust": 5000, "C": 10}))
        await garden.bus.publish(STORM)
        await trio.sleep(600)
        await garden.bus.publish(msgspec.structs.replace(CALM, at=garden.clock.time()))
        await settle(garden)
        insights: GardenInsights = garden.extras["insights"]
        overview = await insights.get_portfolio_overview()
        trends = await insights.get_mood_trends(hours=24)
        plants = await insights.get_plants()
    assert overview.total_plants == 2
    assert overview.total_coding_hours == 1.0
    assert list(overview.languages) == ["Rust", "Python", "C"]
    assert sum(overview.plants_per_stage.values()) == 2
    assert {p.repository for p in plants} == {"a", "b"}
    assert trends.samples == 2
    assert trends.components["intensity"].change < 0
    assert trends.current_atmosphere == "serene_morning"


async def test_mood_can_be_switched_off(clock: Any, tmp_path: Path) -> None:
    async with running_garden(tmp_path / "g.db", ENABLE_MOOD_SYNTHESIS="false",
                              ENABLE_ANALYTICS="false") as (garden, watcher):
        assert "mood" not in garden.mailboxes and "analytics" not in garden.mailboxes
        await garden.bus.publish(STORM)
        await settle(garden)
        assert watcher.of(AtmosphereChanged) == []


async def test_an_erased_visitor_is_forgotten_in_memory(clock: Any) -> None:
    """After an erasure the actor holds no visit of that id, so processing cannot rewrite it."""
    from actors.analytics import AnalyticsActor
    from greenhouse.messages import AnalyticsSessionsComputed
    from greenhouse.runtime import Bus

    bus = Bus()
    out = bus.subscribe("out", (AnalyticsSessionsComputed,), capacity=10)
    actor = AnalyticsActor(bus.mailbox("analytics"), bus, Clock(start_epoch=T0))
    for visitor in ("keep", "erase", "erase"):
        await actor.handle(VisitRecorded(visitor_id=visitor, path="/", at=T0))
    assert actor.visitors_today(T0 + 1) == 2
    assert actor.forget("erase") == 2
    assert actor.visitors_today(T0 + 1) == 1
    await actor.process(T0 + 1)
    computed = out.get_nowait()
    assert [s.visitor_id for s in computed.sessions] == ["keep"]


async def test_histories_are_trimmed_to_their_retention(clock: Any, tmp_path: Path) -> None:
    db = tmp_path / "garden.db"
    env = {"GROWTH_HISTORY_DAYS": "30", "MOOD_HISTORY_DAYS": "1"}
    async with running_garden(db, **env) as (garden, _):
        await garden.bus.publish(ProjectSnapshot(name="old", coding_seconds=7200.0))
        await garden.bus.publish(STORM)
        await settle(garden)
        garden.clock.jump(31 * DAY)  # a month later (wall time only, like an NTP jump)
        await ask(garden.mailbox("growth"), RunTask(task_id="growth_calculation", execution_id="g"))
        await garden.bus.publish(msgspec.structs.replace(CALM, at=garden.clock.time()))
    growth = query(db, "SELECT at FROM growth_history")
    moods = query(db, "SELECT at FROM mood_history")
    assert len(growth) == 1 and growth[0][0] >= T0 + 31 * DAY
    assert len(moods) == 1 and moods[0][0] >= T0 + 31 * DAY
    plant = query(db, "SELECT repository FROM plant_growth")
    assert plant == [("old",)]  # the plant's latest state is never trimmed


async def test_the_real_scheduler_drives_the_engines(clock: Any, tmp_path: Path) -> None:
    """An hour of the default schedule: mood every 3 minutes, growth and analytics hourly."""
    db = tmp_path / "garden.db"
    async with running_garden(db, scheduler=True) as (garden, _):
        await garden.bus.publish(ProjectSnapshot(name="greenhouse", coding_seconds=7200.0))
        await trio.sleep(3600 + 120)
        await settle(garden)
    moods = query(db, "SELECT COUNT(*) FROM mood_history")[0][0]
    assert moods == 21  # one row per scheduled synthesis (no mood signal arrived)
    rows = query(db, "SELECT task, status, COUNT(*) FROM task_runs GROUP BY task, status")
    runs = {task: n for task, status, n in rows if status == "succeeded"}
    assert all(status == "succeeded" for _, status, _ in rows)
    # Each task runs once at start, then on its interval, for 62 virtual minutes.
    assert runs["growth_calculation"] == 2
    assert runs["analytics_processing"] == 2
    assert runs["mood_synthesis"] == 21
    assert query(db, "SELECT COUNT(*) FROM growth_history")[0][0] >= 2  # observed + hourly


async def test_a_release_webhook_counts_once_towards_innovation(
    clock: Any, tmp_path: Path
) -> None:
    from greenhouse.messages import GitHubActivity
    from greenhouse.services.github_webhooks import observations, parse_delivery, sign

    body = (FIXTURES / "github" / "webhooks" / "release.published.json").read_bytes()
    headers = {
        "X-GitHub-Event": "release",
        "X-GitHub-Delivery": "r-1",
        "X-Hub-Signature-256": sign("s3cret", body),
    }
    messages = observations(parse_delivery(headers, body, "s3cret"), T0)
    release = next(m for m in messages if isinstance(m, GitHubActivity))
    async with running_garden(tmp_path / "garden.db") as (garden, watcher):
        name = release.repository
        await garden.bus.publish(ProjectSnapshot(name=name, topics=("a",)))
        await settle(garden)
        before = watcher.of(GrowthUpdated)[-1]
        for _ in range(2):  # the same release twice (a redelivery under a new id) counts once
            await garden.bus.publish(release)
        await settle(garden)
        after = watcher.of(GrowthUpdated)[-1]
        growth = garden.root.child("growth")
        assert growth.projects[name].releases == 1
    assert after.factors["innovation"] > before.factors["innovation"]
