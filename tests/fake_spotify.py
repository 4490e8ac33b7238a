"""A fake Spotify (accounts + Web API) for `httpx.MockTransport`, serving the real payloads."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import httpx

FIXTURES = Path(__file__).parent / "fixtures" / "spotify"

CLIENT_ID = "client-id-123"
CLIENT_SECRET = "client-secret-XYZ987"
REFRESH_TOKEN = "AQ-refresh-token-original"

PLAYBACK = json.loads((FIXTURES / "player.playback.home-assistant.json").read_text())
OLD_PLAYBACK = json.loads((FIXTURES / "currently-playing.spotify-web-api-js.json").read_text())
RECENT = json.loads((FIXTURES / "recently-played.home-assistant.json").read_text())
FEATURES = json.loads((FIXTURES / "audio-features.home-assistant.json").read_text())
PLAYBACK_TRACK_ID = PLAYBACK["item"]["id"]

Override = Callable[[httpx.Request], httpx.Response | None]


class FakeSpotify:
    """Issues access tokens, checks them, and serves the player, history and features.

    `overrides` maps a path to a queue of handlers consulted before the default answer; a handler
    returning None falls through. Every request is recorded.
    """

    def __init__(
        self,
        *,
        expires_in: int = 3600,
        rotate_to: str | None = None,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        refresh_token: str = REFRESH_TOKEN,
    ) -> None:
        self.expires_in = expires_in
        self.rotate_to = rotate_to
        self.client = f"{client_id}:{client_secret}"
        self.refresh_token = refresh_token
        self.valid_tokens: set[str] = set()
        self.token_requests: list[dict[str, list[str]]] = []
        self.requests: list[httpx.Request] = []
        self.overrides: dict[str, list[Override]] = {}
        self.playing: dict | None = PLAYBACK
        self.audio_features_status = 200
        self.artist_genres: dict[str, list[str]] = {}
        self.down = False  # every API call answers 503

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.url.path.endswith(path))

    def override(self, path: str, *handlers: Override) -> None:
        self.overrides.setdefault(path, []).extend(handlers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/api/token":
            return self._token(request)
        queue = self.overrides.get(request.url.path.removeprefix("/v1"))
        if queue:
            answer = queue.pop(0)(request)
            if answer is not None:
                return answer
        if self.down:
            return httpx.Response(503, json={"error": {"status": 503, "message": "down"}})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return httpx.Response(
                401, json={"error": {"status": 401, "message": "The access token expired"}}
            )
        return self._api(request)

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        self.token_requests.append(form)
        expected = base64.b64encode(self.client.encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return httpx.Response(400, json={"error": "invalid_client"})
        if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [
            self.refresh_token
        ]:
            return httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "Invalid refresh token"}
            )
        access = f"BQ-access-{len(self.token_requests)}"
        self.valid_tokens.add(access)
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": "user-read-currently-playing user-read-recently-played",
        }
        if self.rotate_to:
            body["refresh_token"] = self.rotate_to
            self.refresh_token = self.rotate_to
        return httpx.Response(200, json=body)

    def _api(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1")
        if path == "/me/player/currently-playing":
            if self.playing is None:
                return httpx.Response(204)
            return httpx.Response(200, json=self.playing)
        if path == "/me/player/recently-played":
            return httpx.Response(200, json=RECENT)
        if path == "/audio-features":
            if self.audio_features_status != 200:
                return httpx.Response(
                    self.audio_features_status,
                    json={"error": {"status": self.audio_features_status, "message": "Forbidden"}},
                )
            ids = request.url.params["ids"].split(",")
            return httpx.Response(
                200,
                json={
                    "audio_features": [
                        {**FEATURES, "id": i, "uri": f"spotify:track:{i}"} for i in ids
                    ]
                },
            )
        if path == "/artists":
            ids = request.url.params["ids"].split(",")
            return httpx.Response(
                200,
                json={
                    "artists": [
                        {"id": i, "name": f"artist {i}", "genres": self.artist_genres.get(i, [])}
                        for i in ids
                    ]
                },
            )
        return httpx.Response(404, json={"error": {"status": 404, "message": "Not found"}})
