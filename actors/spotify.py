"""The Spotify poller: what plays now, every 30 s, and `music_changed` when the track changes.

Each successful poll publishes `MusicObserved` (the mood engine's input, also when nothing plays).
When the playing track changes, or playback stops or starts, it publishes `TrackChanged` and the
viewers' `MusicChanged`, never on an unchanged poll. A failing Spotify marks the service
unavailable and keeps the last mood (`last_mood`); see `greenhouse.polling`.
"""

from __future__ import annotations

from typing import Any

from greenhouse.messages import MusicChanged, MusicObserved, TrackChanged
from greenhouse.models import MusicMood
from greenhouse.polling import PollerActor
from greenhouse.runtime import Bus, Clock, Mailbox
from greenhouse.services.spotify import SpotifyService

__all__ = ["SpotifyPoller"]


class SpotifyPoller(PollerActor):
    """Polls the currently playing track through `SpotifyService`."""

    service_name = "spotify"
    task_id = "spotify_sync"
    service: SpotifyService

    def __init__(
        self,
        inbox: Mailbox | None,
        bus: Bus | None,
        service: SpotifyService,
        clock: Clock | None = None,
        *,
        interval: float | None = 30.0,
        sync_timeout: float = 120.0,
        availability: dict[str, bool] | None = None,
        name: str = "spotify",
    ) -> None:
        super().__init__(
            name, inbox, bus, clock, interval=interval, sync_timeout=sync_timeout,
            availability=availability,
        )
        self.service = service
        self.last_mood: MusicMood | None = None
        self.playing_key: str | None = None  # what plays now (None: nothing)

    async def poll(self) -> str | None:
        response = await self.service.analyze_current_mood()
        if not response.ok or response.data is None:
            return response.error or "spotify: no data"
        mood: MusicMood = response.data
        now = self.clock.time()
        self.last_mood = mood
        out: list[Any] = [MusicObserved(mood=mood, observed_at=now)]
        key = (mood.track_id or mood.track) if mood.is_playing else None
        if key != self.playing_key:
            previous, self.playing_key = self.playing_key, key
            out.append(
                TrackChanged(
                    track_id=mood.track_id, previous_track_id=previous, mood=mood, observed_at=now
                )
            )
            out.append(music_changed(mood, now))
        # One schedule point for all of it (not one per message), and still before the answer:
        # whoever asked for this poll hears back after the subscribers had a turn.
        if self.bus is not None:
            await self.bus.publish_many(out)
        return None


def music_changed(mood: MusicMood, now: float) -> MusicChanged:
    """The viewers' `music_changed` event for a mood (a silent one when nothing plays)."""
    playing = mood.is_playing
    return MusicChanged(
        track=mood.track if playing else None,
        artists=mood.artists if playing else (),
        album=mood.album if playing else None,
        is_playing=playing,
        valence=mood.valence if playing else None,
        energy=mood.energy if playing else None,
        tempo=mood.tempo if playing else None,
        confidence=mood.confidence if playing else 0.0,
        track_id=mood.track_id if playing else None,
        danceability=mood.danceability if playing else None,
        mood_source=mood.source,
        label=mood.label,
        source="spotify_sync",
        timestamp=now,
    )
