"""Spotify and weather observations become the mood engine's inputs, and it accepts them."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from greenhouse.engines.mood import MoodInputs, synthesize_current_mood
from greenhouse.models import CurrentWeather, MusicMood
from greenhouse.services.atmosphere import to_weather_signal
from greenhouse.services.music_mood import to_music_signal

FIXTURES = Path(__file__).parent / "fixtures" / "openweathermap"


def reading(name: str) -> CurrentWeather:
    return msgspec.json.decode((FIXTURES / name).read_bytes(), type=CurrentWeather)


def test_weather_signal_is_in_celsius_and_metres_per_second() -> None:
    zocca = reading("weather.current.zocca.docs-example.json")  # Kelvin
    signal = to_weather_signal(zocca, "standard", at=zocca.dt)
    assert signal.temperature == pytest.approx(298.48 - 273.15)
    assert signal.condition == "Rain" and signal.rain_mm_h == 3.16
    assert signal.is_day and signal.latitude == 44.34
    assert signal.sunrise == 1661834187.0


def test_music_signal_keeps_the_estimate_confidence() -> None:
    estimate = MusicMood(
        is_playing=True, track="x", valence=0.3, energy=0.9, confidence=0.35, source="estimate"
    )
    assert to_music_signal(estimate, at=5.0).confidence == 0.35
    silent = to_music_signal(MusicMood(is_playing=False), at=5.0)
    assert not silent.is_playing and silent.confidence == 0.0


def test_the_mood_engine_blends_our_signals() -> None:
    lisbon = reading("weather.current.lisbon.captured.json")
    now = float(lisbon.dt)
    music = MusicMood(
        is_playing=True,
        track="t",
        valence=0.9,
        energy=0.95,
        confidence=0.9,
        source="audio_features",
    )
    inputs = MoodInputs(
        music=to_music_signal(music, now), weather=to_weather_signal(lisbon, "metric", now)
    )
    mood = synthesize_current_mood(inputs, now)
    assert {"music", "weather"} <= set(mood.sources)
    calm = MoodInputs(
        music=to_music_signal(msgspec.structs.replace(music, energy=0.05, valence=0.2), now),
        weather=inputs.weather,
    )
    assert mood.energy > synthesize_current_mood(calm, now).energy
