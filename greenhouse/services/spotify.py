"""Spotify Web API client: what plays now, what played lately, and the mood of it.

    async with SpotifyService(settings.spotify) as spotify:
        mood = await spotify.analyze_current_mood()

Authentication is the authorization-code flow's second half: a long-lived refresh token (obtained
once, outside the garden) is exchanged for one-hour access tokens at `{accounts}/api/token` with
HTTP Basic client id:secret. The access token is refreshed a minute before it expires and once
more when the API answers 401. When Spotify rotates the refresh token the new one is kept (and
handed to `on_refresh_token`, so a store can persist it encrypted); tokens never reach logs,
errors or reprs.

Audio Features were removed for new and development-mode apps on 2024-11-27. The client tries
them once; a 403 or 404 marks them unavailable for this app (remembered, not retried) and moods
are then estimated from artist genres, popularity and listening hour with a stated confidence
(see `music_mood`).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import trio

from greenhouse.config import Secret, SpotifyConfig
from greenhouse.models import (
    ArtistsResponse,
    AudioFeaturesResponse,
    CurrentlyPlaying,
    ListeningTrends,
    MusicMood,
    RecentlyPlayed,
    SpotifyToken,
    SpotifyTrack,
    TrackMood,
)

from .base import (
    APIResponse,
    BaseIntegration,
    ErrorKind,
    HealthStatus,
    RateLimitInfo,
    _TooLarge,
    server_block_until,
)
from .music_mood import estimate_track_mood, listening_trends, mood_from_features, music_mood

__all__ = ["SpotifyAuthError", "SpotifyService"]

# Refresh this long before the token's stated expiry, so a request never carries a token that
# expires in flight.
REFRESH_MARGIN = 60.0
MAX_IDS_PER_REQUEST = 50  # Spotify's limit for /artists and /audio-features?ids=
KNOWN_IDS = 2000  # remembered track features and artist genres, each


class SpotifyAuthError(Exception):
    """The token endpoint refused or failed; the message never contains a secret."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status  # the token endpoint's HTTP status, 0 when none was received


class SpotifyService(BaseIntegration):
    """Spotify client on `BaseIntegration`: OAuth refresh, player reads, mood and trends."""

    name = "spotify"
    health_path = "/me/player/currently-playing"

    def __init__(
        self,
        settings: SpotifyConfig,
        *,
        on_refresh_token: Callable[[Secret], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings.api_base_url, **kwargs)
        self.settings = settings
        self.token_url = f"{settings.accounts_base_url.rstrip('/')}/api/token"
        self._refresh_token = settings.refresh_token
        self._access_token = Secret("")
        self._expires_at = 0.0
        self._refresh_lock = trio.Lock()
        self._on_refresh_token = on_refresh_token
        self.token_refreshes = 0
        # None: not tried yet; False: Spotify said 403/404 for this app (remembered).
        self.audio_features_available: bool | None = None
        self.artists_available: bool | None = None
        # A track's features and an artist's genres do not change: ask once per id.
        self._features_known: dict[str, TrackMood] = {}
        self._genres_known: dict[str, tuple[str, ...]] = {}

    # ---- auth -------------------------------------------------------------------------------

    def _get_auth_headers(self) -> dict[str, str]:
        token = self._access_token.get()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _secrets(self) -> list[str]:
        values = [
            self._access_token.get(),
            self._refresh_token.get(),
            self.settings.refresh_token.get(),
            self.settings.client_secret.get(),
            self._basic_credentials(),
        ]
        return [v for v in values if v]

    def _basic_credentials(self) -> str:
        pair = f"{self.settings.client_id}:{self.settings.client_secret.get()}"
        return base64.b64encode(pair.encode()).decode("ascii")

    @property
    def token_expires_at(self) -> float:
        """Epoch second at which the current access token expires (0 when there is none)."""
        return self._expires_at

    @property
    def refresh_token(self) -> Secret:
        """The refresh token in use (the rotated one when Spotify sent a new one)."""
        return self._refresh_token

    def _token_fresh(self) -> bool:
        return bool(self._access_token) and self._time() < self._expires_at - REFRESH_MARGIN

    async def ensure_token(self, *, force: bool = False) -> None:
        """Make sure a valid access token is held; raises `SpotifyAuthError` when refused."""
        if not force and self._token_fresh() and not self._refresh_lock.locked():
            return  # what the check under the lock would find, without waiting for the lock
        stale = self._access_token
        async with self._refresh_lock:
            # Another task may have refreshed while this one waited for the lock.
            if self._token_fresh() and (not force or self._access_token != stale):
                return
            await self._refresh()

    async def _refresh(self) -> None:
        if not self._refresh_token or not self.settings.client_id:
            raise SpotifyAuthError("spotify: no client id or refresh token configured")
        wait = self.server_wait()
        if wait > 0:
            # Spotify said "wait" (to this or the API host): no token request before it ends.
            raise SpotifyAuthError(f"spotify: token refresh held back {wait:.0f}s by Retry-After",
                                   429)
        headers = {
            "Authorization": f"Basic {self._basic_credentials()}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token.get()}
        try:
            with trio.fail_after(self.timeout * 1.5):
                request = self._build_request("POST", self.token_url, headers, data=form)
                response = await self._send(request)
                try:
                    # Capped like every other body: a broken proxy's 50 MB answer is refused
                    # after max_body_bytes instead of being held in memory whole.
                    content = await self._read_capped(response)
                finally:
                    await response.aclose()
                now = self._time()
                until = server_block_until(RateLimitInfo.from_headers(response.headers, now), now)
                if until is not None:  # a 429 from the token endpoint binds the next refresh
                    self._blocked_until = max(self._blocked_until, self._monotonic() + until - now)
        except trio.TooSlowError:
            raise SpotifyAuthError("spotify: token refresh timed out") from None
        except _TooLarge:
            raise SpotifyAuthError(
                f"spotify: token response over {self.max_body_bytes} bytes"
            ) from None
        except httpx.HTTPError as exc:
            raise SpotifyAuthError(
                self.redact(f"spotify: token refresh failed: {type(exc).__name__}: {exc}")
            ) from None
        if response.status_code != 200:
            detail = ""
            try:
                body = msgspec.json.decode(content)
                if isinstance(body, dict):
                    detail = str(body.get("error_description") or body.get("error") or "")[:200]
            except msgspec.DecodeError:
                pass
            message = f"spotify: token refresh refused: HTTP {response.status_code}"
            raise SpotifyAuthError(
                self.redact(message + (f": {detail}" if detail else "")), response.status_code
            )
        try:
            token = msgspec.json.decode(content, type=SpotifyToken)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise SpotifyAuthError(
                f"spotify: token response has an unexpected shape: {exc}"
            ) from None
        self._access_token = Secret(token.access_token)
        self._expires_at = self._time() + token.expires_in
        self.token_refreshes += 1
        if token.refresh_token and token.refresh_token != self._refresh_token.get():
            self._refresh_token = Secret(token.refresh_token)
            self.log.info("spotify: refresh token rotated")
            if self._on_refresh_token is not None:
                await self._on_refresh_token(self._refresh_token)

    async def _call(
        self, path: str, *, response_type: Any, params: dict[str, Any] | None = None, **kw: Any
    ) -> APIResponse[Any]:
        """An authenticated GET: a fresh token first, and one refresh-and-retry on a 401."""
        for attempt in range(2):
            try:
                await self.ensure_token(force=attempt > 0)
            except SpotifyAuthError as exc:
                kind = ErrorKind.HTTP if exc.status else ErrorKind.TRANSPORT
                return self._fail(kind, str(exc).removeprefix("spotify: "), exc.status)
            response = await self.make_request(
                "GET", path, response_type=response_type, params=params, **kw
            )
            if response.status_code != 401:
                return response
            self.log.info("spotify: 401 on %s, refreshing the access token", path)
        return response

    async def health_check(self) -> HealthStatus:
        """Refresh the token if needed, then one cheap read of the player."""
        try:
            await self.ensure_token()
        except SpotifyAuthError as exc:
            return HealthStatus(service=self.name, available=False, error=str(exc))
        return await super().health_check()

    # ---- reads ------------------------------------------------------------------------------

    async def get_currently_playing(self) -> APIResponse[CurrentlyPlaying | None]:
        """What plays now; `data` is None when nothing plays (Spotify's 204 is a normal state)."""
        response = await self._call(
            "/me/player/currently-playing",
            response_type=bytes,
            params={"additional_types": "track,episode"},
            conditional=False,
        )
        if not response.ok:
            return response
        body: bytes = response.data or b""
        if response.status_code == 204 or not body.strip():
            response.data = None
            return response
        try:
            response.data = msgspec.json.decode(body, type=CurrentlyPlaying)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return self._fail(
                ErrorKind.DECODE,
                f"GET /me/player/currently-playing: unexpected response shape: {exc}",
                response.status_code,
            )
        return response

    async def get_recently_played(
        self, limit: int = 50, *, after: int | None = None, before: int | None = None
    ) -> APIResponse[RecentlyPlayed]:
        """Recently played tracks (at most 50); `after`/`before` are Unix-millisecond cursors."""
        if not 1 <= limit <= 50:
            raise ValueError(f"limit must be within [1, 50], got {limit}")
        if after is not None and before is not None:
            raise ValueError("give at most one of after and before")
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after"] = after
        if before is not None:
            params["before"] = before
        return await self._call(
            "/me/player/recently-played", response_type=RecentlyPlayed, params=params
        )

    async def get_audio_features(
        self, track_ids: Sequence[str]
    ) -> APIResponse[dict[str, TrackMood]]:
        """Measured moods by track id; empty (and remembered) when Spotify says 403/404."""
        ids = list(dict.fromkeys(i for i in track_ids if i))
        moods: dict[str, TrackMood] = {}
        if self.audio_features_available is False or not ids:
            return APIResponse(data=moods, status_code=0)
        last: APIResponse[Any] = APIResponse(data=moods)
        for chunk in _chunks(ids, MAX_IDS_PER_REQUEST):
            last = await self._call(
                "/audio-features",
                response_type=AudioFeaturesResponse,
                params={"ids": ",".join(chunk)},
            )
            if last.status_code in (403, 404):
                self.audio_features_available = False
                self.log.info(
                    "spotify: audio features unavailable for this app (HTTP %d); estimating moods",
                    last.status_code,
                )
                return APIResponse(data=moods, status_code=last.status_code)
            if not last.ok or last.data is None:
                return last
            self.audio_features_available = True
            for features in last.data.audio_features:
                if features is not None:
                    moods[features.id] = mood_from_features(features)
        return APIResponse(data=moods, status_code=last.status_code)

    async def get_artist_genres(self, artist_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Genres by artist id, best effort: {} when the API refuses or fails."""
        ids = list(dict.fromkeys(i for i in artist_ids if i))
        genres: dict[str, tuple[str, ...]] = {}
        if self.artists_available is False or not ids:
            return genres
        for chunk in _chunks(ids, MAX_IDS_PER_REQUEST):
            response = await self._call(
                "/artists", response_type=ArtistsResponse, params={"ids": ",".join(chunk)}
            )
            if response.status_code in (403, 404):
                self.artists_available = False
                return genres
            if not response.ok or response.data is None:
                return genres
            self.artists_available = True
            for artist in response.data.artists:
                if artist is not None and artist.id:
                    genres[artist.id] = artist.genres
        return genres

    async def track_moods(
        self, tracks: Iterable[SpotifyTrack], hours: dict[str, int] | None = None
    ) -> dict[str, TrackMood]:
        """A mood for every track: measured when audio features answer, else estimated.

        Features and genres are remembered per id (at most `KNOWN_IDS` of each), so a track
        that plays for several polls costs one features request, not one per poll.
        """
        unique = {t.id: t for t in tracks if t.id}
        unknown = [tid for tid in unique if tid not in self._features_known]
        features = await self.get_audio_features(unknown)
        _remember(self._features_known, features.data or {})
        moods = {tid: self._features_known[tid] for tid in unique if tid in self._features_known}
        missing = [t for tid, t in unique.items() if tid not in moods]
        if missing:
            artist_ids = [a.id for t in missing for a in t.artists if a.id]
            wanted = [a for a in artist_ids if a not in self._genres_known]
            _remember(self._genres_known, await self.get_artist_genres(wanted))
            for track in missing:
                track_genres = [
                    g for a in track.artists for g in self._genres_known.get(a.id or "", ())
                ]
                hour = (hours or {}).get(track.id or "")
                moods[track.id or ""] = estimate_track_mood(track, genres=track_genres, hour=hour)
        return moods

    async def analyze_current_mood(self) -> APIResponse[MusicMood]:
        """The music side of the garden's mood right now (silent when nothing plays)."""
        playing = await self.get_currently_playing()
        if not playing.ok:
            return playing  # type: ignore[return-value]
        current: CurrentlyPlaying | None = playing.data
        if current is None or current.item is None or not current.is_playing:
            return APIResponse(data=music_mood(None, None, is_playing=False), status_code=204)
        track = current.item
        hour = datetime.fromtimestamp(self._time(), tz=UTC).hour
        moods = await self.track_moods([track], {track.id or "": hour}) if track.id else {}
        mood = moods.get(track.id or "") or estimate_track_mood(track, hour=hour)
        return APIResponse(
            data=music_mood(track, mood, is_playing=True, progress_ms=current.progress_ms),
            status_code=playing.status_code,
        )

    async def get_listening_trends(self, days: int = 7) -> APIResponse[ListeningTrends]:
        """Listening minutes per day and hour, top artists and tracks, and the mood trend."""
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        now = self._time()
        after_ms = int((now - days * 86400) * 1000)
        recent = await self.get_recently_played(50, after=after_ms)
        if not recent.ok or recent.data is None:
            return recent  # type: ignore[return-value]
        history = recent.data.items
        hours: dict[str, int] = {}
        for item in history:
            try:
                at = datetime.fromisoformat(item.played_at.replace("Z", "+00:00"))
            except ValueError:
                continue
            hours[item.track.id or ""] = at.hour
        moods = await self.track_moods([item.track for item in history], hours)
        trends = listening_trends(history, moods, now=now, days=days)
        return APIResponse(data=trends, status_code=recent.status_code)


def _remember(known: dict[str, Any], new: Mapping[str, Any]) -> None:
    known.update(new)
    for stale in list(known)[: max(0, len(known) - KNOWN_IDS)]:
        del known[stale]  # oldest first: dicts keep insertion order


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
