"""The mood actor: keeps the latest music, weather and coding signals and sets the atmosphere.

It synthesises on `RunTask("mood_synthesis")` (every 3 minutes by default) and whenever a signal
arrives that changes an input (one that only repeats it with a newer time waits for the task);
each synthesis is a `MoodSynthesized` row for `mood_history`. `AtmosphereChanged` is published
only when the atmosphere changes or the energy moved more than the configured threshold since
the last announcement.

Signals: `MusicSignal`, `WeatherSignal`, `ProductivitySignal` (engine inputs any source can
publish), plus the service observations that `greenhouse.signals` translates into them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from greenhouse.config import MoodConfig
from greenhouse.engines.mood import (
    MoodInputs,
    MoodSynthesis,
    MusicSignal,
    ProductivitySignal,
    WeatherSignal,
    should_announce,
    synthesize_current_mood,
)
from greenhouse.messages import (
    AtmosphereChanged,
    HistoryTrimmed,
    MoodSynthesized,
    RunTask,
    TrackChanged,
)
from greenhouse.runtime import Bus, Clock, Mailbox
from greenhouse.signals import OBSERVATION_TYPES, MoodSignal, mood_signal
from greenhouse.task_actor import TaskActor, offer_or_publish

__all__ = ["MOOD_INPUTS", "MoodActor"]

# `TrackChanged` is not among them: the Spotify poller publishes it only together with the same
# poll's `MusicObserved` (the same mood, the same time), so it would only wake the actor to learn
# nothing (about 100 wake-ups a day). `mood_signal` still reads one sent to the actor directly.
MOOD_INPUTS: tuple[type, ...] = (
    MusicSignal,
    WeatherSignal,
    ProductivitySignal,
    RunTask,
    *(kind for kind in OBSERVATION_TYPES if kind is not TrackChanged),
)


class MoodActor(TaskActor):
    """Owns the mood state; synthesises with the pure mood engine."""

    task_ids = frozenset({"mood_synthesis"})

    def __init__(
        self,
        inbox: Mailbox,
        bus: Bus,
        clock: Clock | None = None,
        *,
        config: MoodConfig | None = None,
        load_last: Callable[[], MoodSynthesis | None] | None = None,
        name: str = "mood",
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        self.config = config or MoodConfig()
        self.load_last = load_last
        self.inputs = MoodInputs()
        self.current: MoodSynthesis | None = None
        self.announced: MoodSynthesis | None = None
        self.syntheses = 0
        self._last_trim: float | None = None

    async def started(self) -> None:
        if self.load_last is None or self.announced is not None:
            return
        try:
            last = await self.clock.run_sync(self.load_last)
        except Exception:  # a lost history costs one extra announcement, nothing more
            self.log.exception("could not restore the last mood; starting fresh")
            return
        self.current = self.announced = last

    async def handle(self, message: Any) -> Any:
        if isinstance(message, RunTask):
            if message.task_id not in self.task_ids:
                return None
            return await self.run_task(message, self.synthesize)
        signal = mood_signal(message)
        if signal is None:
            return None
        news = _says_something_new(self.inputs, signal)
        if isinstance(signal, MusicSignal):
            self.inputs = MoodInputs(
                music=signal, weather=self.inputs.weather, productivity=self.inputs.productivity
            )
        elif isinstance(signal, WeatherSignal):
            self.inputs = MoodInputs(
                music=self.inputs.music, weather=signal, productivity=self.inputs.productivity
            )
        elif isinstance(signal, ProductivitySignal):
            self.inputs = MoodInputs(
                music=self.inputs.music, weather=self.inputs.weather, productivity=signal
            )
        if news:
            await self.synthesize()
        # Otherwise only fresher: the scheduled synthesis takes it in.
        return None

    async def synthesize(self) -> MoodSynthesis:
        """One synthesis: record it, and announce it if it is news."""
        now = self.clock.time()
        mood = synthesize_current_mood(self.inputs, now, self.config, previous=self.current)
        self.current = mood
        self.syntheses += 1
        out: list[Any] = [
            MoodSynthesized(
                at=now,
                energy=mood.energy,
                focus=mood.focus,
                creativity=mood.creativity,
                serenity=mood.serenity,
                intensity=mood.intensity,
                atmosphere=mood.atmosphere,
                weather_pattern=mood.weather_pattern,
                season=mood.season,
                time_of_day=mood.time_of_day,
                confidence=mood.confidence,
                sources=mood.sources,
            )
        ]
        if self._last_trim is None or now - self._last_trim >= 86400.0:
            self._last_trim = now  # once a day is plenty for a 90-day window
            before = now - self.config.keep_history_days * 86400.0
            out.append(HistoryTrimmed(table="mood_history", before=before))
        if should_announce(self.announced, mood, self.config.energy_change_threshold):
            old = self.announced
            out.append(
                AtmosphereChanged(
                    old_atmosphere=old.atmosphere if old else None,
                    new_atmosphere=mood.atmosphere,
                    energy_change=mood.energy - old.energy if old else 0.0,
                    data_sources=tuple(sorted(mood.sources)),
                    weather_pattern=mood.weather_pattern,
                    energy=mood.energy,
                    focus=mood.focus,
                    creativity=mood.creativity,
                    serenity=mood.serenity,
                    intensity=mood.intensity,
                    source="mood_engine",
                    timestamp=now,
                )
            )
            self.announced = mood
        # The synthesis is the last thing a handler does: no schedule point per message.
        await offer_or_publish(self, out)
        return mood


def _says_something_new(inputs: MoodInputs, signal: MoodSignal) -> bool:
    """False when `signal` repeats the current input of its kind with only a newer time.

    A Spotify poll that finds the same track, or a weather reading that did not move, then costs
    no synthesis of its own (and no `mood_history` row); a change is synthesised at once.
    """
    if isinstance(signal, MusicSignal):
        current: MoodSignal | None = inputs.music
    elif isinstance(signal, WeatherSignal):
        current = inputs.weather
    else:
        current = inputs.productivity
    if current is None or type(current) is not type(signal):
        return True
    return msgspec.structs.replace(current, at=signal.at) != signal
