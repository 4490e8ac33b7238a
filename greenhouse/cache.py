"""The multi-layer cache: memory LRU+TTL, then SQLite, then (optionally) Redis, then the fetch.

    get(key, fetch)  memory (fresh?) -> SQLite (fresh?) -> Redis (fresh?) -> fetch
                     a hit in a slower layer is copied into the faster ones (backfill)

* Values are encoded once with msgspec MessagePack; `decode_as=SomeStruct` gives the Struct back
  exactly (`decode_as=None` gives builtins).
* Single flight: concurrent misses on one key run ONE fetch; the others wait for its result.
* Stale on error: when the fetch fails and an expired entry is still kept (SQLite keeps them for
  `stale_for` seconds), it is served with `stale=True` instead of the error.
* Entries carry the response's ETag and Last-Modified so clients can make conditional requests.
* SQLite is the local layer, checked before Redis: on one host a SQLite page-cache read is cheaper
  than a round trip to Redis through a worker thread (bench/cache.py shows both); Redis is there
  to share a cache between processes or hosts, and to survive losing the database file.

Times are epoch seconds from the injected `Clock` (entries outlive restarts, so monotonic time
would not do). SQLite and Redis calls run in worker threads; the trio thread never blocks on them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import trio

from .cache_layers import CACHE_MIGRATIONS, CacheEntry, LayerStats, MemoryLayer, SQLiteLayer
from .cache_redis import RedisLayer, RedisUnavailable
from .messages import CacheResult
from .runtime import Clock

__all__ = [
    "CACHE_MIGRATIONS",
    "CacheEntry",
    "Fetched",
    "MultiLayerCache",
    "api_cache_key",
    "decode_value",
    "encode_value",
]

log = logging.getLogger("greenhouse.cache")

_encoder = msgspec.msgpack.Encoder()
_key_encoder = msgspec.json.Encoder(order="sorted")
_decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}


def encode_value(value: Any) -> bytes:
    """MessagePack bytes of anything msgspec encodes (Structs, builtins, datetimes...)."""
    return _encoder.encode(value)


def decode_value(data: bytes, decode_as: Any = None) -> Any:
    """The value back: typed (and validated) as `decode_as`, or builtins when None."""
    decoder = _decoders.get(decode_as)
    if decoder is None:
        decoder = (
            msgspec.msgpack.Decoder(decode_as)
            if decode_as is not None
            else (msgspec.msgpack.Decoder())
        )
        _decoders[decode_as] = decoder
    return decoder.decode(data)


Fetch = Callable[[], Awaitable[Any]]


@dataclass
class Fetched:
    """What a fetch function may return to set the entry's lifetime and validators too."""

    value: Any
    ttl: float | None = None
    etag: str | None = None
    last_modified: str | None = None


def api_cache_key(service: str, method: str, params: Mapping[str, Any] | None = None) -> str:
    """A stable key for one API call: the same parameters in any order give the same key."""
    digest = hashlib.sha256(_key_encoder.encode(dict(params or {}))).hexdigest()[:24]
    return f"{service}:{method}:{digest}"


@dataclass
class _Flight:
    """One fetch in progress that other callers of the same key wait for."""

    done: trio.Event = field(default_factory=trio.Event)
    entry: CacheEntry | None = None
    error: BaseException | None = None
    waiters: int = 0


class MultiLayerCache:
    """Memory, SQLite and optional Redis layers with single flight and stale-on-error."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        clock: Clock | None = None,
        max_entries: int = 2048,
        max_bytes: int = 16 * 1024 * 1024,
        default_ttl: float = 300.0,
        stale_for: float = 86400.0,
        redis_url: str | None = None,
        redis: RedisLayer | None = None,
        checkpoint_pages: int | None = None,
    ) -> None:
        self.clock = clock if clock is not None else Clock()
        self.default_ttl = default_ttl
        self.memory = MemoryLayer(max_entries, max_bytes)
        self.sqlite = SQLiteLayer(db_path, stale_for=stale_for, checkpoint_pages=checkpoint_pages)
        self.redis = redis
        if self.redis is None and redis_url:
            self.redis = RedisLayer(redis_url, stale_for=stale_for)
        self.fetch_stats = LayerStats()  # hits: fetches that succeeded; errors: that failed
        self.stale_served = 0
        self.single_flight_joins = 0
        self._flights: dict[str, _Flight] = {}
        self._sqlite_limiter = trio.CapacityLimiter(1)  # one connection: one thread at a time

    # -- encoding ------------------------------------------------------------------------------

    def _result(self, entry: CacheEntry, layer: str, decode_as: Any, stale: bool) -> CacheResult:
        return CacheResult(
            key=entry.key,
            found=True,
            value=decode_value(entry.value, decode_as),
            layer=layer,
            stale=stale,
            etag=entry.etag,
            last_modified=entry.last_modified,
            stored_at=entry.stored_at,
            expires_at=entry.expires_at,
        )

    def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        # Point reads on the WAL reader connection: tens of microseconds, never blocked by a
        # writer, so they run in the trio thread (cheaper than a thread hop, and they do not
        # let an autojumping MockClock run ahead while a poller waits on its cache).
        return fn(*args)

    async def _sql(self, fn: Callable[..., Any], *args: Any) -> Any:
        # Inline under a MockClock (the simulation): a deterministic replay needs every step
        # in the trio thread.
        return await self.clock.run_sync(fn, *args, limiter=self._sqlite_limiter)

    # -- reading -------------------------------------------------------------------------------

    async def lookup(self, key: str) -> tuple[CacheEntry | None, str, CacheEntry | None]:
        """(fresh entry, layer it came from, stale entry) across the layers, with backfill."""
        now = self.clock.time()
        entry = self.memory.get(key, now)
        if entry is not None:
            return entry, "memory", None
        stale: CacheEntry | None = None
        row = self._read(self.sqlite.get, key)
        if row is not None and row.fresh(now):
            self.sqlite.stats.hits += 1
            self.memory.set(row)
            return row, "sqlite", None
        self.sqlite.stats.misses += 1
        stale = row
        if self.redis is not None and self.redis.usable():
            try:
                remote = await self.redis.get(key)
            except RedisUnavailable:
                remote = None
            else:
                if remote is not None and remote.fresh(now):
                    self.redis.stats.hits += 1
                    self.memory.set(remote)
                    await self._sql(self.sqlite.set, remote)
                    return remote, "redis", None
                self.redis.stats.misses += 1
                if remote is not None and (stale is None or remote.stored_at > stale.stored_at):
                    stale = remote
        return None, "", stale

    async def get(
        self,
        key: str,
        fetch: Fetch | None = None,
        *,
        ttl: float | None = None,
        tags: tuple[str, ...] = (),
        decode_as: Any = None,
        allow_stale: bool = False,
    ) -> CacheResult:
        """The value for `key` from the fastest layer that has it fresh, else from `fetch`.

        Without `fetch` a miss answers `found=False` (or the stale entry if `allow_stale`).
        When `fetch` raises and a stale entry exists, it is served with `stale=True`;
        otherwise the fetch's error propagates.
        """
        entry, layer, stale = await self.lookup(key)
        if entry is not None:
            try:
                return self._result(entry, layer, decode_as, stale=False)
            except msgspec.ValidationError:
                raise  # the bytes are fine; the caller asked for the wrong type
            except msgspec.DecodeError:
                # Corrupt bytes (a damaged row, another program's key): drop the entry and
                # carry on as a miss rather than failing every reader of this key forever.
                log.warning("cache entry %s is not decodable; dropped", key)
                await self.delete(key)
                stale = None
        if fetch is None:
            if allow_stale and stale is not None:
                self.stale_served += 1
                return self._result(stale, "stale", decode_as, stale=True)
            return CacheResult(key=key, found=False)
        try:
            entry = await self._single_flight(key, fetch, ttl, tags)
        except Exception as error:
            if stale is None:
                raise
            self.stale_served += 1
            log.warning("fetch for %s failed (%s); serving the stale entry", key, error)
            return self._result(stale, "stale", decode_as, stale=True)
        return self._result(entry, "fetch", decode_as, stale=False)

    async def _single_flight(
        self, key: str, fetch: Fetch, ttl: float | None, tags: tuple[str, ...]
    ) -> CacheEntry:
        flight = self._flights.get(key)
        if flight is not None:
            self.single_flight_joins += 1
            flight.waiters += 1
            await flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.entry is not None
            return flight.entry
        flight = self._flights[key] = _Flight()
        try:
            fetched = await fetch()
            if not isinstance(fetched, Fetched):
                fetched = Fetched(fetched)
            flight.entry = await self._store(
                key,
                fetched.value,
                fetched.ttl if fetched.ttl is not None else ttl,
                tags,
                fetched.etag,
                fetched.last_modified,
            )
            self.fetch_stats.hits += 1
            return flight.entry
        except BaseException as error:
            flight.error = (
                error
                if isinstance(error, Exception)
                else RuntimeError(f"fetch for {key} was cancelled")
            )
            self.fetch_stats.errors += 1
            raise
        finally:
            del self._flights[key]
            flight.done.set()

    # -- writing -------------------------------------------------------------------------------

    def remember(
        self,
        key: str,
        value: Any,
        ttl: float | None = None,
        *,
        tags: tuple[str, ...] = (),
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> CacheEntry:
        """Encode and keep in memory at once; `persist` then writes it to SQLite (and Redis)."""
        now = self.clock.time()
        lifetime = self.default_ttl if ttl is None else ttl
        entry = CacheEntry(
            key=key,
            value=encode_value(value),
            stored_at=now,
            expires_at=now + lifetime,
            etag=etag,
            last_modified=last_modified,
            tags=tuple(dict.fromkeys(tags)),
        )
        self.memory.set(entry)
        return entry

    async def persist(self, entry: CacheEntry) -> None:
        """Write an entry to SQLite and, when it is up, Redis."""
        await self._sql(self.sqlite.set, entry)
        if self.redis is not None and self.redis.usable():
            # A failure is logged by the layer; SQLite has the entry anyway.
            with contextlib.suppress(RedisUnavailable):
                await self.redis.set(entry, self.clock.time())

    async def _store(
        self,
        key: str,
        value: Any,
        ttl: float | None,
        tags: tuple[str, ...],
        etag: str | None,
        last_modified: str | None,
    ) -> CacheEntry:
        entry = self.remember(key, value, ttl, tags=tags, etag=etag, last_modified=last_modified)
        await self.persist(entry)
        return entry

    async def set(
        self,
        key: str,
        value: Any,
        ttl: float | None = None,
        *,
        tags: tuple[str, ...] = (),
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> CacheEntry:
        """Store `value` under `key` for `ttl` seconds (default `default_ttl`) in every layer."""
        return await self._store(key, value, ttl, tags, etag, last_modified)

    async def delete(self, key: str) -> bool:
        """Remove `key` from every layer; returns whether any layer had it."""
        found = self.memory.delete(key)
        found = await self._sql(self.sqlite.delete, key) or found
        if self.redis is not None and self.redis.usable():
            with contextlib.suppress(RedisUnavailable):
                found = await self.redis.delete(key) or found
        return found

    async def clear_by_tag(self, tag: str) -> int:
        """Remove every entry carrying `tag`; returns how many keys went (the most any layer had)."""
        counts = [self.memory.clear_tag(tag), await self._sql(self.sqlite.clear_tag, tag)]
        if self.redis is not None and self.redis.usable():
            with contextlib.suppress(RedisUnavailable):
                counts.append(await self.redis.clear_tag(tag))
        return max(counts)

    async def invalidate_service_cache(self, service: str) -> int:
        """Remove everything `cache_api_call` stored for `service`."""
        return await self.clear_by_tag(f"service:{service}")

    async def cache_api_call(
        self,
        service: str,
        method: str,
        params: Mapping[str, Any] | None,
        fetch: Fetch,
        *,
        ttl: float | None = None,
        decode_as: Any = None,
    ) -> CacheResult:
        """`get` with a key built from the call's parameters, tagged `service:<service>`."""
        key = api_cache_key(service, method, params)
        return await self.get(
            key, fetch, ttl=ttl, tags=(f"service:{service}",), decode_as=decode_as
        )

    # -- upkeep --------------------------------------------------------------------------------

    async def maintenance(self) -> dict[str, Any]:
        """Purge expired entries (memory now; SQLite past the stale allowance), checkpoint, shrink."""
        now = self.clock.time()
        memory = self.memory.purge_expired(now)
        rows = await self._sql(self.sqlite.purge, now)
        checkpoint = await self._sql(self.sqlite.checkpoint)
        return {"memory_purged": memory, "sqlite_purged": rows, "checkpoint": checkpoint}

    async def stats(self) -> dict[str, Any]:
        """Per-layer hits, misses, hit rate, evictions and size."""
        layers: dict[str, Any] = {
            "memory": {**self.memory.stats.as_dict(), **self.memory.size()},
            "sqlite": {**self.sqlite.stats.as_dict(), **self._read(self.sqlite.size)},
        }
        if self.redis is not None:
            redis: dict[str, Any] = {
                **self.redis.stats.as_dict(),
                "available": self.redis.available,
                "outages": self.redis.outages,
            }
            if self.redis.usable():
                try:
                    redis.update(await self.redis.size())
                except RedisUnavailable:
                    redis["available"] = False
            layers["redis"] = redis
        return {
            "layers": layers,
            "fetches": self.fetch_stats.hits,
            "fetch_errors": self.fetch_stats.errors,
            "stale_served": self.stale_served,
            "single_flight_joins": self.single_flight_joins,
            "in_flight": len(self._flights),
        }

    async def aclose(self) -> None:
        """Close the SQLite connection and the Redis client."""
        await self._sql(self.sqlite.close)
        if self.redis is not None:
            self.redis.close()
