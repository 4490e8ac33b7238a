"""`track_plays` and `weather_readings`: written in the persistence batch, read back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from greenhouse.listening_weather_history import (
    recent_weather_readings,
    stored_listening_trends,
    write_track_plays,
    write_weather_readings,
)
from greenhouse.messages import TrackChanged, WeatherObserved
from greenhouse.models import CurrentWeather, MusicMood
from greenhouse.services.atmosphere import analyze_atmospheric_mood, seasonal_influence
from greenhouse.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "openweathermap"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "garden.db")
    store.register_writer(TrackChanged, write_track_plays)
    store.register_writer(WeatherObserved, write_weather_readings)
    yield store
    store.close()


def started(at: float, track: str, artist: str, energy: float, playing: bool = True):
    mood = MusicMood(
        is_playing=playing,
        track_id=f"id-{track}" if playing else None,
        track=track if playing else None,
        artists=(artist,) if playing else (),
        valence=0.5,
        energy=energy,
        confidence=0.35,
        source="estimate",
        duration_ms=180_000,
    )
    return TrackChanged(track_id=mood.track_id, previous_track_id=None, mood=mood, observed_at=at)


def test_track_plays_give_trends_beyond_spotifys_fifty(store: Store) -> None:
    plays = [started(NOW - 3600 - i * 200, f"t{i % 7}", f"a{i % 3}", 0.8) for i in range(60)]
    plays.append(started(NOW - 100, "", "", 0.0, playing=False))  # a stop: no row
    store.write_batch(plays, NOW)
    trends = stored_listening_trends(store.reader(), now=NOW, days=7)
    assert trends.tracks_played == 60 and trends.complete
    assert trends.total_minutes == pytest.approx(60 * 3.0)
    assert set(trends.top_artists) == {("a0", 20), ("a1", 20), ("a2", 20)}
    assert all(p.confidence == 0.35 for p in trends.mood_trend)
    rows = store.reader().execute("SELECT COUNT(*), MIN(artists) FROM track_plays").fetchone()
    assert tuple(rows) == (60, '["a0"]')


def test_old_plays_fall_outside_the_window(store: Store) -> None:
    store.write_batch(
        [started(NOW - 10 * 86400, "old", "x", 0.2), started(NOW - 60, "new", "y", 0.9)], NOW
    )
    trends = stored_listening_trends(store.reader(), now=NOW, days=7)
    assert trends.tracks_played == 1 and trends.top_tracks == (("new", 1),)


def observed(name: str, units: str, at: float) -> WeatherObserved:
    current = msgspec.json.decode((FIXTURES / name).read_bytes(), type=CurrentWeather)
    return WeatherObserved(
        location=current.name,
        units=units,
        current=current,
        mood=analyze_atmospheric_mood(current, units),
        season=seasonal_influence(current),
        observed_at=at,
        changed=False,
    )


def test_weather_readings_are_stored_in_celsius(store: Store) -> None:
    store.write_batch(
        [
            observed("weather.current.zocca.docs-example.json", "standard", NOW - 1800),
            observed("weather.current.rain.captured.json", "metric", NOW - 900),
            observed("weather.current.lisbon.captured.json", "metric", NOW - 10 * 86400),
        ],
        NOW,
    )
    readings = recent_weather_readings(store.reader(), since=NOW - 86400)
    assert [r.location for r in readings] == ["Zocca", "Quiapo District"]
    assert readings[0].temperature_c == pytest.approx(25.33, abs=0.01)
    assert readings[1].weather_pattern == "rain" and readings[1].is_day
    rain = store.reader().execute(
        "SELECT rain_mm_h FROM weather_readings WHERE location = 'Quiapo District'"
    )
    assert rain.fetchone()[0] == 2.47
