"""Spotify and weather: decode and analysis cost per call, and a virtual day of polling.

    python -m bench.spotify_weather

Figures: microseconds per decode of the real payloads (tests/fixtures), per pure analysis, and
the wall time to run one virtual day of the Spotify poller (2,880 polls, every one through the
real client and an httpx.MockTransport) and of the weather poller under trio's MockClock.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import trio
import trio.testing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import report  # noqa: E402
from greenhouse.models import CurrentlyPlaying, CurrentWeather, Forecast, RecentlyPlayed  # noqa: E402
from greenhouse.services.atmosphere import (  # noqa: E402
    analyze_atmospheric_mood,
    seasonal_influence,
    summarize_forecast,
)
from greenhouse.services.music_mood import estimate_track_mood  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def per_call_us(fn: Callable[[], object], seconds: float = 0.3) -> float:
    """Mean microseconds per call over about `seconds` of repetitions."""
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(100):
            fn()
        count += 100
    return elapsed / count * 1e6


def virtual_day(kind: str) -> tuple[float, int, int]:
    """Wall seconds, polls and requests for one virtual day of a poller."""
    from actors.spotify import SpotifyPoller
    from actors.weather import WeatherPoller
    from greenhouse.runtime import Bus, Clock
    from greenhouse.services.spotify import SpotifyService
    from greenhouse.services.weather import WeatherService
    from tests.fake_spotify import FakeSpotify
    from tests.fake_weather import FakeOpenWeatherMap
    from tests.test_pollers import SPOTIFY_SETTINGS, WEATHER_SETTINGS

    result: dict[str, int] = {}

    async def main() -> None:
        clock, bus = Clock(start_epoch=1_785_573_885.0), Bus()
        if kind == "spotify":
            fake = FakeSpotify()
            service = SpotifyService(
                SPOTIFY_SETTINGS, transport=fake.transport(), clock=clock, rng=random.Random(1)
            )
            poller = SpotifyPoller(None, bus, service, clock, interval=30.0)
        else:
            fake = FakeOpenWeatherMap()
            service = WeatherService(
                WEATHER_SETTINGS, transport=fake.transport(), clock=clock, rng=random.Random(1)
            )
            poller = WeatherPoller(None, bus, service, clock, interval=900.0)
        with trio.move_on_after(86400 - 1):
            await poller.run()
        result.update(polls=poller.polls, requests=len(fake.requests))

    started = time.perf_counter()
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return time.perf_counter() - started, result["polls"], result["requests"]


def main() -> None:
    playback = (FIXTURES / "spotify" / "player.playback.home-assistant.json").read_bytes()
    recent = (FIXTURES / "spotify" / "recently-played.home-assistant.json").read_bytes()
    current = (FIXTURES / "openweathermap" / "weather.current.lisbon.captured.json").read_bytes()
    forecast = (FIXTURES / "openweathermap" / "forecast.5day3h.lisbon.captured.json").read_bytes()
    reading = msgspec.json.decode(current, type=CurrentWeather)
    days = msgspec.json.decode(forecast, type=Forecast)
    track = msgspec.json.decode(playback, type=CurrentlyPlaying).item
    rows: list[list[object]] = [
        [
            "decode currently-playing (8 KB)",
            per_call_us(lambda: msgspec.json.decode(playback, type=CurrentlyPlaying)),
            "us",
        ],
        [
            "decode recently-played (8 KB)",
            per_call_us(lambda: msgspec.json.decode(recent, type=RecentlyPlayed)),
            "us",
        ],
        [
            "decode current weather (0.5 KB)",
            per_call_us(lambda: msgspec.json.decode(current, type=CurrentWeather)),
            "us",
        ],
        [
            "decode 5-day forecast (16 KB)",
            per_call_us(lambda: msgspec.json.decode(forecast, type=Forecast)),
            "us",
        ],
        ["analyze_atmospheric_mood", per_call_us(lambda: analyze_atmospheric_mood(reading)), "us"],
        ["seasonal_influence", per_call_us(lambda: seasonal_influence(reading)), "us"],
        ["summarize_forecast (40 steps)", per_call_us(lambda: summarize_forecast(days)), "us"],
        [
            "estimate_track_mood (2 genres)",
            per_call_us(
                lambda: estimate_track_mood(track, genres=["power metal", "j-pop"], hour=21)
            ),
            "us",
        ],
    ]
    extra: dict[str, object] = {}
    for kind in ("spotify", "weather"):
        wall, polls, requests = virtual_day(kind)
        rows.append(
            [f"virtual day of {kind} polling ({polls} polls, {requests} requests)", wall, "s wall"]
        )
        extra[f"{kind}_day"] = {"wall_seconds": wall, "polls": polls, "requests": requests}
    report("spotify_weather", ["measure", "value", "unit"], rows, extra)


if __name__ == "__main__":
    main()
