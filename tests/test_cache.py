"""The multi-layer cache (greenhouse/cache.py) and its actor, without Redis."""

from __future__ import annotations

import inspect
import types
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest
import trio
import trio.testing
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import greenhouse.messages as messages
from actors.cache import CacheActor
from greenhouse.cache import Fetched, MultiLayerCache, api_cache_key, decode_value, encode_value
from greenhouse.cache_layers import CacheEntry, MemoryLayer
from greenhouse.messages import (
    CacheClearTag,
    CacheDelete,
    CacheGet,
    CacheMaintenance,
    CacheResult,
    CacheSet,
    CacheStatsRequest,
    CommitPushed,
    RunTask,
    TaskFinished,
)
from greenhouse.runtime import Bus, Clock, ask
from greenhouse.store import Store

EPOCH = 1_764_000_000.0


class Repo(msgspec.Struct, frozen=True):
    name: str
    stars: int
    topics: tuple[str, ...] = ()
    score: float | None = None


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "garden.db"
    Store(path).close()  # the garden's migrations create cache_entries
    return path


def entry(key: str, size: int, expires_at: float = 1e12, tags: tuple[str, ...] = ()) -> CacheEntry:
    return CacheEntry(key, b"x" * size, 0.0, expires_at, tags=tags)


# -- layer 1 ------------------------------------------------------------------------------------


def test_memory_lru_evicts_by_count() -> None:
    layer = MemoryLayer(max_entries=3, max_bytes=10**6)
    for key in "abc":
        layer.set(entry(key, 10))
    assert layer.get("a", 0.0) is not None  # a becomes most recently used
    layer.set(entry("d", 10))
    assert "b" not in layer and {"a", "c", "d"} <= {k for k in "abcd" if k in layer}
    assert layer.stats.evictions == 1


def test_memory_lru_evicts_by_bytes_and_refuses_giants() -> None:
    one = entry("a", 100).size
    layer = MemoryLayer(max_entries=100, max_bytes=3 * one)
    for key in "abc":
        layer.set(entry(key, 100))
    layer.set(entry("d", 100))
    assert "a" not in layer and len(layer) == 3 and layer.bytes <= 3 * one
    assert not layer.set(entry("huge", 10 * one))
    assert "huge" not in layer and len(layer) == 3


@given(ops=st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 300)), max_size=80))
def test_memory_bounds_always_hold(ops: list[tuple[str, int]]) -> None:
    layer = MemoryLayer(max_entries=4, max_bytes=1000)
    for key, size in ops:
        layer.set(entry(key, size))
        assert len(layer) <= 4 and layer.bytes <= 1000
        assert layer.bytes == sum(e.size for e in layer._entries.values())


# -- the cache ----------------------------------------------------------------------------------


async def test_ttl_expiry_on_the_mock_clock(db_path: Path, autojump_clock: Any) -> None:
    cache = MultiLayerCache(db_path, clock=Clock(start_epoch=EPOCH))
    await cache.set("k", {"v": 1}, ttl=60)
    assert (await cache.get("k")).layer == "memory"
    await trio.sleep(59.9)
    assert (await cache.get("k")).found
    await trio.sleep(0.2)
    gone = await cache.get("k")
    assert not gone.found
    stale = await cache.get("k", allow_stale=True)
    assert stale.found and stale.stale and stale.value == {"v": 1}
    await cache.aclose()


async def test_restart_backfills_from_sqlite(db_path: Path, autojump_clock: Any) -> None:
    clock = Clock(start_epoch=EPOCH)
    first = MultiLayerCache(db_path, clock=clock)
    await first.set(
        "repo",
        Repo("greenhouse", 42),
        ttl=600,
        etag='W/"abc"',
        last_modified="Wed, 21 Oct 2015 07:28:00 GMT",
    )
    await first.aclose()

    second = MultiLayerCache(db_path, clock=clock)
    hit = await second.get("repo", decode_as=Repo)
    assert (hit.layer, hit.value) == ("sqlite", Repo("greenhouse", 42))
    assert hit.etag == 'W/"abc"' and hit.last_modified == "Wed, 21 Oct 2015 07:28:00 GMT"
    again = await second.get("repo", decode_as=Repo)
    assert again.layer == "memory"
    stats = await second.stats()
    assert stats["layers"]["sqlite"]["hits"] == 1 and stats["layers"]["memory"]["hits"] == 1
    await second.aclose()


async def test_restart_backfill_through_a_new_cache_actor(db_path: Path) -> None:
    clock = Clock(start_epoch=EPOCH)
    bus = Bus()

    async def with_actor(fn: Any) -> Any:
        box = bus.mailbox("cache", capacity=512)
        actor = CacheActor(box, bus, lambda: MultiLayerCache(db_path, clock=clock), clock=clock)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor.run)
            result = await fn(box)
            nursery.cancel_scope.cancel()
        return result

    async def write(box: Any) -> None:
        await ask(box, CacheSet(key="weather:now", value={"temp": 21.5}, ttl=900, etag='"e1"'))

    async def read(box: Any) -> list[CacheResult]:
        return [await ask(box, CacheGet(key="weather:now")) for _ in range(2)]

    await with_actor(write)
    first, second = await with_actor(read)
    assert first.value == {"temp": 21.5} and first.layer == "sqlite" and first.etag == '"e1"'
    assert second.layer == "memory"


async def test_plain_reads_are_answered_while_a_fetch_is_in_flight(db_path: Path) -> None:
    """A read without a fetch is answered in line; a slow fetch still has its own task."""
    clock = Clock(start_epoch=EPOCH)
    bus = Bus()
    box = bus.mailbox("cache", capacity=64)
    actor = CacheActor(box, bus, lambda: MultiLayerCache(db_path, clock=clock), clock=clock)
    release = trio.Event()

    async def slow() -> Fetched:
        await release.wait()
        return Fetched("slow", ttl=60)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        await ask(box, CacheSet(key="ready", value={"n": 1}, ttl=60, etag='"r"'))
        fetched: list[CacheResult] = []
        answered = trio.Event()

        async def fetch_slow() -> None:
            fetched.append(await ask(box, CacheGet(key="slow", fetch=slow), timeout=30))
            answered.set()

        nursery.start_soon(fetch_slow)
        await trio.testing.wait_all_tasks_blocked()
        assert actor._nursery is not None
        spawned: list[Any] = []
        start_soon = actor._nursery.start_soon
        actor._nursery.start_soon = lambda *a, **k: (spawned.append(a), start_soon(*a, **k))
        hit = await ask(box, CacheGet(key="ready"), timeout=5)
        miss = await ask(box, CacheGet(key="absent"), timeout=5)
        assert spawned == []  # both read in line, in the actor's own task
        assert hit.found and hit.value == {"n": 1} and hit.etag == '"r"'
        assert not miss.found and not fetched
        release.set()
        with trio.fail_after(10):  # the fetched entry is stored (a thread hop) before the reply
            await answered.wait()
        assert [r.value for r in fetched] == ["slow"]
        nursery.cancel_scope.cancel()


async def test_single_flight_100_concurrent_gets_one_fetch(db_path: Path) -> None:
    clock = Clock(start_epoch=EPOCH)
    bus = Bus()
    box = bus.mailbox("cache", capacity=512)
    actor = CacheActor(box, bus, lambda: MultiLayerCache(db_path, clock=clock), clock=clock)
    calls = 0
    release = trio.Event()

    async def fetch() -> Fetched:
        nonlocal calls
        calls += 1
        await release.wait()
        return Fetched([1, 2, 3], ttl=60, etag='"v1"')

    results: list[CacheResult] = []

    async def getter() -> None:
        results.append(await ask(box, CacheGet(key="hot", fetch=fetch), timeout=30))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        async with trio.open_nursery() as getters:
            for _ in range(100):
                getters.start_soon(getter)
            await trio.testing.wait_all_tasks_blocked()
            release.set()
        stats = await ask(box, CacheStatsRequest())
        nursery.cancel_scope.cancel()

    assert calls == 1
    assert len(results) == 100 and all(r.value == [1, 2, 3] and r.etag == '"v1"' for r in results)
    assert stats["fetches"] == 1 and stats["single_flight_joins"] == 99


async def test_single_flight_shares_the_error_and_next_get_retries(db_path: Path) -> None:
    cache = MultiLayerCache(db_path, clock=Clock(start_epoch=EPOCH))
    calls = 0

    async def failing() -> Any:
        nonlocal calls
        calls += 1
        await trio.sleep(0.01)
        raise ConnectionError("api down")

    errors: list[BaseException] = []

    async def getter() -> None:
        try:
            await cache.get("k", failing)
        except ConnectionError as error:
            errors.append(error)

    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(getter)
    assert calls == 1 and len(errors) == 10

    async def ok() -> str:
        return "fine"

    assert (await cache.get("k", ok)).value == "fine"
    await cache.aclose()


async def test_stale_on_error(db_path: Path, autojump_clock: Any) -> None:
    cache = MultiLayerCache(db_path, clock=Clock(start_epoch=EPOCH))

    async def good() -> Fetched:
        return Fetched({"track": "Song"}, ttl=30, etag='"t1"')

    async def broken() -> Any:
        raise TimeoutError("spotify timed out")

    fresh = await cache.get("spotify:now", good)
    assert fresh.layer == "fetch" and not fresh.stale
    await trio.sleep(31)
    served = await cache.get("spotify:now", broken)
    assert served.stale and served.value == {"track": "Song"} and served.etag == '"t1"'
    # With no entry at all, the error is the caller's.
    with pytest.raises(TimeoutError):
        await cache.get("spotify:other", broken)
    stats = await cache.stats()
    assert stats["stale_served"] == 1 and stats["fetch_errors"] == 2
    await cache.aclose()


async def test_tags_service_invalidation_and_api_keys(db_path: Path) -> None:
    cache = MultiLayerCache(db_path, clock=Clock(start_epoch=EPOCH))
    key_a = api_cache_key("github", "repos", {"user": "dev", "page": 2})
    key_b = api_cache_key("github", "repos", {"page": 2, "user": "dev"})
    assert key_a == key_b and key_a != api_cache_key("github", "repos", {"user": "dev", "page": 3})
    fetches = 0

    async def fetch() -> list[str]:
        nonlocal fetches
        fetches += 1
        return ["greenhouse"]

    for _ in range(3):
        result = await cache.cache_api_call("github", "repos", {"user": "dev", "page": 2}, fetch)
        assert result.value == ["greenhouse"]
    assert fetches == 1
    await cache.cache_api_call("weather", "now", {"city": "Oslo"}, fetch)
    assert await cache.invalidate_service_cache("github") == 1
    assert not (await cache.get(key_a)).found
    assert (await cache.get(api_cache_key("weather", "now", {"city": "Oslo"}))).found
    await cache.set("x", 1, tags=("t",))
    assert await cache.delete("x") and not await cache.delete("x")
    await cache.aclose()


async def test_maintenance_purges_past_the_stale_window(db_path: Path, autojump_clock: Any) -> None:
    cache = MultiLayerCache(db_path, clock=Clock(start_epoch=EPOCH), stale_for=3600)
    await cache.set("short", 1, ttl=10)
    await cache.set("long", 2, ttl=86400 * 2)
    await trio.sleep(20)
    report = await cache.maintenance()
    assert report["memory_purged"] == 1 and report["sqlite_purged"] == 0  # still servable stale
    await trio.sleep(3600)
    report = await cache.maintenance()
    assert report["sqlite_purged"] == 1 and report["checkpoint"]["busy"] == 0
    assert (await cache.stats())["layers"]["sqlite"]["entries"] == 1
    await cache.aclose()


async def test_actor_answers_every_request_and_runs_the_maintenance_task(db_path: Path) -> None:
    clock = Clock(start_epoch=EPOCH)
    bus = Bus()
    box = bus.subscribe("cache", (RunTask,), capacity=64)
    finished = bus.subscribe("watch", (TaskFinished,), capacity=8)
    actor = CacheActor(box, bus, lambda: MultiLayerCache(db_path, clock=clock), clock=clock)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        await ask(box, CacheSet(key="a", value=1, tags=("t",)))
        await ask(box, CacheSet(key="b", value=2, tags=("t",)))
        assert await ask(box, CacheClearTag(tag="t")) == 2
        await ask(box, CacheSet(key="c", value=3))
        assert await ask(box, CacheDelete(key="c")) is True
        assert "sqlite_purged" in await ask(box, CacheMaintenance())
        await bus.publish(RunTask(task_id="cache_maintenance", execution_id="e1"))
        done = await finished.get()
        assert done.task_id == "cache_maintenance" and done.ok and done.execution_id == "e1"
        # Asked, as the scheduler does: the TaskFinished is the reply; another task is not ours.
        asked = await ask(box, RunTask(task_id="cache_maintenance", execution_id="e2"))
        assert isinstance(asked, TaskFinished) and asked.ok and asked.execution_id == "e2"
        assert await ask(box, RunTask(task_id="growth_calculation", execution_id="e3")) is None
        with pytest.raises(Exception, match="does not handle"):
            await ask(box, "nonsense")
        assert (await ask(box, CacheStatsRequest()))["layers"]["sqlite"]["entries"] == 0
        nursery.cancel_scope.cancel()
    assert actor.maintenance_runs == 3


async def test_bad_values_give_clear_errors_and_keep_the_cache(db_path: Path) -> None:
    cache = MultiLayerCache(db_path, clock=Clock(start_epoch=EPOCH))
    await cache.set("repo", Repo("a", 1))
    with pytest.raises(TypeError):
        await cache.set("repo", object())
    with pytest.raises(msgspec.ValidationError):
        await cache.get("repo", decode_as=list[int])
    assert (await cache.get("repo", decode_as=Repo)).value == Repo("a", 1)
    await cache.aclose()


async def test_corrupt_stored_bytes_are_dropped_and_refetched(db_path: Path) -> None:
    cache = MultiLayerCache(db_path, clock=Clock(start_epoch=EPOCH))
    await cache.set("k", {"good": True}, ttl=600)
    cache.memory.delete("k")
    with cache.sqlite.conn:
        cache.sqlite.conn.execute("UPDATE cache_entries SET value = x'c1c1c1' WHERE key = 'k'")
    assert not (await cache.get("k")).found  # dropped, not an exception

    async def fetch() -> dict[str, bool]:
        return {"fresh": True}

    await cache.set("k", {"good": True}, ttl=600)
    cache.memory.delete("k")
    with cache.sqlite.conn:
        cache.sqlite.conn.execute("UPDATE cache_entries SET value = x'c1' WHERE key = 'k'")
    result = await cache.get("k", fetch)
    assert (result.layer, result.value) == ("fetch", {"fresh": True})
    await cache.aclose()


# -- every Struct round-trips -------------------------------------------------------------------

# Messages that carry callables or live objects (never cached): everything else must round-trip.
_SKIP = {"CacheGet", "CacheResult", "CacheSet", "EventStored"}


def _message_structs() -> list[type[msgspec.Struct]]:
    found = []
    for name, value in vars(messages).items():
        if (
            inspect.isclass(value)
            and issubclass(value, msgspec.Struct)
            and value.__module__ == messages.__name__
            and name not in _SKIP
            and name not in {"Message", "GardenEvent"}
        ):
            found.append(value)
    return found


_json_safe = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _strategy(tp: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of type `tp` within what MessagePack carries (64-bit ints, no NaN)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _strategy(args[0], depth)
    if tp is Any:
        return _json_safe
    if tp is int:
        return st.integers(-(2**63), 2**63 - 1)
    if tp is float:
        return st.floats(allow_nan=False)
    if inspect.isclass(tp) and issubclass(tp, msgspec.Struct):
        return _struct_strategy(tp, depth + 1)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_strategy(arg, depth) for arg in args])
    size = 0 if depth > 2 else 2
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return st.lists(_strategy(args[0], depth), max_size=size).map(tuple)
    if origin is tuple:
        return st.tuples(*[_strategy(arg, depth) for arg in args])
    if origin is dict:
        return st.dictionaries(_strategy(args[0], depth), _strategy(args[1], depth), max_size=size)
    if origin is list:
        return st.lists(_strategy(args[0], depth), max_size=size)
    return st.from_type(tp)


def _struct_strategy(cls: type[msgspec.Struct], depth: int = 0) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: _strategy(hints[f.name], depth) for f in msgspec.structs.fields(cls)}
    return st.builds(cls, **fields)


def _valid(cls: type[msgspec.Struct], value: Any) -> bool:
    """Whether `value` satisfies its type's constraints (what a real message would)."""
    try:
        msgspec.convert(msgspec.to_builtins(value), cls)
    except (msgspec.ValidationError, TypeError, ValueError, OverflowError):
        return False
    return True


def test_there_are_structs_to_round_trip() -> None:
    names = {cls.__name__ for cls in _message_structs()}
    assert {"CommitPushed", "ServerLimits", "Acquire", "WebSocketEvent"} <= names


@pytest.mark.parametrize("cls", _message_structs(), ids=lambda c: c.__name__)
@settings(max_examples=8)
@given(data=st.data())
def test_every_message_struct_round_trips_exactly(
    cls: type[msgspec.Struct], data: st.DataObject
) -> None:
    """Any valid message Struct encoded for the cache decodes back equal, typed."""
    value = data.draw(_struct_strategy(cls))
    assume(_valid(cls, value))
    assert decode_value(encode_value(value), cls) == value


def test_struct_bytes_survive_the_sqlite_layer(db_path: Path) -> None:
    async def main() -> None:
        cache = MultiLayerCache(db_path, clock=Clock(start_epoch=EPOCH))
        value = CommitPushed(
            repository="r",
            commit_count=3,
            author="dev",
            impact_score=0.8,
            timestamp=EPOCH,
            delivery_id="d-1",
        )
        await cache.set("e", value)
        cache.memory.delete("e")
        got = await cache.get("e", decode_as=CommitPushed)
        assert (got.layer, got.value) == ("sqlite", value)
        await cache.aclose()

    trio.run(main)


def test_garden_event_round_trips_with_its_defaults(db_path: Path) -> None:
    async def main() -> CommitPushed:
        cache = MultiLayerCache(db_path, clock=Clock(start_epoch=EPOCH))
        event = CommitPushed(
            repository="r", commit_count=3, author="dev", impact_score=0.8, timestamp=EPOCH
        )
        await cache.set("e", event)
        cache.memory.delete("e")
        result = (await cache.get("e", decode_as=CommitPushed)).value
        await cache.aclose()
        return result

    assert trio.run(main) == CommitPushed(
        repository="r", commit_count=3, author="dev", impact_score=0.8, timestamp=EPOCH
    )
