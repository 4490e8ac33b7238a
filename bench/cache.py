"""Cache get latency per layer, and the hit rate over a replayed day of simulated polling.

Latency: `MultiLayerCache.get` of a ~2 KB value answered by each layer (memory; SQLite, with the
backfill into memory; Redis, with the backfill into SQLite and memory), the raw Redis layer call,
and a memory hit through the cache actor (`ask`). Median and p99 over many gets, wall clock.

Hit rate: one simulated day of the pollers' calls through `cache_api_call`, with the intervals
of the default configuration and a TTL per endpoint, and a process restart at noon (the memory
layer starts empty and is refilled from SQLite). Virtual time: the day replays in seconds.

Redis: uses REDIS_URL or REDIS_TEST_URL when set, else starts its own redis-server on a free
port when the binary exists, else skips the Redis rows.

    python bench/cache.py [--gets 3000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.cache import CacheActor  # noqa: E402
from bench._report import report  # noqa: E402
from greenhouse.cache import MultiLayerCache  # noqa: E402
from greenhouse.cache_redis import RedisLayer  # noqa: E402
from greenhouse.messages import CacheGet  # noqa: E402
from greenhouse.runtime import Bus, ask  # noqa: E402
from greenhouse.store import Store  # noqa: E402

VALUE = {
    "repos": [{"name": f"repo-{i}", "stars": i, "topics": ["garden", "trio"]} for i in range(30)]
}


class ManualClock:
    """Epoch time that the replay moves by hand (the cache only calls `time()`)."""

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


async def timed(
    n: int, before: Callable[[int], None], get: Callable[[int], Awaitable[Any]]
) -> list[float]:
    samples = []
    for i in range(n):
        before(i)
        start = time.perf_counter()
        await get(i)
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_url() -> tuple[str | None, subprocess.Popen[bytes] | None]:
    url = os.environ.get("REDIS_URL") or os.environ.get("REDIS_TEST_URL")
    if url:
        return url, None
    if shutil.which("redis-server") is None:
        return None, None
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return f"redis://127.0.0.1:{port}/0", proc


async def latency(db: Path, gets: int, url: str | None) -> list[list[Any]]:
    redis = RedisLayer(url, prefix=f"bench:{os.getpid()}:") if url else None
    cache = MultiLayerCache(db, redis=redis, max_entries=gets + 10, max_bytes=1 << 30)
    keys = [f"bench:{i}" for i in range(gets)]
    for key in keys:
        await cache.set(key, VALUE, ttl=3600)
    rows = []

    def nothing(i: int) -> None:
        return None

    def drop_memory(i: int) -> None:
        cache.memory.delete(keys[i])

    def drop_memory_and_sqlite(i: int) -> None:
        cache.memory.delete(keys[i])
        cache.sqlite.delete(keys[i])

    samples = await timed(gets, nothing, lambda i: cache.get(keys[i]))
    rows.append(["memory hit (layer 1)", gets, *percentiles(samples)])
    samples = await timed(gets, drop_memory, lambda i: cache.get(keys[i]))
    rows.append(["SQLite hit (layer 2) + backfill", gets, *percentiles(samples)])
    if redis is not None:
        samples = await timed(gets, drop_memory_and_sqlite, lambda i: cache.get(keys[i]))
        rows.append(["Redis hit + backfill", gets, *percentiles(samples)])
        samples = await timed(gets, nothing, lambda i: redis.get(keys[i]))
        rows.append(["Redis layer get alone", gets, *percentiles(samples)])
    assert (await cache.stats())["layers"]["memory"]["hits"] >= gets
    await cache.aclose()

    # Through the actor: the ask round trip on top of a memory hit.
    bus = Bus()
    box = bus.mailbox("cache", capacity=1024)
    actor = CacheActor(box, bus, lambda: MultiLayerCache(db, max_entries=gets + 10))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        await ask(box, CacheGet(key=keys[0]))
        samples = await timed(gets, nothing, lambda i: ask(box, CacheGet(key=keys[0])))
        nursery.cancel_scope.cancel()
    rows.append(["memory hit via the cache actor (ask)", gets, *percentiles(samples)])
    if redis is not None:
        redis.close()
    return rows


# (service, method, interval seconds, TTL seconds, how many distinct params per poll)
WORKLOAD: list[tuple[str, str, float, float, int]] = [
    ("spotify", "currently_playing", 30, 15, 1),
    ("spotify", "audio_features", 30, 7 * 86400, 1),  # keyed by the playing track
    ("spotify", "recently_played", 300, 120, 1),
    ("weather", "current", 900, 600, 1),
    ("weather", "forecast", 900, 3 * 3600, 1),
    ("github", "user_repos", 1800, 3600, 1),
    ("github", "repo_commits", 1800, 900, 12),
    ("github", "repo_languages", 1800, 86400, 12),
    ("wakatime", "stats_last_7_days", 1800, 3600, 1),
    ("wakatime", "status_bar_today", 1800, 600, 1),
    ("social", "feed", 3600, 1800, 5),
    ("social", "profile", 3600, 86400, 3),
]


async def replay_day(db: Path) -> tuple[list[list[Any]], dict[str, Any]]:
    start = 1_764_115_200.0  # a midnight
    clock = ManualClock(start)
    fetches = 0

    async def fetch() -> dict[str, Any]:
        nonlocal fetches
        fetches += 1
        return VALUE

    def new_cache() -> MultiLayerCache:
        return MultiLayerCache(db, clock=clock)  # type: ignore[arg-type]

    cache = new_cache()
    totals: dict[str, int] = {}
    calls = 0
    schedule = sorted(
        (at, i)
        for i, (_, _, every, _, _) in enumerate(WORKLOAD)
        for at in range(0, 86400, int(every))
    )
    restarted = False
    for at, i in schedule:
        if not restarted and at >= 43200:
            totals = merge(totals, await cache.stats())
            await cache.aclose()
            cache = new_cache()  # a restart at noon: memory empty, SQLite warm
            restarted = True
        clock.now = start + at
        service, method, _, ttl, fan_out = WORKLOAD[i]
        for n in range(fan_out):
            params: dict[str, Any] = {"n": n}
            if method == "audio_features":
                params = {"track": (at // 210) % 180}  # a new track every 3.5 min, 180 on repeat
            await cache.cache_api_call(service, method, params, fetch, ttl=ttl)
            calls += 1
    totals = merge(totals, await cache.stats())
    await cache.aclose()
    hits = calls - fetches
    rows = [
        ["calls", calls],
        ["memory hits", totals["memory_hits"]],
        ["SQLite hits", totals["sqlite_hits"]],
        ["fetches (misses)", fetches],
        ["overall hit rate", round(hits / calls, 4)],
    ]
    return rows, {"calls": calls, "fetches": fetches, "hit_rate": hits / calls, **totals}


def merge(totals: dict[str, int], stats: dict[str, Any]) -> dict[str, int]:
    out = dict(totals)
    out["memory_hits"] = out.get("memory_hits", 0) + stats["layers"]["memory"]["hits"]
    out["sqlite_hits"] = out.get("sqlite_hits", 0) + stats["layers"]["sqlite"]["hits"]
    return out


async def main(gets: int) -> None:
    url, proc = redis_url()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            Store(db).close()
            rows = await latency(db, gets, url)
            report(
                "cache",
                ["get answered by", "n", "median µs", "p99 µs"],
                rows,
                {"redis": bool(url)},
            )
            print()
            day_db = Path(tmp) / "day.db"
            Store(day_db).close()
            day_rows, day = await replay_day(day_db)
            report(
                "cache_day", ["replayed day (defaults, restart at noon)", "value"], day_rows, day
            )
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gets", type=int, default=3000)
    trio.run(main, parser.parse_args().gets)
