"""The real Spotify and weather clients against the simulated world (what demo mode runs)."""

from __future__ import annotations

import trio

from greenhouse.config import settings_from_mapping
from greenhouse.runtime import Clock
from greenhouse.services.spotify import SpotifyService
from greenhouse.services.weather import WeatherService
from greenhouse.simulation.fake_apis import WorldAPI, demo_environment
from greenhouse.simulation.world import World

START = 1_785_573_885.0


async def test_spotify_client_reads_the_world(autojump_clock) -> None:
    clock = Clock(start_epoch=START)
    settings = settings_from_mapping(demo_environment())
    api = WorldAPI(World(), clock.time)  # audio features refused, as for new Spotify apps
    async with SpotifyService(settings.spotify, transport=api.transport(), clock=clock) as spotify:
        for _ in range(12):  # the world's listener is not always listening
            mood = await spotify.analyze_current_mood()
            assert mood.ok, mood.error
            if mood.data.is_playing:
                break
            await trio.sleep(3600)
        trends = await spotify.get_listening_trends(days=7)
        health = await spotify.health_check()
    assert health.available, health.error
    assert mood.data.is_playing and mood.data.track
    assert mood.data.source == "estimate" and 0.1 < mood.data.confidence <= 0.5
    assert spotify.audio_features_available is False
    assert trends.ok, trends.error
    assert trends.data.tracks_played > 0 and trends.data.top_artists


async def test_weather_client_reads_the_world(autojump_clock) -> None:
    clock = Clock(start_epoch=START)
    settings = settings_from_mapping(demo_environment())
    api = WorldAPI(World(), clock.time)
    async with WeatherService(settings.weather, transport=api.transport(), clock=clock) as weather:
        data = await weather.get_comprehensive_weather_data()
        health = await weather.health_check()
    assert data.ok, data.error
    assert health.available and health.error is None
    assert data.data.forecast and data.data.forecast_error is None
    assert 0.0 <= data.data.mood.energy <= 1.0
    assert data.data.season.season in {"spring", "summer", "autumn", "winter"}
