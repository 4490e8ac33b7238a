"""CPU per API call on the request path: each service client against the simulation world.

    python bench/request_path.py            # 400 calls per request kind, best of 3
    python bench/request_path.py --quick    # 100 calls, best of 2

Every client runs the real `BaseIntegration` path (URL, headers, conditional GET, limits,
decoding) with the in-memory gate and cache, against the world's answers, on the world's
`InProcessTransport` and, for reference, on a plain `httpx.MockTransport` of the same world
(the path every transport but the in-process one takes: `AsyncClient.send`). The actors' hops
(bucket and cache asks) are not in it: `bench/simulate.py --by-actor` shows those.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import report  # noqa: E402

DAY = 86400.0


async def measure(calls: int, mock: bool) -> dict[str, float]:
    """Microseconds of CPU per call for each request kind."""
    import httpx

    from greenhouse.config import settings_from_mapping
    from greenhouse.runtime import Clock
    from greenhouse.services.github import GitHubService
    from greenhouse.services.spotify import SpotifyService
    from greenhouse.services.wakatime import WakaTimeService
    from greenhouse.services.weather import WeatherService
    from greenhouse.simulation.fake_apis import WorldAPI, demo_environment
    from greenhouse.simulation.world import DEFAULT_START, World

    clock = Clock(start_epoch=DEFAULT_START + 2 * DAY)
    api = WorldAPI(World(seed=7, start=DEFAULT_START, always_listening=True), clock.time)
    transport = httpx.MockTransport(api.handle) if mock else api.transport()
    settings = settings_from_mapping(demo_environment())
    spotify = SpotifyService(settings.spotify, transport=transport, clock=clock)
    github = GitHubService(settings.github, transport=transport, clock=clock)
    weather = WeatherService(settings.weather, transport=transport, clock=clock)
    wakatime = WakaTimeService(settings.wakatime, transport=transport, clock=clock)
    kinds: dict[str, Callable[[], Awaitable[Any]]] = {
        "spotify: currently playing": spotify.get_currently_playing,
        "github: events (304)": github.get_user_events,
        "github: repositories (304)": github.get_user_repositories,
        "weather: current": weather.get_current_weather,
        "wakatime: durations (304)": lambda: wakatime.get_durations("2026-03-03"),
    }
    results: dict[str, float] = {}
    for name, call in kinds.items():
        for _ in range(3):  # warm: token, caches, the world's first answers
            await call()
        started = time.process_time()
        for _ in range(calls):
            # Every call a request: not held back by X-Poll-Interval or the weather's floor.
            github._events_next_poll = 0.0  # noqa: SLF001
            weather._recent.clear()  # noqa: SLF001
            response = await call()
        results[name] = (time.process_time() - started) / calls * 1e6
        assert response.ok, (name, response.error)
    for client in (spotify, github, weather, wakatime):
        await client.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 calls, 2 rounds")
    args = parser.parse_args()
    calls, rounds = (100, 2) if args.quick else (args.calls, args.rounds)
    logging.disable(logging.WARNING)
    import trio

    best: dict[bool, dict[str, float]] = {}
    for _ in range(rounds):  # interleaved, best of N: the machine is shared
        for mock in (False, True):
            found = trio.run(measure, calls, mock)
            kept = best.setdefault(mock, found)
            for name, value in found.items():
                kept[name] = min(kept[name], value)
    rows = [
        [name, round(best[False][name], 1), round(best[True][name], 1)] for name in best[False]
    ]
    report(
        "request_path",
        ["request", "us CPU per call (InProcessTransport)", "us (MockTransport, AsyncClient.send)"],
        rows,
        {"calls": calls, "rounds": rounds},
    )


if __name__ == "__main__":
    main()
