"""Spotify parsing (real payloads) and the pure music mood / listening trend functions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.models import (
    AudioFeatures,
    CurrentlyPlaying,
    PlayHistoryItem,
    RecentlyPlayed,
    SpotifyArtist,
    SpotifyToken,
    SpotifyTrack,
)
from greenhouse.services.music_mood import (
    FEATURES_CONFIDENCE,
    MAX_ESTIMATE_CONFIDENCE,
    NEUTRAL_CONFIDENCE,
    estimate_track_mood,
    listening_trends,
    mood_from_features,
    mood_label,
    music_mood,
    parse_played_at,
)

FIXTURES = Path(__file__).parent / "fixtures" / "spotify"


def load(name: str, kind: type):
    return msgspec.json.decode((FIXTURES / name).read_bytes(), type=kind)


def test_currently_playing_parses_both_real_shapes() -> None:
    playback = load("player.playback.home-assistant.json", CurrentlyPlaying)
    assert playback.is_playing and playback.item is not None
    assert playback.item.name == "WARRIORS, Pt. 1 (Final Stage)"
    assert playback.item.artist_names == ("Machinae Supremacy",)
    assert playback.item.popularity == 38 and playback.item.duration_ms == 268525
    assert playback.context is not None and playback.context.type == "collection"
    old = load("currently-playing.spotify-web-api-js.json", CurrentlyPlaying)
    assert old.item is not None and old.item.name == "Mr. Brightside"
    assert old.item.album is not None and old.item.album.name == "Hot Fuss"


def test_recently_played_parses_with_null_context_and_cursors() -> None:
    recent = load("recently-played.home-assistant.json", RecentlyPlayed)
    assert len(recent.items) == 2
    assert any(item.context is None for item in recent.items)
    assert recent.cursors is not None and recent.cursors.before == "1728234176022"
    assert recent.items[0].track.artist_names[0] == "Karen O"
    old = load("recently-played.spotify-web-api-js.json", RecentlyPlayed)
    assert old.items[0].track.name == "Disciples"


def test_audio_features_parse_and_become_a_measured_mood() -> None:
    features = load("audio-features.home-assistant.json", AudioFeatures)
    mood = mood_from_features(features)
    assert (mood.valence, mood.energy, mood.tempo) == (0.625, 0.905, 114.944)
    assert mood.source == "audio_features" and mood.confidence == FEATURES_CONFIDENCE


@pytest.mark.parametrize(
    "body", [b"{}", b"not json", b'{"is_playing": "yes", "timestamp": 1}', b'{"items": 3}']
)
def test_malformed_spotify_bodies_are_clear_errors(body: bytes) -> None:
    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
        msgspec.json.decode(body, type=CurrentlyPlaying)
    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
        msgspec.json.decode(body, type=RecentlyPlayed)


def test_token_repr_never_shows_the_token() -> None:
    token = SpotifyToken(access_token="BQD-secret-access", refresh_token="AQ-secret-refresh")
    assert "secret" not in repr(token) and "secret" not in str(token)


def _track(popularity: int | None = 50, track_id: str = "t1", name: str = "Song") -> SpotifyTrack:
    return SpotifyTrack(
        name=name,
        id=track_id,
        popularity=popularity,
        duration_ms=180_000,
        artists=(SpotifyArtist(name="Band", id="a1"),),
    )


def test_estimate_from_genres_moves_the_mood_and_reports_confidence() -> None:
    metal = estimate_track_mood(_track(), genres=["melodic death metal", "power metal"])
    ambient = estimate_track_mood(_track(), genres=["ambient", "drone"])
    assert metal.energy > 0.8 > 0.2 > ambient.energy
    assert metal.source == ambient.source == "estimate"
    assert NEUTRAL_CONFIDENCE < metal.confidence <= MAX_ESTIMATE_CONFIDENCE
    assert metal.confidence < FEATURES_CONFIDENCE


def test_estimate_without_any_signal_is_neutral_and_low_confidence() -> None:
    mood = estimate_track_mood(None)
    assert (mood.valence, mood.energy) == (0.5, 0.5)
    assert mood.confidence == NEUTRAL_CONFIDENCE and mood.source == "neutral"


def test_more_signals_give_more_confidence() -> None:
    bare = estimate_track_mood(_track(popularity=None))
    popular = estimate_track_mood(_track(popularity=90))
    timed = estimate_track_mood(_track(popularity=90), hour=2)
    genred = estimate_track_mood(_track(popularity=90), genres=["pop"], hour=2)
    assert bare.confidence < popular.confidence < timed.confidence < genred.confidence
    assert timed.energy < popular.energy  # 2 a.m. listening is calmer


@given(
    genres=st.lists(st.sampled_from(["metal", "pop", "ambient", "sad", "x", "disco"]), max_size=6),
    popularity=st.one_of(st.none(), st.integers(0, 100)),
    hour=st.one_of(st.none(), st.integers(0, 23)),
)
def test_estimates_stay_in_range(
    genres: list[str], popularity: int | None, hour: int | None
) -> None:
    mood = estimate_track_mood(_track(popularity=popularity), genres=genres, hour=hour)
    for value in (mood.valence, mood.energy, mood.danceability, mood.confidence):
        assert 0.0 <= value <= 1.0
    assert mood.confidence <= MAX_ESTIMATE_CONFIDENCE


def test_mood_labels_cover_the_quadrants() -> None:
    assert mood_label(0.8, 0.9) == "euphoric"
    assert mood_label(0.2, 0.9) == "intense"
    assert mood_label(0.7, 0.2) == "calm"
    assert mood_label(0.1, 0.2) == "melancholic"
    assert mood_label(0.5, 0.5) == "balanced"


def test_music_mood_is_silent_when_nothing_plays() -> None:
    assert music_mood(None, None, is_playing=False).label == "silent"
    paused = music_mood(_track(), None, is_playing=False)
    assert not paused.is_playing and paused.confidence == 0.0
    playing = music_mood(_track(), None, is_playing=True, progress_ms=1000)
    assert playing.is_playing and playing.track == "Song" and playing.artists == ("Band",)


def _play(name: str, track_id: str, at: str, artist: str = "Band") -> PlayHistoryItem:
    track = SpotifyTrack(
        name=name, id=track_id, duration_ms=240_000, artists=(SpotifyArtist(name=artist),)
    )
    return PlayHistoryItem(track=track, played_at=at)


def test_listening_trends_minutes_by_day_and_hour_and_tops() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp()
    history = [
        _play("A", "a", "2026-11-26T09:15:00.000Z", "X"),
        _play("A", "a", "2026-11-26T09:20:00Z", "X"),
        _play("B", "b", "2026-11-25T22:00:00.5Z", "Y"),
        _play("C", "c", "2026-11-10T10:00:00Z", "Z"),  # outside the 7-day window
        _play("bad", "d", "not a date"),
    ]
    features = mood_from_features(
        AudioFeatures(id="a", danceability=0.5, energy=0.9, valence=0.9, tempo=120.0)
    )
    trends = listening_trends(history, {"a": features}, now=now, days=7)
    assert trends.tracks_played == 3
    assert trends.total_minutes == pytest.approx(12.0)
    assert trends.minutes_by_day["2026-11-26"] == pytest.approx(8.0)
    assert trends.minutes_by_day["2026-11-25"] == pytest.approx(4.0)
    assert len(trends.minutes_by_day) == 7 and "2026-11-10" not in trends.minutes_by_day
    assert trends.minutes_by_hour[9] == pytest.approx(8.0) and trends.minutes_by_hour[22] == 4.0
    assert trends.top_artists[0] == ("X", 2) and trends.top_tracks[0] == ("A", 2)
    today = next(p for p in trends.mood_trend if p.day == "2026-11-26")
    assert today.energy == pytest.approx(0.9) and today.confidence == FEATURES_CONFIDENCE
    assert trends.complete  # an older play proves the window is covered


def test_listening_trends_flags_an_incomplete_full_history() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp()
    history = [_play("A", "a", "2026-11-26T11:00:00Z") for _ in range(50)]
    assert not listening_trends(history, {}, now=now, days=7).complete


def test_played_at_parses_spotify_timestamps() -> None:
    assert parse_played_at("2024-10-06T18:09:18.556Z") == pytest.approx(1728238158.556)
    with pytest.raises(ValueError):
        parse_played_at("yesterday")
