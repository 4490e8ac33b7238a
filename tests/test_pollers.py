"""The Spotify and weather pollers in small supervision trees under trio's MockClock."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import msgspec
import trio

from actors.spotify import SpotifyPoller
from actors.tree import DEMO_CREDENTIAL, DEMO_WEATHER_CITY, build_garden, run_garden
from actors.weather import WeatherPoller
from greenhouse.config import IntegrationSettings, Secret, WeatherConfig, WebConfig
from greenhouse.messages import (
    MusicChanged,
    MusicObserved,
    RunTask,
    ServiceStatusChanged,
    TaskFinished,
    TrackChanged,
    WeatherObserved,
    WeatherUpdated,
)
from greenhouse.runtime import Bus, Clock, Mailbox, Supervisor, ask
from greenhouse.services.base import RetryPolicy
from greenhouse.services.spotify import SpotifyService
from greenhouse.services.weather import WeatherService
from greenhouse.store import events_since, open_connection
from tests import poller_tree
from tests.fake_spotify import OLD_PLAYBACK, FakeSpotify
from tests.fake_weather import API_KEY, RAIN, FakeOpenWeatherMap
from tests.poller_tree import Collector
from tests.test_spotify_service import SETTINGS as SPOTIFY_SETTINGS

START = 1_785_573_885.0  # 2026-08-01, daytime in Lisbon (the weather fixture's own time)
HOUR = 3600.0

WEATHER_SETTINGS = WeatherConfig(
    api_key=Secret(API_KEY), city="Lisbon", api_base_url="https://owm.test"
)


async def run_tree(
    make: Callable[[Bus, Mailbox, Clock], Any],
    types: tuple[type, ...],
    script: Callable[[Collector, Supervisor], Any],
) -> None:
    """Run one poller under a supervisor with a collector, then `script`, then stop it all."""
    await poller_tree.run_tree(make, START, types, lambda c, root, _bus: script(c, root))


def spotify_poller(fake: FakeSpotify, interval: float | None = 30.0):
    def make(bus: Bus, box: Mailbox, clock: Clock) -> SpotifyPoller:
        service = SpotifyService(
            SPOTIFY_SETTINGS,
            transport=fake.transport(),
            clock=clock,
            rng=random.Random(3),
            retry=RetryPolicy(max_rate_limit_wait=120.0),
        )
        return SpotifyPoller(box, bus, service, clock, interval=interval)

    return make


def weather_poller(fake: FakeOpenWeatherMap, interval: float | None = 900.0):
    def make(bus: Bus, box: Mailbox, clock: Clock) -> WeatherPoller:
        service = WeatherService(
            WEATHER_SETTINGS, transport=fake.transport(), clock=clock, rng=random.Random(3)
        )
        return WeatherPoller(box, bus, service, clock, interval=interval)

    return make


def restarts(root: Supervisor) -> int:
    return sum(child["restarts"] for child in root.status.as_dict()["children"])


SPOTIFY_TYPES = (MusicObserved, TrackChanged, MusicChanged, ServiceStatusChanged)
WEATHER_TYPES = (WeatherObserved, WeatherUpdated, ServiceStatusChanged)


async def test_spotify_publishes_every_30s_and_changes_only_on_change(autojump_clock) -> None:
    fake = FakeSpotify()

    async def script(seen: Collector, root: Supervisor) -> None:
        await trio.sleep(95)  # polls at 0, 30, 60, 90
        observed = seen.of(MusicObserved)
        assert [round(m.observed_at - START) for m in observed] == [0, 30, 60, 90]
        assert len(seen.of(MusicChanged)) == 1 and len(seen.of(TrackChanged)) == 1
        first = seen.of(MusicChanged)[0]
        assert first.track == "WARRIORS, Pt. 1 (Final Stage)" and first.source == "spotify_sync"
        assert first.mood_source == "audio_features" and first.confidence == 0.9

        fake.playing = OLD_PLAYBACK  # the next track starts
        await trio.sleep(30)
        changes = seen.of(TrackChanged)
        assert len(changes) == 2
        assert changes[1].previous_track_id == first.track_id
        assert changes[1].track_id == OLD_PLAYBACK["item"]["id"]

        fake.playing = None  # playback stops: one "silent" change, then quiet
        await trio.sleep(90)
        music = seen.of(MusicChanged)
        assert len(music) == 3 and not music[2].is_playing and music[2].track is None
        assert len(seen.of(MusicObserved)) == 4 + 1 + 3
        assert not seen.of(ServiceStatusChanged)

    await run_tree(spotify_poller(fake), SPOTIFY_TYPES, script)


async def test_spotify_survives_an_hour_of_failure_then_recovers(autojump_clock) -> None:
    fake = FakeSpotify()

    async def script(seen: Collector, root: Supervisor) -> None:
        await trio.sleep(5)
        poller = root.child("poller")
        good = poller.last_mood
        assert good is not None and good.is_playing
        fake.down = True
        await trio.sleep(HOUR)
        statuses = seen.of(ServiceStatusChanged)
        assert [s.available for s in statuses] == [False]  # announced once, not every poll
        assert "HTTP 503" in statuses[0].error
        assert poller.available is False and poller.last_mood == good  # last good data kept
        assert poller.failures >= 100  # it kept its 30 s schedule throughout
        assert restarts(root) == 0
        before = len(seen.of(MusicObserved))

        fake.down = False
        await trio.sleep(45)
        assert [s.available for s in seen.of(ServiceStatusChanged)] == [False, True]
        assert len(seen.of(MusicObserved)) > before and poller.available is True
        assert len(seen.of(MusicChanged)) == 1  # same track as before the outage: no change

    await run_tree(spotify_poller(fake), SPOTIFY_TYPES, script)


async def test_spotify_runs_on_runtask_from_the_scheduler(autojump_clock) -> None:
    fake = FakeSpotify()
    boxes: dict[str, Mailbox] = {}

    def make(bus: Bus, box: Mailbox, clock: Clock) -> SpotifyPoller:
        boxes["poller"] = box
        return spotify_poller(fake, interval=None)(bus, box, clock)

    async def script(seen: Collector, root: Supervisor) -> None:
        await trio.sleep(300)
        assert not seen.of(MusicObserved)  # no interval: only the scheduler drives it
        reply = await ask(boxes["poller"], RunTask(task_id="spotify_sync", execution_id="x1"))
        assert isinstance(reply, TaskFinished) and reply.ok and reply.execution_id == "x1"
        assert len(seen.of(MusicObserved)) == 1
        assert await ask(boxes["poller"], RunTask(task_id="github_sync", execution_id="x2")) is None
        fake.down = True
        failed = await ask(
            boxes["poller"], RunTask(task_id="spotify_sync", execution_id="x3"), timeout=600
        )
        assert not failed.ok and "503" in failed.error

    await run_tree(make, SPOTIFY_TYPES, script)


async def test_weather_publishes_every_15_min_and_updates_only_on_change(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()

    async def script(seen: Collector, root: Supervisor) -> None:
        await trio.sleep(3 * HOUR - 1)  # polls at 0, 15, ..., 165 minutes
        observed = seen.of(WeatherObserved)
        assert [round((m.observed_at - START) / 60) for m in observed] == list(range(0, 180, 15))
        updates = seen.of(WeatherUpdated)
        assert len(updates) == 1
        assert updates[0].location == "Socorro" and updates[0].weather_pattern == "partly_cloudy"
        assert updates[0].season == "summer" and updates[0].source == "weather_sync"
        assert observed[0].changed and not any(m.changed for m in observed[1:])

        fake.current = RAIN  # it starts to rain
        await trio.sleep(15 * 60)
        updates = seen.of(WeatherUpdated)
        assert len(updates) == 2 and updates[1].condition == "Rain"
        assert not seen.of(ServiceStatusChanged)

    await run_tree(weather_poller(fake), WEATHER_TYPES, script)


async def test_weather_runtask_inside_ten_minutes_sends_no_request(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()
    boxes: dict[str, Mailbox] = {}

    def make(bus: Bus, box: Mailbox, clock: Clock) -> WeatherPoller:
        boxes["poller"] = box
        return weather_poller(fake)(bus, box, clock)

    async def script(seen: Collector, root: Supervisor) -> None:
        await trio.sleep(60)
        sent = len(fake.requests)
        reply = await ask(boxes["poller"], RunTask(task_id="weather_sync", execution_id="w1"))
        assert reply.ok
        assert len(fake.requests) == sent  # answered from the 10-minute floor
        assert len(seen.of(WeatherObserved)) == 1  # and nothing new published

    await run_tree(make, WEATHER_TYPES, script)


async def test_weather_survives_an_hour_of_failure_then_recovers(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()

    async def script(seen: Collector, root: Supervisor) -> None:
        await trio.sleep(60)
        poller = root.child("poller")
        good = poller.last_data
        assert good is not None
        fake.down = True
        await trio.sleep(HOUR)
        assert [s.available for s in seen.of(ServiceStatusChanged)] == [False]
        assert poller.last_data == good and poller.failures == 4  # every 15 min
        assert restarts(root) == 0
        fake.down = False
        await trio.sleep(15 * 60)
        assert [s.available for s in seen.of(ServiceStatusChanged)] == [False, True]
        assert len(seen.of(WeatherUpdated)) == 1  # same conditions after the outage

    await run_tree(weather_poller(fake), WEATHER_TYPES, script)


async def test_a_crashing_poll_is_contained(autojump_clock) -> None:
    fake = FakeSpotify()

    def make(bus: Bus, box: Mailbox, clock: Clock) -> SpotifyPoller:
        poller = spotify_poller(fake)(bus, box, clock)

        async def broken() -> None:
            raise RuntimeError("parser bug")

        poller.service.analyze_current_mood = broken  # type: ignore[method-assign]
        return poller

    async def script(seen: Collector, root: Supervisor) -> None:
        await trio.sleep(100)
        statuses = seen.of(ServiceStatusChanged)
        assert len(statuses) == 1 and "parser bug" in statuses[0].error
        assert root.child("poller").polls == 4

    await run_tree(make, SPOTIFY_TYPES, script)


def test_pollers_join_the_tree_only_when_configured_or_fed(tmp_path) -> None:
    bare = build_garden(IntegrationSettings(), db_path=str(tmp_path / "a.db"))
    # Other subsystems (web, ...) may join the bare tree; no unconfigured poller does.
    assert not {"spotify", "weather"} & {s.name for s in bare.root.specs}
    bare.store.close()
    configured = IntegrationSettings(spotify=SPOTIFY_SETTINGS, weather=WEATHER_SETTINGS)
    garden = build_garden(configured, db_path=str(tmp_path / "b.db"))
    assert {"spotify", "weather"} <= {s.name for s in garden.root.specs}
    assert garden.mailbox("spotify") is not None and garden.mailbox("weather") is not None
    garden.store.close()


async def test_injected_transports_feed_the_real_tree_into_the_event_log(
    autojump_clock, tmp_path
) -> None:
    # Nothing configured (the demo): the pollers run because transports were injected, and go
    # through the real clients with the demo placeholder credentials.
    spotify = FakeSpotify(
        client_id=DEMO_CREDENTIAL, client_secret=DEMO_CREDENTIAL, refresh_token=DEMO_CREDENTIAL
    )
    weather = FakeOpenWeatherMap(api_key=DEMO_CREDENTIAL)
    garden = build_garden(
        IntegrationSettings(web=WebConfig(http_port=0, ws_port=0)),  # ephemeral ports
        clock=Clock(start_epoch=START),
        db_path=str(tmp_path / "garden.db"),
        extras={"transports": {"spotify": spotify.transport(), "weather": weather.transport()}},
    )
    assert {"spotify", "weather"} <= {s.name for s in garden.root.specs}
    db = tmp_path / "garden.db"
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        await trio.sleep(65)
        # Persistence writes in a worker thread, which autojump does not wait for: give it real
        # time until both events are durable (change events are published once, so waiting
        # longer cannot add more).
        for _ in range(500):
            types = await trio.to_thread.run_sync(_stored_types, db)
            if "music_changed" in types and "weather_updated" in types:
                await trio.to_thread.run_sync(time.sleep, 0.05)  # the observation rows, too
                break
            await trio.to_thread.run_sync(time.sleep, 0.01)
        nursery.cancel_scope.cancel()
    conn = open_connection(db, readonly=True)
    rows = events_since(conn, 0)
    conn.close()
    types = [row.type for row in rows]
    assert types.count("music_changed") == 1 and types.count("weather_updated") == 1
    conn = open_connection(db, readonly=True)
    plays = conn.execute("SELECT track, mood_source FROM track_plays").fetchall()
    readings = conn.execute("SELECT location, temperature_c FROM weather_readings").fetchall()
    conn.close()
    assert plays == [("WARRIORS, Pt. 1 (Final Stage)", "audio_features")]
    assert readings and readings[0] == ("Socorro", 22.55)
    weather_row = next(r for r in rows if r.type == "weather_updated")
    assert msgspec.json.decode(weather_row.data)["location"] == "Socorro"
    assert weather.requests[0].url.params["q"] == DEMO_WEATHER_CITY


def _stored_types(db) -> list[str]:
    conn = open_connection(db, readonly=True)
    try:
        return [row.type for row in events_since(conn, 0)]
    finally:
        conn.close()
