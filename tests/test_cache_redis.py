"""The optional Redis layer: against a real redis-server, and the fallback without one.

`REDIS_TEST_URL` (set by `.ci/run`, which starts a loopback redis-server) enables the tests that
need a shared server. The kill test starts its own redis-server subprocess on another port and
kills it mid-test; it needs only the `redis-server` binary. The fallback test needs nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import trio

from greenhouse.cache import MultiLayerCache
from greenhouse.cache_redis import RedisLayer
from greenhouse.store import Store

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "")
needs_redis = pytest.mark.skipif(
    not REDIS_TEST_URL,
    reason="REDIS_TEST_URL is not set (.ci/run starts a loopback redis-server and sets it)",
)
needs_binary = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (.ci/run installs the Debian package)",
)


def fresh_db(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.db"
    Store(path).close()
    return path


def layer(url: str, **kwargs: object) -> RedisLayer:
    # A unique prefix per test: runs never see each other's keys on a shared server.
    return RedisLayer(url, prefix=f"test:{uuid.uuid4().hex[:8]}:", **kwargs)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_fallback_when_redis_is_unreachable(tmp_path: Path) -> None:
    """A REDIS_URL that nobody answers: everything works from memory and SQLite."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    cache = MultiLayerCache(fresh_db(tmp_path, "a"), redis=layer(dead, min_backoff=60.0))
    await cache.set("k", {"v": 1}, tags=("service:github",))
    assert cache.redis is not None and not cache.redis.available
    assert cache.redis.outages == 1 and cache.redis.stats.errors == 1
    cache.memory.delete("k")
    hit = await cache.get("k")
    assert hit.found and hit.layer == "sqlite"
    assert not (await cache.get("missing")).found
    assert await cache.invalidate_service_cache("github") == 1
    # Marked down: the later calls skipped Redis instead of trying (and waiting) again.
    assert cache.redis.stats.errors == 1
    stats = await cache.stats()
    assert stats["layers"]["redis"]["available"] is False
    await cache.aclose()


async def test_no_redis_url_means_no_redis_layer(tmp_path: Path) -> None:
    cache = MultiLayerCache(fresh_db(tmp_path, "a"), redis_url=None)
    assert cache.redis is None and "redis" not in (await cache.stats())["layers"]
    await cache.aclose()


def test_the_url_password_is_never_shown() -> None:
    redis_layer = RedisLayer("redis://:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in redis_layer.url_display and "***" in redis_layer.url_display
    redis_layer.close()


@needs_redis
async def test_shared_redis_backfills_a_cache_with_an_empty_database(tmp_path: Path) -> None:
    """Another process's cache (its own SQLite) finds the entry in Redis and backfills."""
    shared = layer(REDIS_TEST_URL)
    writer = MultiLayerCache(fresh_db(tmp_path, "writer"), redis=shared)
    await writer.set("repos", ["greenhouse"], ttl=300, tags=("service:github",), etag='"r1"')

    reader = MultiLayerCache(fresh_db(tmp_path, "reader"), redis=shared)
    first = await reader.get("repos")
    assert (first.layer, first.value, first.etag) == ("redis", ["greenhouse"], '"r1"')
    second = await reader.get("repos")
    assert second.layer == "memory"
    reader.memory.delete("repos")
    assert (await reader.get("repos")).layer == "sqlite"  # backfilled into SQLite too

    assert await writer.invalidate_service_cache("github") == 1
    assert await shared.get("repos") is None
    stats = await reader.stats()
    assert stats["layers"]["redis"]["hits"] == 1 and stats["layers"]["redis"]["available"]
    await writer.aclose()
    await reader.aclose()


@needs_redis
async def test_redis_entries_carry_a_ttl(tmp_path: Path) -> None:
    shared = layer(REDIS_TEST_URL, stale_for=100.0)
    cache = MultiLayerCache(fresh_db(tmp_path, "a"), redis=shared)
    await cache.set("k", 1, ttl=50)
    pttl = shared.client.pttl(shared._key("k"))
    assert 100_000 < pttl <= 150_000
    assert await cache.delete("k") and await shared.get("k") is None
    await cache.aclose()


@pytest.fixture
def own_redis() -> Iterator[tuple[str, subprocess.Popen[bytes], int]]:
    """A redis-server subprocess on its own port, that the test may kill."""
    port = free_port()
    proc = start_redis(port)
    yield f"redis://127.0.0.1:{port}/0", proc, port
    proc.kill()
    proc.wait()


def start_redis(port: int) -> subprocess.Popen[bytes]:
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
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)  # a sync fixture helper, before any trio code runs
    client.close()
    return proc


@needs_binary
async def test_redis_killed_mid_test_is_skipped_and_used_again_when_back(
    tmp_path: Path, own_redis: tuple[str, subprocess.Popen[bytes], int]
) -> None:
    url, proc, port = own_redis
    redis_layer = layer(url, min_backoff=0.2, max_backoff=0.2)
    cache = MultiLayerCache(fresh_db(tmp_path, "a"), redis=redis_layer)
    await cache.set("before", "written while redis was up")
    assert await redis_layer.get("before") is not None

    proc.kill()
    proc.wait()

    # Redis is gone: writes and reads go on through memory and SQLite.
    await cache.set("during", "written while redis was down")
    assert not redis_layer.available and redis_layer.outages == 1
    errors = redis_layer.stats.errors
    cache.memory.delete("before")
    assert (await cache.get("before")).value == "written while redis was up"
    assert (await cache.get("during")).value == "written while redis was down"
    assert redis_layer.stats.errors == errors  # skipped, not retried, inside the backoff

    # It comes back on the same port: after the backoff the next call uses it again.
    proc2 = start_redis(port)
    try:
        await trio.sleep(0.25)
        await cache.set("after", "written after redis came back")
        assert redis_layer.available
        assert (await redis_layer.get("after")) is not None
    finally:
        proc2.kill()
        proc2.wait()
    await cache.aclose()
