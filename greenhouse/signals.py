"""Translate service observations into the engines' own inputs.

The engines take their own small structs (`MusicSignal`, `WeatherSignal`, `ProductivitySignal`,
`ProjectSnapshot`), so they do not depend on how each service names things. This module is the
one place that knows both sides; a service that publishes an engine input directly needs nothing
here.
"""

from __future__ import annotations

from typing import Any

from greenhouse.engines.mood import MusicSignal, ProductivitySignal, WeatherSignal

__all__ = ["OBSERVATION_TYPES", "mood_signal"]

MoodSignal = MusicSignal | WeatherSignal | ProductivitySignal

# Service observation types translated below (extended as the services land).
OBSERVATION_TYPES: tuple[type, ...] = ()


def mood_signal(message: Any) -> MoodSignal | None:
    """The mood input a message carries, or None when it carries none."""
    if isinstance(message, MusicSignal | WeatherSignal | ProductivitySignal):
        return message
    return None
