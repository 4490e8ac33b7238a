"""Service clients plugged into the bucket and cache actors through the hook adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from actors.cache import CacheActor
from actors.rate_limit import RateLimitActor
from greenhouse.cache import MultiLayerCache
from greenhouse.runtime import Bus, Clock, Mailbox
from greenhouse.service_hooks import (
    ActorRequestGate,
    ActorResponseCache,
    RateLimitResult,
    check_rate_limit,
)
from greenhouse.services.base import (
    BaseIntegration,
    CachedResponse,
    ErrorKind,
    RequestGate,
    ResponseCache,
)
from greenhouse.store import Store

EPOCH = 1_764_000_000.0


class GitHubLike(BaseIntegration):
    """A client on the real request path (BaseIntegration), named like the GitHub service."""

    name = "github"


class FakeAPI:
    """Answers /user/repos with an ETag and GitHub-style rate-limit headers; 304 on a match."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.remaining = 4999

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(int(EPOCH + 3600)),
            "etag": 'W/"repos-1"',
        }
        if request.headers.get("if-none-match") == 'W/"repos-1"':
            return httpx.Response(304, headers=headers)
        return httpx.Response(200, json=[{"name": "greenhouse"}], headers=headers)


@pytest.fixture
async def actors(tmp_path: Path) -> AsyncIterator[dict[str, Mailbox]]:
    db = tmp_path / "garden.db"
    Store(db).close()
    clock = Clock(start_epoch=EPOCH)
    bus = Bus()
    boxes = {"rate_limit.github": bus.mailbox("rate_limit.github"), "cache": bus.mailbox("cache")}
    bucket = RateLimitActor(
        "github", boxes["rate_limit.github"], bus, per_minute=60, burst=3, clock=clock
    )
    cache = CacheActor(boxes["cache"], bus, lambda: MultiLayerCache(db, clock=clock), clock=clock)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bucket.run)
        nursery.start_soon(cache.run)
        yield boxes
        nursery.cancel_scope.cancel()


def test_adapters_implement_the_protocols() -> None:
    box = Bus().mailbox("x")
    assert isinstance(ActorRequestGate({}), RequestGate)
    assert isinstance(ActorResponseCache(box), ResponseCache)


async def test_client_requests_go_through_the_bucket_and_the_cache(
    actors: dict[str, Mailbox],
) -> None:
    api = FakeAPI()
    gate = ActorRequestGate(actors, max_wait=0.0)
    client = GitHubLike(
        "https://api.github.test",
        transport=httpx.MockTransport(api),
        gate=gate,
        cache=ActorResponseCache(actors["cache"]),
        clock=Clock(start_epoch=EPOCH),
    )
    first = await client.make_request("GET", "/user/repos")
    assert first.ok and first.data == [{"name": "greenhouse"}] and not first.from_cache

    # The second GET is conditional (the ETag came back from the cache actor) and the 304 is
    # answered from the cache.
    second = await client.make_request("GET", "/user/repos")
    assert api.requests[1].headers["if-none-match"] == 'W/"repos-1"'
    assert second.ok and second.from_cache and second.data == [{"name": "greenhouse"}]

    stats = await gate.stats("github")
    assert stats is not None
    assert stats["endpoints"]["/user/repos"]["requests"] == 2
    assert stats["server_clamps"] == 2
    # One token for the first request; the revalidation was admitted for free.
    assert stats["granted_tokens"] == 1

    # The bucket (burst 3) refuses the fourth costly request in a row: no request is sent.
    for path in ("/a", "/b"):
        assert (await client.make_request("GET", path)).ok
    sent = len(api.requests)
    refused = await client.make_request("GET", "/c")
    assert refused.error_kind == ErrorKind.RATE_LIMITED and "local bucket" in (refused.error or "")
    assert len(api.requests) == sent
    await client.aclose()


async def test_server_exhaustion_reaches_the_bucket(actors: dict[str, Mailbox]) -> None:
    api = FakeAPI()
    api.remaining = 0
    gate = ActorRequestGate(actors, max_wait=0.0)
    client = GitHubLike(
        "https://api.github.test",
        transport=httpx.MockTransport(api),
        gate=gate,
        clock=Clock(start_epoch=EPOCH),
    )
    assert (await client.make_request("GET", "/user/repos", conditional=False)).ok
    result, status = await check_rate_limit(actors, "github")
    assert result is RateLimitResult.RATE_LIMITED
    assert status["retry_after"] > 3000  # until the reset an hour away
    await client.aclose()


async def test_check_rate_limit_results(actors: dict[str, Mailbox]) -> None:
    result, status = await check_rate_limit(actors, "github", 2)
    assert result is RateLimitResult.ALLOWED and status["remaining"] == pytest.approx(1.0)
    result, status = await check_rate_limit(actors, "github", 2)
    assert result is RateLimitResult.RATE_LIMITED and status["retry_after"] > 0
    result, _ = await check_rate_limit(actors, "github", 2, max_wait=5.0)
    assert result is RateLimitResult.ALLOWED
    result, status = await check_rate_limit(actors, "github", 10)
    assert result is RateLimitResult.REJECTED and "burst" in status["reason"]
    result, status = await check_rate_limit(actors, "nobody", 1)
    assert result is RateLimitResult.ALLOWED and status["limited"] is False


async def test_unanswered_mailboxes_fail_closed_for_the_gate_and_miss_for_the_cache() -> None:
    bus = Bus()
    silent = {"rate_limit.github": bus.mailbox("rate_limit.github"), "cache": bus.mailbox("c")}
    result, _ = await check_rate_limit(silent, "github", answer_within=0.05)
    assert result is RateLimitResult.UNAVAILABLE
    gate = ActorRequestGate(silent, max_wait=0.0, ask_margin=0.05)
    with pytest.raises(Exception, match="rate limited"):
        await gate.acquire("github", "/x", 1)
    cache = ActorResponseCache(silent["cache"], timeout=0.05)
    assert await cache.get("github:GET:/x") is None
    await cache.set("github:GET:/x", CachedResponse(body=b"{}"), 60)  # logged, not raised


async def test_cached_response_round_trips_with_validators(actors: dict[str, Mailbox]) -> None:
    cache = ActorResponseCache(actors["cache"])
    value = CachedResponse(
        body=b'[{"name": "greenhouse"}]',
        etag='"e"',
        last_modified="Wed, 21 Oct 2015 07:28:00 GMT",
        stored_at=EPOCH,
        headers={"link": '<https://api.github.test/x?page=2>; rel="next"'},
    )
    await cache.set("github:GET:/user/repos", value, 60)
    got: Any = await cache.get("github:GET:/user/repos")
    assert got == value
