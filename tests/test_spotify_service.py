"""SpotifyService against a fake Spotify serving the real payloads (virtual time throughout)."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime

import httpx
import pytest
import trio

from greenhouse.config import Secret, SpotifyConfig
from greenhouse.runtime import Clock
from greenhouse.services.base import ErrorKind, InProcessTransport
from greenhouse.services.music_mood import FEATURES_CONFIDENCE, MAX_ESTIMATE_CONFIDENCE
from greenhouse.services.spotify import SpotifyService
from tests.fake_spotify import (
    CLIENT_ID,
    CLIENT_SECRET,
    PLAYBACK_TRACK_ID,
    REFRESH_TOKEN,
    FakeSpotify,
)

SETTINGS = SpotifyConfig(
    client_id=CLIENT_ID,
    client_secret=Secret(CLIENT_SECRET),
    refresh_token=Secret(REFRESH_TOKEN),
    api_base_url="https://api.spotify.test/v1",
    accounts_base_url="https://accounts.spotify.test",
)
# 2024-10-07 12:00 UTC: the day after the recently-played fixture.
NOW = datetime(2024, 10, 7, 12, 0, tzinfo=UTC).timestamp()


def service(fake: FakeSpotify, **kwargs) -> SpotifyService:
    kwargs.setdefault("transport", fake.transport())
    return SpotifyService(SETTINGS, clock=Clock(start_epoch=NOW), rng=random.Random(4), **kwargs)


async def test_happy_path_measures_the_playing_track(autojump_clock) -> None:
    fake = FakeSpotify()
    async with service(fake) as spotify:
        playing = await spotify.get_currently_playing()
        assert playing.ok and playing.data is not None
        assert playing.data.item.name == "WARRIORS, Pt. 1 (Final Stage)"
        mood = await spotify.analyze_current_mood()
    assert mood.ok and mood.data.is_playing
    assert mood.data.track_id == PLAYBACK_TRACK_ID
    assert mood.data.artists == ("Machinae Supremacy",)
    assert (mood.data.valence, mood.data.energy) == (0.625, 0.905)
    assert mood.data.source == "audio_features" and mood.data.confidence == FEATURES_CONFIDENCE
    assert mood.data.label == "euphoric"
    # One token for everything, fetched with Basic client credentials and the refresh token.
    assert len(fake.token_requests) == 1
    assert fake.token_requests[0]["grant_type"] == ["refresh_token"]
    api = [r for r in fake.requests if r.url.path != "/api/token"]
    assert all(r.headers["authorization"] == "Bearer BQ-access-1" for r in api)


async def test_nothing_playing_204_is_a_normal_state(autojump_clock) -> None:
    fake = FakeSpotify()
    fake.playing = None
    async with service(fake) as spotify:
        playing = await spotify.get_currently_playing()
        mood = await spotify.analyze_current_mood()
    assert playing.ok and playing.data is None and playing.status_code == 204
    assert mood.ok and not mood.data.is_playing and mood.data.label == "silent"
    assert fake.count("/audio-features") == 0


async def test_paused_track_counts_as_silent(autojump_clock) -> None:
    fake = FakeSpotify()
    fake.playing = {**fake.playing, "is_playing": False}
    async with service(fake) as spotify:
        mood = await spotify.analyze_current_mood()
    assert mood.ok and not mood.data.is_playing


async def test_expired_token_is_refreshed_before_use(autojump_clock) -> None:
    fake = FakeSpotify(expires_in=3600)
    async with service(fake) as spotify:
        assert (await spotify.get_currently_playing()).ok
        first_expiry = spotify.token_expires_at
        await trio.sleep(3550)  # inside the refresh margin: refresh first, no 401 on the way
        assert (await spotify.get_currently_playing()).ok
    assert len(fake.token_requests) == 2
    assert spotify.token_expires_at > first_expiry
    statuses = [r.url.path for r in fake.requests]
    assert statuses.count("/api/token") == 2
    assert spotify.token_refreshes == 2


async def test_401_refreshes_once_then_succeeds(autojump_clock) -> None:
    fake = FakeSpotify()
    async with service(fake) as spotify:
        assert (await spotify.get_currently_playing()).ok
        fake.valid_tokens.clear()  # Spotify revoked the token early
        playing = await spotify.get_currently_playing()
    assert playing.ok and playing.data is not None
    assert len(fake.token_requests) == 2
    assert fake.count("/me/player/currently-playing") == 3


async def test_401_that_persists_is_an_error_not_a_loop(autojump_clock) -> None:
    fake = FakeSpotify()
    always_401 = [lambda r: httpx.Response(401, json={"error": {"message": "no"}})] * 5
    fake.override("/me/player/currently-playing", *always_401)
    async with service(fake) as spotify:
        playing = await spotify.get_currently_playing()
    assert not playing.ok and playing.status_code == 401
    assert fake.count("/me/player/currently-playing") == 2  # one retry after one refresh


@pytest.mark.parametrize("in_process", [False, True])
async def test_rotated_refresh_token_is_kept_and_handed_over(autojump_clock, in_process) -> None:
    """Also through an `InProcessTransport` (the simulation's), which skips `AsyncClient.send`
    for the token request too: the same form, the same Basic credentials."""
    fake = FakeSpotify(expires_in=120, rotate_to="AQ-rotated-token-2")
    handed: list[Secret] = []

    async def keep(token: Secret) -> None:
        handed.append(token)

    extra = {"transport": InProcessTransport(fake.handle)} if in_process else {}
    async with service(fake, on_refresh_token=keep, **extra) as spotify:
        assert (await spotify.get_currently_playing()).ok
        await trio.sleep(120)
        assert (await spotify.get_currently_playing()).ok
    # The second refresh used the rotated token (the fake refuses the old one once rotated).
    assert fake.token_requests[1]["refresh_token"] == ["AQ-rotated-token-2"]
    assert handed == [Secret("AQ-rotated-token-2")]
    assert spotify.refresh_token.get() == "AQ-rotated-token-2"
    assert "AQ-rotated" not in repr(spotify.refresh_token)


async def test_refused_refresh_is_a_clear_error_without_secrets(autojump_clock, caplog) -> None:
    fake = FakeSpotify()
    fake.refresh_token = "someone-else"  # the configured token was revoked
    caplog.set_level(logging.DEBUG)
    async with service(fake) as spotify:
        playing = await spotify.get_currently_playing()
        health = await spotify.health_check()
    assert not playing.ok and playing.status_code == 400
    assert "Invalid refresh token" in playing.error
    assert not health.available
    for text in (playing.error, health.error or "", caplog.text):
        assert CLIENT_SECRET not in text and REFRESH_TOKEN not in text


async def test_429_obeys_retry_after(autojump_clock) -> None:
    fake = FakeSpotify()
    limited = httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"status": 429}})
    fake.override("/me/player/currently-playing", lambda r: limited)
    async with service(fake) as spotify:
        await spotify.ensure_token()
        started = trio.current_time()
        playing = await spotify.get_currently_playing()
        waited = trio.current_time() - started
    assert playing.ok and playing.data is not None
    assert waited >= 7.0
    assert fake.count("/me/player/currently-playing") == 2


async def test_5xx_is_retried_with_backoff_then_succeeds(autojump_clock) -> None:
    fake = FakeSpotify()
    error = httpx.Response(502, text="Bad gateway")
    fake.override("/me/player/recently-played", lambda r: error, lambda r: error)
    async with service(fake) as spotify:
        recent = await spotify.get_recently_played(limit=2)
    assert recent.ok and len(recent.data.items) == 2
    assert recent.attempts == 3


async def test_5xx_that_persists_fails_cleanly(autojump_clock) -> None:
    fake = FakeSpotify()
    fake.down = True
    async with service(fake) as spotify:
        await spotify.ensure_token()
        playing = await spotify.get_currently_playing()
    assert not playing.ok and playing.error_kind == ErrorKind.SERVER
    assert playing.attempts == spotify.retry.max_retries + 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/me/player/currently-playing", b"{not json"),
        ("/me/player/currently-playing", b'{"item": null}'),
        ("/me/player/recently-played", b'{"items": "nope"}'),
    ],
)
async def test_malformed_bodies_are_decode_errors(autojump_clock, path: str, body: bytes) -> None:
    fake = FakeSpotify()
    fake.override(path, lambda r: httpx.Response(200, content=body))
    async with service(fake) as spotify:
        if path.endswith("recently-played"):
            response = await spotify.get_recently_played()
        else:
            response = await spotify.get_currently_playing()
    assert not response.ok and response.error_kind == ErrorKind.DECODE
    assert "unexpected response shape" in response.error


async def test_malformed_token_response_is_an_error(autojump_clock) -> None:
    fake = FakeSpotify()
    fake.override("/api/token", lambda r: httpx.Response(200, json={"token": "x"}))
    original = fake.handle

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/token" and fake.overrides.get("/api/token"):
            fake.requests.append(request)
            return fake.overrides["/api/token"].pop(0)(request)
        return original(request)

    spotify = SpotifyService(
        SETTINGS, transport=httpx.MockTransport(handle), clock=Clock(start_epoch=NOW)
    )
    async with spotify:
        first = await spotify.get_currently_playing()
        second = await spotify.get_currently_playing()  # the next refresh works
    assert not first.ok and "unexpected shape" in first.error
    assert second.ok


@pytest.mark.parametrize("status", [403, 404])
async def test_audio_features_refused_falls_back_to_an_estimate(
    autojump_clock, status: int
) -> None:
    fake = FakeSpotify()
    fake.audio_features_status = status
    fake.artist_genres = {"6cmp7ut7okJAgJOSaMAVf3": ["power metal", "symphonic metal"]}
    async with service(fake) as spotify:
        mood = await spotify.analyze_current_mood()
        again = await spotify.analyze_current_mood()
    assert mood.ok and mood.data.source == "estimate"
    assert 0.1 < mood.data.confidence <= MAX_ESTIMATE_CONFIDENCE
    assert mood.data.energy > 0.8  # metal, from the artist's genres
    assert spotify.audio_features_available is False
    # Remembered: the second analysis does not ask for audio features again.
    assert fake.count("/audio-features") == 1
    assert again.data.source == "estimate"


async def test_estimate_without_genres_is_low_confidence(autojump_clock) -> None:
    fake = FakeSpotify()
    fake.audio_features_status = 403
    fake.override("/artists", lambda r: httpx.Response(403, json={"error": {"status": 403}}))
    async with service(fake) as spotify:
        mood = await spotify.analyze_current_mood()
    assert mood.ok and mood.data.source == "estimate"
    assert mood.data.confidence < 0.25  # popularity and hour only
    assert spotify.artists_available is False


async def test_recently_played_cursor_parameters(autojump_clock) -> None:
    fake = FakeSpotify()
    async with service(fake) as spotify:
        recent = await spotify.get_recently_played(limit=20, before=1728234176022)
        with pytest.raises(ValueError):
            await spotify.get_recently_played(limit=51)
        with pytest.raises(ValueError):
            await spotify.get_recently_played(after=1, before=2)
    assert recent.ok and recent.data.cursors.after == "1728238158556"
    sent = [r for r in fake.requests if r.url.path.endswith("recently-played")][0]
    assert sent.url.params["limit"] == "20" and sent.url.params["before"] == "1728234176022"


async def test_listening_trends_from_real_history(autojump_clock) -> None:
    fake = FakeSpotify()
    fake.audio_features_status = 403
    async with service(fake) as spotify:
        trends = await spotify.get_listening_trends(days=7)
    assert trends.ok
    data = trends.data
    assert data.tracks_played == 2
    assert data.minutes_by_day["2024-10-06"] > 0
    assert sum(data.minutes_by_hour) == pytest.approx(data.total_minutes, abs=0.05)
    assert data.top_artists[0][0] == "Karen O"
    assert data.mood_trend and all(p.confidence <= MAX_ESTIMATE_CONFIDENCE for p in data.mood_trend)
    sent = [r for r in fake.requests if r.url.path.endswith("recently-played")][0]
    assert int(sent.url.params["after"]) == int((NOW - 7 * 86400) * 1000)


async def test_repr_and_errors_hide_tokens(autojump_clock) -> None:
    fake = FakeSpotify()
    async with service(fake) as spotify:
        await spotify.ensure_token()
        assert "BQ-access" not in repr(spotify) and CLIENT_SECRET not in repr(spotify)
        assert spotify.redact("token BQ-access-1 leaked") == "token *** leaked"


async def test_a_track_playing_for_many_polls_is_measured_once(autojump_clock) -> None:
    fake = FakeSpotify()
    async with service(fake) as spotify:
        for _ in range(5):
            assert (await spotify.analyze_current_mood()).data.source == "audio_features"
    assert fake.count("/me/player/currently-playing") == 5
    assert fake.count("/audio-features") == 1


async def test_genres_are_fetched_once_per_artist(autojump_clock) -> None:
    fake = FakeSpotify()
    fake.audio_features_status = 403
    fake.artist_genres = {"6cmp7ut7okJAgJOSaMAVf3": ["power metal"]}
    async with service(fake) as spotify:
        for _ in range(3):
            assert (await spotify.analyze_current_mood()).data.energy > 0.8
    assert fake.count("/artists") == 1
