"""Spotify and weather pollers in the real tree: request gates and caches from extras."""

from __future__ import annotations

import trio

from actors.tree import DEMO_CREDENTIAL, build_garden, run_garden
from greenhouse.config import IntegrationSettings, WebConfig
from greenhouse.runtime import Clock
from greenhouse.services.base import MemoryGate, MemoryResponseCache
from tests.fake_spotify import FakeSpotify
from tests.fake_weather import FakeOpenWeatherMap


async def test_pollers_go_through_the_injected_request_gates(autojump_clock, tmp_path) -> None:
    spotify = FakeSpotify(
        client_id=DEMO_CREDENTIAL, client_secret=DEMO_CREDENTIAL, refresh_token=DEMO_CREDENTIAL
    )
    weather = FakeOpenWeatherMap(api_key=DEMO_CREDENTIAL)
    gates = {"spotify": MemoryGate(), "weather": MemoryGate()}
    caches = {"spotify": MemoryResponseCache(), "weather": MemoryResponseCache()}
    garden = build_garden(
        IntegrationSettings(web=WebConfig(http_port=0, ws_port=0)),
        clock=Clock(start_epoch=1_785_573_885.0),
        db_path=str(tmp_path / "garden.db"),
        extras={
            "transports": {"spotify": spotify.transport(), "weather": weather.transport()},
            "request_gates": gates,
            "response_caches": caches,
        },
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        await trio.sleep(95)  # Spotify polls 4 times, weather once
        nursery.cancel_scope.cancel()
    # Every API request was admitted by the service's own gate (the token POST is not an API
    # call and does not count).
    assert gates["spotify"].admissions["spotify"] == len(spotify.requests) - 1
    assert gates["weather"].admissions["weather"] == len(weather.requests) == 2
    assert "weather" not in gates["spotify"].admissions
