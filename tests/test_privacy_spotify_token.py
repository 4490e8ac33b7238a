"""A Spotify refresh token rotated by Spotify is kept encrypted and used after a restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import trio
from cryptography.fernet import Fernet

from actors.tree import build_garden, run_garden
from greenhouse.config import IntegrationSettings, PrivacyConfig, Secret, SpotifyConfig, WebConfig
from tests.fake_spotify import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeSpotify

ROTATED = "AQ-rotated-token-kept-encrypted"


def _settings(key: str) -> IntegrationSettings:
    return IntegrationSettings(
        spotify=SpotifyConfig(
            client_id=CLIENT_ID,
            client_secret=Secret(CLIENT_SECRET),
            refresh_token=Secret(REFRESH_TOKEN),
            api_base_url="https://api.spotify.test/v1",
            accounts_base_url="https://accounts.spotify.test",
            poll_interval=3600.0,
        ),
        web=WebConfig(http_port=0, ws_port=0),
        privacy=PrivacyConfig(secret_key=Secret(key)),
    )


async def _run_until(db: Path, settings: IntegrationSettings, fake: FakeSpotify, done) -> None:
    garden = build_garden(settings, db_path=str(db),
                          extras={"transports": {"spotify": fake.transport()}})
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        with trio.fail_after(10):
            while not done():  # noqa: ASYNC110 (the condition is set by other actors' threads)
                await trio.sleep(0.02)
        nursery.cancel_scope.cancel()


def _stored(db: Path) -> list[tuple[str, bytes]]:
    conn = sqlite3.connect(db)
    try:
        return [(r[0], bytes(r[1])) for r in conn.execute("SELECT name, ciphertext FROM stored_secrets")]
    finally:
        conn.close()


async def test_rotated_token_survives_a_restart_encrypted(tmp_path):
    db = tmp_path / "garden.db"
    settings = _settings(Fernet.generate_key().decode())
    first = FakeSpotify(rotate_to=ROTATED)
    await _run_until(db, settings, first, lambda: bool(_stored(db)))
    [(name, ciphertext)] = _stored(db)
    assert name.startswith("spotify.refresh_token.")
    assert ROTATED.encode() not in ciphertext
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert ROTATED.encode() not in raw and REFRESH_TOKEN.encode() not in raw

    # After a restart the old token is refused by Spotify; the stored one is used.
    second = FakeSpotify(refresh_token=ROTATED)
    await _run_until(db, settings, second, lambda: bool(second.token_requests))
    assert second.token_requests[0]["refresh_token"] == [ROTATED]


async def test_a_newly_configured_token_wins_over_an_old_rotated_one(tmp_path):
    db = tmp_path / "garden.db"
    key = Fernet.generate_key().decode()
    await _run_until(db, _settings(key), FakeSpotify(rotate_to=ROTATED), lambda: bool(_stored(db)))
    fresh = "AQ-newly-authorised"
    settings = _settings(key)
    settings = IntegrationSettings(
        spotify=SpotifyConfig(**{**{f: getattr(settings.spotify, f)
                                    for f in settings.spotify.__struct_fields__},
                                 "refresh_token": Secret(fresh)}),
        web=settings.web, privacy=settings.privacy,
    )
    fake = FakeSpotify(refresh_token=fresh)
    await _run_until(db, settings, fake, lambda: bool(fake.token_requests))
    assert fake.token_requests[0]["refresh_token"] == [fresh]
