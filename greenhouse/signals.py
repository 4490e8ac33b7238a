"""Translate service observations into the engines' own inputs.

The engines take their own small structs (`MusicSignal`, `WeatherSignal`, `ProductivitySignal`,
`ProjectSnapshot`), so they do not depend on how each service names things. This module is the
one place that knows both sides; a service that publishes an engine input directly needs nothing
here.
"""

from __future__ import annotations

import math
from typing import Any

from greenhouse.engines.mood import MusicSignal, ProductivitySignal, WeatherSignal
from greenhouse.messages import (
    CodingActivityObserved,
    MusicObserved,
    TrackChanged,
    WeatherObserved,
)
from greenhouse.models import MusicMood, Precipitation

__all__ = [
    "OBSERVATION_TYPES",
    "mood_signal",
    "music_signal",
    "productivity_signal",
    "weather_signal",
]

MoodSignal = MusicSignal | WeatherSignal | ProductivitySignal

# Service observation types translated below (extended as the services land).
OBSERVATION_TYPES: tuple[type, ...] = (
    MusicObserved,
    TrackChanged,
    WeatherObserved,
    CodingActivityObserved,
)


def music_signal(mood: MusicMood, at: float) -> MusicSignal:
    """Spotify's music mood: real audio features or the client's estimate, with its confidence."""
    return MusicSignal(
        at=at,
        is_playing=mood.is_playing,
        valence=mood.valence,
        energy=mood.energy,
        tempo=mood.tempo,
        confidence=mood.confidence,
        track=mood.track,
    )


def _celsius(value: float, units: str) -> float:
    if units == "imperial":
        return (value - 32.0) * 5.0 / 9.0
    if units == "standard":
        return value - 273.15
    return value


def _per_hour(amount: Precipitation | None) -> float | None:
    if amount is None:
        return None
    if amount.one_hour is not None:
        return amount.one_hour
    if amount.three_hours is not None:
        return amount.three_hours / 3.0
    return None


def weather_signal(message: WeatherObserved) -> WeatherSignal:
    """OpenWeatherMap's reading in the engine's units (Celsius, m/s, mm per hour)."""
    current = message.current
    wind = current.wind.speed * (0.44704 if message.units == "imperial" else 1.0)
    temperature = _celsius(current.main.temp, message.units)
    return WeatherSignal(
        at=message.observed_at,
        condition=current.condition.main,
        temperature=temperature if math.isfinite(temperature) else None,
        clouds=current.clouds.all,
        rain_mm_h=_per_hour(current.rain),
        snow_mm_h=_per_hour(current.snow),
        wind_speed=wind,
        is_day=message.mood.is_day,
        sunrise=current.sys.sunrise,
        sunset=current.sys.sunset,
        latitude=current.coord.lat if current.coord is not None else None,
    )


def productivity_signal(message: CodingActivityObserved) -> ProductivitySignal:
    """WakaTime: today's coding against the person's own daily average, and time per project.

    Today is compared with a whole day's average, so early in the day the garden reads as calm;
    that is the honest reading (little coding yet), not a bug.
    """
    average = message.metrics.daily_average_seconds
    return ProductivitySignal(
        at=message.observed_at,
        recent_seconds=max(0.0, message.today_seconds),
        baseline_seconds=average if average > 0 else None,
        project_seconds={p.name: p.seconds for p in message.projects},
    )


def mood_signal(message: Any) -> MoodSignal | None:
    """The mood input a message carries, or None when it carries none."""
    if isinstance(message, MusicSignal | WeatherSignal | ProductivitySignal):
        return message
    if isinstance(message, MusicObserved | TrackChanged):
        return music_signal(message.mood, message.observed_at)
    if isinstance(message, WeatherObserved):
        return weather_signal(message)
    if isinstance(message, CodingActivityObserved):
        return productivity_signal(message)
    return None
