"""Music mood: valence and energy of tracks, measured or estimated, and listening trends.

Pure functions (no I/O, time passed in). Spotify removed Audio Features for new and
development-mode apps on 2024-11-27, so most installs cannot measure a track. When features are
missing the mood is *estimated* from what the API still gives, and every result carries a
`confidence` in [0, 1] that the mood engine uses as a weight:

* measured (audio features): confidence 0.9 (features are Spotify's own model output);
* estimate: starts from neutral (0.5, 0.5) and moves with each signal found:
  - artist genres (from `GET /artists`), matched against the small lexicon below: the strongest
    signal, +0.12 confidence per matched genre, up to +0.36;
  - track popularity: popular tracks lean slightly brighter and more energetic, +0.05;
  - hour of listening (late night listening is calmer, morning and early evening livelier), +0.05;
  an estimate's confidence never exceeds 0.5;
* nothing known: neutral with confidence 0.1.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from greenhouse.models import (
    AudioFeatures,
    ListeningTrends,
    MoodPoint,
    MusicMood,
    PlayHistoryItem,
    SpotifyTrack,
    TrackMood,
)

__all__ = [
    "FEATURES_CONFIDENCE",
    "GENRE_LEXICON",
    "HISTORY_LIMIT",
    "MAX_ESTIMATE_CONFIDENCE",
    "NEUTRAL_CONFIDENCE",
    "estimate_track_mood",
    "listening_trends",
    "mood_from_features",
    "mood_label",
    "music_mood",
    "parse_played_at",
]

FEATURES_CONFIDENCE = 0.9
MAX_ESTIMATE_CONFIDENCE = 0.5
NEUTRAL_CONFIDENCE = 0.1
HISTORY_LIMIT = 50  # Spotify keeps (and returns) at most the last 50 plays

# Genre keyword -> (valence, energy, danceability). Matched as substrings of Spotify's genre
# names ("melodic death metal" matches "metal"); the matches are averaged.
GENRE_LEXICON: dict[str, tuple[float, float, float]] = {
    "metal": (0.35, 0.92, 0.40),
    "punk": (0.50, 0.88, 0.50),
    "hardcore": (0.35, 0.92, 0.45),
    "rock": (0.50, 0.75, 0.50),
    "edm": (0.65, 0.88, 0.80),
    "techno": (0.45, 0.85, 0.78),
    "house": (0.65, 0.80, 0.82),
    "drum and bass": (0.50, 0.92, 0.65),
    "dance": (0.72, 0.80, 0.82),
    "disco": (0.80, 0.75, 0.85),
    "funk": (0.78, 0.70, 0.82),
    "pop": (0.68, 0.65, 0.70),
    "hip hop": (0.55, 0.68, 0.78),
    "rap": (0.50, 0.70, 0.78),
    "reggae": (0.75, 0.55, 0.75),
    "latin": (0.75, 0.72, 0.80),
    "soul": (0.60, 0.50, 0.62),
    "r&b": (0.55, 0.50, 0.68),
    "jazz": (0.55, 0.40, 0.55),
    "blues": (0.35, 0.45, 0.50),
    "folk": (0.50, 0.35, 0.45),
    "country": (0.60, 0.55, 0.58),
    "indie": (0.50, 0.55, 0.52),
    "acoustic": (0.50, 0.25, 0.45),
    "classical": (0.40, 0.20, 0.25),
    "ambient": (0.35, 0.12, 0.25),
    "lo-fi": (0.50, 0.25, 0.60),
    "chill": (0.55, 0.30, 0.55),
    "sleep": (0.35, 0.05, 0.15),
    "emo": (0.25, 0.70, 0.40),
    "sad": (0.15, 0.30, 0.35),
    "soundtrack": (0.40, 0.40, 0.30),
}


def _clamp(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


def mood_from_features(features: AudioFeatures) -> TrackMood:
    """A measured track mood from Spotify's audio features."""
    return TrackMood(
        track_id=features.id,
        valence=_clamp(features.valence),
        energy=_clamp(features.energy),
        danceability=_clamp(features.danceability),
        tempo=features.tempo,
        confidence=FEATURES_CONFIDENCE,
        source="audio_features",
    )


def _hour_energy_shift(hour: int) -> float:
    # Late night (0-5h) listening is calmer; mornings and early evenings livelier.
    if hour < 6:
        return -0.10
    if 7 <= hour < 11 or 17 <= hour < 21:
        return 0.05
    return 0.0


def estimate_track_mood(
    track: SpotifyTrack | None,
    *,
    genres: Iterable[str] = (),
    hour: int | None = None,
) -> TrackMood:
    """Estimate a track's mood without audio features (see the module docstring for the rules)."""
    valence = energy = danceability = 0.5
    confidence = NEUTRAL_CONFIDENCE
    signals = 0
    matches: list[tuple[float, float, float]] = []
    for genre in {g.lower() for g in genres}:
        matches.extend(point for key, point in GENRE_LEXICON.items() if key in genre)
    if matches:
        valence = sum(m[0] for m in matches) / len(matches)
        energy = sum(m[1] for m in matches) / len(matches)
        danceability = sum(m[2] for m in matches) / len(matches)
        confidence += min(3, len(matches)) * 0.12
        signals += 1
    if track is not None and track.popularity is not None:
        lean = (track.popularity - 50) / 50 * 0.05  # +-0.05 at the extremes
        valence += lean
        energy += lean
        confidence += 0.05
        signals += 1
    if hour is not None:
        energy += _hour_energy_shift(hour % 24)
        confidence += 0.05
        signals += 1
    return TrackMood(
        track_id=track.id if track is not None else None,
        valence=_clamp(valence),
        energy=_clamp(energy),
        danceability=_clamp(danceability),
        tempo=None,
        confidence=min(MAX_ESTIMATE_CONFIDENCE, confidence) if signals else NEUTRAL_CONFIDENCE,
        source="estimate" if signals else "neutral",
    )


def mood_label(valence: float, energy: float) -> str:
    """A word for a (valence, energy) point: the quadrants of the circumplex plus the centre."""
    if abs(valence - 0.5) < 0.1 and abs(energy - 0.5) < 0.1:
        return "balanced"
    if energy >= 0.5:
        return "euphoric" if valence >= 0.6 else "energetic" if valence >= 0.4 else "intense"
    return "calm" if valence >= 0.45 else "melancholic"


def music_mood(
    track: SpotifyTrack | None,
    mood: TrackMood | None,
    *,
    is_playing: bool,
    progress_ms: int | None = None,
) -> MusicMood:
    """The music side of the garden's mood from the current track and its mood."""
    if track is None or not is_playing:
        return MusicMood(is_playing=False, label="silent")
    mood = mood if mood is not None else estimate_track_mood(track)
    return MusicMood(
        is_playing=True,
        track_id=track.id,
        track=track.name,
        artists=track.artist_names,
        album=track.album.name if track.album is not None else None,
        valence=mood.valence,
        energy=mood.energy,
        danceability=mood.danceability,
        tempo=mood.tempo,
        confidence=mood.confidence,
        source=mood.source,
        label=mood_label(mood.valence, mood.energy),
        progress_ms=progress_ms,
        duration_ms=track.duration_ms,
    )


def parse_played_at(text: str) -> float:
    """`2024-10-06T18:09:18.556Z` -> epoch seconds (raises `ValueError` on bad text)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def listening_trends(
    history: Sequence[PlayHistoryItem],
    moods: Mapping[str, TrackMood],
    *,
    now: float,
    days: int = 7,
    top: int = 5,
) -> ListeningTrends:
    """Minutes per day and hour, top artists/tracks and the daily mood over the last `days`.

    A track counts its full duration (Spotify records a play after ~30 s, but gives no listened
    time). `complete` is False when the history is full (Spotify keeps only the last 50 plays) and
    holds nothing older than the window, i.e. earlier plays in the window may be missing.
    """
    start = now - days * 86400
    by_day: dict[str, float] = {}
    for offset in range(days):
        day = datetime.fromtimestamp(start + (offset + 1) * 86400, tz=UTC).date().isoformat()
        by_day.setdefault(day, 0.0)
    by_hour = [0.0] * 24
    artists: Counter[str] = Counter()
    tracks: Counter[str] = Counter()
    daily_moods: dict[str, list[TrackMood]] = defaultdict(list)
    played = 0
    reached_back = False
    for item in history:
        try:
            at = parse_played_at(item.played_at)
        except ValueError:
            continue  # one bad timestamp does not spoil the trend
        if at < start:
            reached_back = True
            continue
        if at > now:
            continue
        played += 1
        moment = datetime.fromtimestamp(at, tz=UTC)
        day = moment.date().isoformat()
        minutes = item.track.duration_ms / 60000
        by_day[day] = by_day.get(day, 0.0) + minutes
        by_hour[moment.hour] += minutes
        artists.update(item.track.artist_names)
        tracks[item.track.name] += 1
        mood = moods.get(item.track.id or "")
        if mood is None:
            mood = estimate_track_mood(item.track, hour=moment.hour)
        daily_moods[day].append(mood)
    trend = tuple(
        MoodPoint(
            day=day,
            valence=round(sum(m.valence for m in ms) / len(ms), 4),
            energy=round(sum(m.energy for m in ms) / len(ms), 4),
            confidence=round(sum(m.confidence for m in ms) / len(ms), 4),
            tracks=len(ms),
        )
        for day, ms in sorted(daily_moods.items())
    )
    return ListeningTrends(
        days=days,
        tracks_played=played,
        total_minutes=round(sum(by_day.values()), 2),
        minutes_by_day={day: round(m, 2) for day, m in sorted(by_day.items())},
        minutes_by_hour=tuple(round(m, 2) for m in by_hour),
        top_artists=tuple(artists.most_common(top)),
        top_tracks=tuple(tracks.most_common(top)),
        mood_trend=trend,
        complete=reached_back or len(history) < HISTORY_LIMIT,
    )
