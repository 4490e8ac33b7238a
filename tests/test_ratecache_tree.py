"""The rate-limit and cache actors as the garden's tree builds them."""

from __future__ import annotations

from pathlib import Path

import trio

from actors.tree import RATE_LIMITED_SERVICES, build_garden, run_garden
from greenhouse.config import settings_from_mapping
from greenhouse.messages import Acquire, CacheGet, CacheSet, Denied, Granted, RateLimitStatsRequest
from greenhouse.runtime import Clock, ask
from greenhouse.store import Store


async def test_tree_runs_one_bucket_per_service_and_the_cache(tmp_path: Path) -> None:
    # Real time: the cache's SQLite work runs in worker threads, and an autojumping MockClock
    # would fire the ask timeout while a thread is busy.
    settings = settings_from_mapping({"GITHUB_RATE_LIMIT": "6", "RATE_LIMIT_BURST_SECONDS": "20"})
    garden = build_garden(
        settings, clock=Clock(start_epoch=1_764_000_000.0), db_path=str(tmp_path / "g.db")
    )
    names = {spec.name for spec in garden.root.specs}
    assert {f"rate_limit.{s}" for s in RATE_LIMITED_SERVICES} | {"cache"} <= names
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        github = garden.mailbox("rate_limit.github")
        # 6 per minute with 20 s of burst: 2 at once, then a denial saying when.
        assert isinstance(await ask(github, Acquire()), Granted)
        assert isinstance(await ask(github, Acquire()), Granted)
        denied = await ask(github, Acquire())
        assert isinstance(denied, Denied) and 0 < denied.retry_after <= 10
        stats = await ask(github, RateLimitStatsRequest())
        assert stats["rate_per_minute"] == 6 and stats["capacity"] == 2

        cache = garden.mailbox("cache")
        await ask(cache, CacheSet(key="k", value={"a": 1}, ttl=60))
        assert (await ask(cache, CacheGet(key="k"))).value == {"a": 1}
        nursery.cancel_scope.cancel()


async def test_rate_limiting_can_be_switched_off(tmp_path: Path) -> None:
    settings = settings_from_mapping({"ENABLE_RATE_LIMITING": "false", "WEATHER_RATE_LIMIT": "1"})
    garden = build_garden(
        settings, clock=Clock(start_epoch=1_764_000_000.0), db_path=str(tmp_path / "g.db")
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        weather = garden.mailbox("rate_limit.weather")
        replies = [await ask(weather, Acquire()) for _ in range(10)]
        assert all(isinstance(r, Granted) for r in replies)
        nursery.cancel_scope.cancel()


def test_the_cache_leaves_wal_checkpoints_to_the_store(tmp_path: Path) -> None:
    # The cache's writer checkpoints only past 4x the store's own threshold, so the persistence
    # store's commits fold the shared WAL (SQLite's default made the cache do it for everyone).
    for store_pages, cache_pages in ((None, 4000), (3000, 12000)):
        path = tmp_path / f"g{store_pages}.db"
        garden = build_garden(
            settings_from_mapping({}),
            clock=Clock(start_epoch=1_764_000_000.0),
            store=Store(path, checkpoint_pages=store_pages),
        )
        spec = next(s for s in garden.root.specs if s.name == "cache")
        cache = spec.factory().make_cache()
        pragma = cache.sqlite.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert pragma == cache_pages
        trio.run(cache.aclose)
        garden.store.close()
