"""Spotify and weather observations reach the mood engine through `greenhouse.signals`."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from greenhouse.engines.mood import MoodInputs, synthesize_current_mood
from greenhouse.messages import MusicObserved, WeatherObserved
from greenhouse.models import CurrentWeather, MusicMood
from greenhouse.services.atmosphere import analyze_atmospheric_mood, seasonal_influence
from greenhouse.signals import mood_signal

FIXTURES = Path(__file__).parent / "fixtures" / "openweathermap"


def observed(name: str, units: str) -> WeatherObserved:
    current = msgspec.json.decode((FIXTURES / name).read_bytes(), type=CurrentWeather)
    return WeatherObserved(
        location=current.name,
        units=units,
        current=current,
        mood=analyze_atmospheric_mood(current, units),
        season=seasonal_influence(current),
        observed_at=float(current.dt),
        changed=True,
    )


def test_a_kelvin_reading_reaches_the_engine_in_celsius() -> None:
    signal = mood_signal(observed("weather.current.zocca.docs-example.json", "standard"))
    assert signal.temperature == pytest.approx(298.48 - 273.15)
    assert signal.condition == "Rain" and signal.rain_mm_h == 3.16 and signal.is_day


def test_the_estimate_confidence_reaches_the_engine() -> None:
    estimate = MusicMood(
        is_playing=True, track="x", valence=0.3, energy=0.9, confidence=0.35, source="estimate"
    )
    assert mood_signal(MusicObserved(mood=estimate, observed_at=5.0)).confidence == 0.35


def test_the_mood_engine_follows_our_music() -> None:
    weather = observed("weather.current.lisbon.captured.json", "metric")
    now = weather.observed_at
    loud = MusicMood(
        is_playing=True,
        track="t",
        valence=0.9,
        energy=0.95,
        confidence=0.9,
        source="audio_features",
    )
    quiet = msgspec.structs.replace(loud, energy=0.05, valence=0.2)

    def energy(music: MusicMood) -> float:
        inputs = MoodInputs(
            music=mood_signal(MusicObserved(mood=music, observed_at=now)),
            weather=mood_signal(weather),
        )
        mood = synthesize_current_mood(inputs, now)
        assert {"music", "weather"} <= set(mood.sources)
        return mood.energy

    assert energy(loud) > energy(quiet)
