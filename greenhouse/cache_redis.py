"""The optional Redis cache layer (used when `REDIS_URL` is set).

Client choice: redis-py's asyncio client needs an asyncio loop and does not run under trio, so the
layer uses redis-py's synchronous client in trio worker threads (`trio.to_thread.run_sync`), each
call bounded by a short timeout with `abandon_on_cancel`, so a Redis that hangs cannot hold the
garden up. A Redis that fails is marked down, logged once, and skipped (the other layers answer)
until `retry_at`; then one call tries again, with the pause doubling up to `max_backoff` while it
stays down. Nothing waits on a Redis that is gone.

Entries are stored as MessagePack of `CacheEntry` under `greenhouse:cache:<key>` with a Redis
TTL of the entry's lifetime plus the stale allowance; tags are Redis sets `greenhouse:tag:<tag>`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
import trio

from .cache_layers import CacheEntry, LayerStats

__all__ = ["RedisLayer", "RedisUnavailable"]

log = logging.getLogger("greenhouse.cache.redis")

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(CacheEntry)


class RedisUnavailable(RuntimeError):
    """Redis is down (or marked down until its retry time)."""


def _redact(url: str) -> str:
    """The URL without any password (never logged in clear)."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


class RedisLayer:
    """Redis through redis-py in worker threads, with a down-and-retry circuit."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "greenhouse:",
        timeout: float = 0.25,
        stale_for: float = 86400.0,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
        client: Any = None,
    ) -> None:
        import redis  # the optional `redis` extra; only imported when REDIS_URL is set

        self.url_display = _redact(url)
        self.prefix = prefix
        self.timeout = timeout
        self.stale_for = stale_for
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        # Responses are bytes (decode_responses stays off): MessagePack is binary.
        self.client: Any = client or redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=0,
        )
        self.stats = LayerStats()
        self.available = True
        self.outages = 0
        self.retry_at = -math.inf
        self._backoff = min_backoff
        self._limiter = trio.CapacityLimiter(4)

    # -- the circuit ---------------------------------------------------------------------------

    async def _call(self, fn: Callable[[], T]) -> T:
        now = trio.current_time()
        if not self.available and now < self.retry_at:
            raise RedisUnavailable(f"redis at {self.url_display} is down; retry in "
                                   f"{self.retry_at - now:.1f}s")
        try:
            with trio.fail_after(self.timeout * 2):
                result = await trio.to_thread.run_sync(
                    fn, limiter=self._limiter, abandon_on_cancel=True
                )
        except Exception as error:  # any failure (timeout, refused, protocol) marks it down
            self._down(error)
            raise RedisUnavailable(str(error)) from error
        if not self.available:
            log.warning("redis at %s is back", self.url_display)
            self.available = True
            self._backoff = self.min_backoff
        return result

    def _down(self, error: BaseException) -> None:
        self.stats.errors += 1
        if self.available:
            self.outages += 1
            log.warning(
                "redis at %s unavailable (%s: %s); skipping it, retry in %.1fs",
                self.url_display,
                type(error).__name__,
                error,
                self._backoff,
            )
        self.available = False
        self.retry_at = trio.current_time() + self._backoff
        self._backoff = min(self.max_backoff, self._backoff * 2)

    def usable(self) -> bool:
        """False while marked down and before the retry time (callers skip the layer)."""
        return self.available or trio.current_time() >= self.retry_at

    # -- operations ----------------------------------------------------------------------------

    def _key(self, key: str) -> str:
        return f"{self.prefix}cache:{key}"

    def _tag(self, tag: str) -> str:
        return f"{self.prefix}tag:{tag}"

    async def get(self, key: str) -> CacheEntry | None:
        """The entry for `key`, or None (raises `RedisUnavailable` when down)."""
        raw = await self._call(lambda: self.client.get(self._key(key)))
        if raw is None:
            return None
        try:
            return _decoder.decode(raw)
        except msgspec.DecodeError:
            log.warning("undecodable redis cache entry %r dropped", key)
            await self.delete(key)
            return None

    async def set(self, entry: CacheEntry, now: float) -> None:
        """Store the entry with a Redis TTL of its lifetime plus the stale allowance."""
        ttl_ms = max(1, int((entry.expires_at - now + self.stale_for) * 1000))
        data = _encoder.encode(entry)

        def write() -> None:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(self._key(entry.key), data, px=ttl_ms)
            for tag in entry.tags:
                pipe.sadd(self._tag(tag), entry.key)
            pipe.execute()

        await self._call(write)
        self.stats.sets += 1

    async def delete(self, key: str) -> bool:
        """Remove `key`."""
        return bool(await self._call(lambda: self.client.delete(self._key(key))))

    async def clear_tag(self, tag: str) -> int:
        """Remove every entry carrying `tag`."""

        def clear() -> int:
            keys = [k.decode() for k in self.client.smembers(self._tag(tag))]
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.delete(self._key(key))
            pipe.delete(self._tag(tag))
            results = pipe.execute()
            return int(sum(results[:-1])) if keys else 0

        return await self._call(clear)

    async def size(self) -> dict[str, Any]:
        """Keys under our prefix (approximate: counts by SCAN)."""

        def count() -> int:
            return sum(1 for _ in self.client.scan_iter(match=f"{self.prefix}cache:*", count=500))

        return {"entries": await self._call(count)}

    def close(self) -> None:
        self.client.close()
