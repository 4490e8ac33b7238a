"""SocialService and its source clients against fakes serving the real (and docs-shaped) payloads."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
import trio
import trio.lowlevel

from greenhouse.config import Secret
from greenhouse.runtime.clock import Clock
from greenhouse.services.base import RetryPolicy
from greenhouse.services.social import SocialService
from tests.fake_social import (
    LINKEDIN_TOKEN,
    NOW,
    TWITTER_TOKEN,
    FakeSocialWorld,
    config,
    fixture,
)


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await trio.lowlevel.checkpoint()


def make(world: FakeSocialWorld, **overrides: Any) -> tuple[SocialService, Recorder]:
    sleep = Recorder()
    service = SocialService(
        config(**overrides),
        transport=httpx.MockTransport(world),
        clock=Clock(start_epoch=NOW),
        sleep=sleep,
        rng=random.Random(1),
        retry=RetryPolicy(max_retries=2, backoff_base=0.5),
    )
    return service, sleep


async def test_collect_every_source() -> None:
    world = FakeSocialWorld()
    service, _ = make(world)
    collection = await service.collect()
    assert collection.failures == {}
    by_source: dict[str, int] = {}
    for post in collection.posts:
        by_source[post.source] = by_source.get(post.source, 0) + 1
    assert by_source == {"rss": 2, "mastodon": 1, "bluesky": 2, "hackernews": 1,
                         "twitter": 2, "linkedin": 1}
    mastodon = next(p for p in collection.posts if p.source == "mastodon")
    assert mastodon.text == "Hello world" and mastodon.likes == 112
    bsky = [p for p in collection.posts if p.source == "bluesky"]
    original = next(p for p in bsky if p.likes)
    assert original.tags == ("rust",) and original.likes == 42 and original.shares == 6
    assert next(p for p in bsky if p is not original).likes == 0  # a repost: not our likes
    hn = next(p for p in collection.posts if p.source == "hackernews")
    assert hn.title.startswith("My YC app: Dropbox") and hn.score == 111
    tweet = next(p for p in collection.posts if "Developer Platform" in p.text)
    assert tweet.tags == ("python", "api") and tweet.likes == 80 and tweet.shares == 14
    li = next(p for p in collection.posts if p.source == "linkedin")
    assert li.tags == ("typescript",) and li.published == 1795600000.0
    # Each token went only to its own API.
    for request in world.requests:
        auth = request.headers.get("authorization", "")
        if request.url.host != "x.test":
            assert TWITTER_TOKEN not in auth
        if request.url.host != "li.test":
            assert LINKEDIN_TOKEN not in auth


async def test_feed_conditional_get_uses_etag_and_serves_304_from_cache() -> None:
    world = FakeSocialWorld()
    service, _ = make(world, mastodon_base_url="", mastodon_account="", bluesky_handle="",
                      hackernews_enabled=False, twitter_bearer_token=Secret(""),
                      twitter_user_id="", linkedin_access_token=Secret(""))
    first = await service.get_feed("https://blog.test/rss")
    assert first.ok and not first.data.not_modified and first.data.etag == '"v1"'
    assert first.data.last_modified == "Wed, 25 Nov 2026 10:00:00 GMT"
    second = await service.get_feed("https://blog.test/rss")
    assert world.requests[-1].headers["if-none-match"] == '"v1"'
    assert world.requests[-1].headers["if-modified-since"] == "Wed, 25 Nov 2026 10:00:00 GMT"
    assert second.ok and second.data.not_modified
    assert second.data.entries == first.data.entries
    world.feed_etag = '"v2"'  # the feed changed: a full 200 again
    third = await service.get_feed("https://blog.test/rss")
    assert third.ok and not third.data.not_modified and third.data.etag == '"v2"'


async def test_an_unchanged_feed_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from greenhouse.services import social_sources

    parsed: list[str] = []
    real = social_sources.parse_feed

    def counting(body: bytes, url: str = "", **kw: Any) -> Any:
        parsed.append(url)
        return real(body, url, **kw)

    monkeypatch.setattr(social_sources, "parse_feed", counting)
    world = FakeSocialWorld()
    service, _ = make(world, mastodon_base_url="", mastodon_account="", bluesky_handle="",
                      hackernews_enabled=False, twitter_bearer_token=Secret(""),
                      twitter_user_id="", linkedin_access_token=Secret(""))
    first = await service.get_feed("https://blog.test/rss")
    second = await service.get_feed("https://blog.test/rss")  # a 304: the same document
    assert second.data.not_modified and second.data.entries == first.data.entries
    assert len(parsed) == 1
    world.feed_etag = '"v2"'
    third = await service.get_feed("https://blog.test/rss")
    assert third.ok and third.data.etag == '"v2"' and len(parsed) == 2


async def test_empty_sources_are_normal() -> None:
    world = FakeSocialWorld()
    world.overrides[("blog.test", "/rss")] = httpx.Response(
        200, content=b'<?xml version="1.0"?><rss version="2.0"><channel><title>q</title></channel></rss>')
    world.overrides[("blog.test", "/atom")] = world.overrides[("blog.test", "/rss")]
    world.overrides[("mastodon.test", "/api/v1/accounts/1/statuses")] = httpx.Response(200, json=[])
    world.overrides[("bsky.test", "/xrpc/app.bsky.feed.getAuthorFeed")] = httpx.Response(200, json={"feed": []})
    world.overrides[("hn.test", "/v0/topstories.json")] = httpx.Response(200, json=[])
    world.overrides[("x.test", "/2/users/2244994945/tweets")] = httpx.Response(
        200, content=fixture("twitter.users.tweets.empty.docs-shape.json"))
    world.overrides[("li.test", "/rest/posts")] = httpx.Response(200, json={"elements": []})
    service, _ = make(world)
    collection = await service.collect()
    assert collection.posts == () and collection.failures == {}
    summary = await service.get_social_metrics_summary()
    assert summary.total_posts == 0 and summary.average_engagement == 0.0
    trends = await service.analyze_tech_trends()
    assert trends.posts == 0 and trends.topics == ()


async def test_broken_feed_fails_that_feed_only() -> None:
    world = FakeSocialWorld()
    world.overrides[("blog.test", "/atom")] = httpx.Response(200, content=b"<html><body>502</body></html>")
    service, _ = make(world)
    collection = await service.collect()
    assert list(collection.failures) == ["rss https://blog.test/atom"]
    assert "not an RSS or Atom feed" in collection.failures["rss https://blog.test/atom"]
    assert any(p.source == "rss" for p in collection.posts)
    assert any(p.source == "mastodon" for p in collection.posts)


async def test_one_source_down_others_still_count() -> None:
    world = FakeSocialWorld()
    world.failing["x.test"] = httpx.Response(503, text="over capacity")
    service, sleep = make(world)
    summary = await service.get_social_metrics_summary(days=30)
    assert summary.sources_failed == ("twitter",)
    assert "twitter" not in summary.posts_by_source
    assert summary.posts_by_source["bluesky"] == 2
    assert len(sleep.sleeps) == 2  # two retries with backoff on the 503s
    failure = service.last.failures["twitter"]
    assert "503" in failure and TWITTER_TOKEN not in failure


async def test_429_retry_after_is_obeyed() -> None:
    world = FakeSocialWorld()
    calls = {"n": 0}
    original = world.__call__

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "bsky.test" and calls["n"] == 0:
            calls["n"] += 1
            return httpx.Response(429, headers={"Retry-After": "30"})
        return original(request)

    sleep = Recorder()
    service = SocialService(config(), transport=httpx.MockTransport(handler),
                            clock=Clock(start_epoch=NOW), sleep=sleep, rng=random.Random(1))
    posts = await service.get_bluesky_posts()
    assert posts.ok and len(posts.data) == 2
    assert 30.0 in [round(s) for s in sleep.sleeps]


@pytest.mark.parametrize(
    ("host", "path", "body"),
    [
        ("mastodon.test", "/api/v1/accounts/1/statuses", b'{"not": "a list"}'),
        ("bsky.test", "/xrpc/app.bsky.feed.getAuthorFeed", b'{"feed": [{"post": {"uri": 1}}]}'),
        ("x.test", "/2/users/2244994945/tweets", b"<html>"),
        ("li.test", "/rest/posts", b'{"elements": "nope"}'),
        ("hn.test", "/v0/topstories.json", b'{"ids": [1]}'),
    ],
)
async def test_malformed_bodies_are_clear_errors(host: str, path: str, body: bytes) -> None:
    world = FakeSocialWorld()
    world.overrides[(host, path)] = httpx.Response(200, content=body)
    service, _ = make(world)
    collection = await service.collect()
    (name,) = collection.failures
    assert "unexpected response shape" in collection.failures[name]
    assert collection.posts  # the other sources still delivered


async def test_metrics_summary_and_trends_from_sources() -> None:
    world = FakeSocialWorld()
    service, _ = make(world)
    summary = await service.get_social_metrics_summary(days=30)
    # own posts within 30 days: bluesky 2, twitter 2, linkedin 1 (RSS/Mastodon samples are old)
    assert summary.posts_by_source == {"bluesky": 2, "linkedin": 1, "twitter": 2}
    assert summary.likes == 42 + 80 + 3
    trends = await service.analyze_tech_trends(days=7, repo_languages=["Rust", "TypeScript"])
    topics = {t.term for t in trends.topics}
    assert {"rust", "python", "typescript", "kubernetes"} <= topics
    assert trends.matching_your_work == ("rust", "typescript")
    before = len(world.requests)
    await service.analyze_tech_trends(days=7)  # reuses the fresh collection
    assert len(world.requests) == before


async def test_health_checks_per_source() -> None:
    world = FakeSocialWorld()
    world.failing["hn.test"] = httpx.Response(404, json={"error": "gone"})
    service, _ = make(world)
    checks = await service.health_checks()
    assert set(checks) == {"rss", "mastodon", "bluesky", "hackernews", "twitter", "linkedin"}
    assert not checks["hackernews"].available
    overall = await service.health_check()
    assert not overall.available and "hackernews" in overall.error
    assert "Secret('***')" in repr(service.config) and TWITTER_TOKEN not in repr(service.config)


async def test_unconfigured_source_is_a_clear_error() -> None:
    service, _ = make(FakeSocialWorld(), twitter_bearer_token=Secret(""), twitter_user_id="")
    result = await service.get_twitter_posts()
    assert not result.ok and "not configured" in result.error


async def test_a_shared_gate_sees_every_source_as_social() -> None:
    from greenhouse.services.base import MemoryGate

    gate = MemoryGate(time=lambda: NOW)
    service = SocialService(config(), transport=httpx.MockTransport(FakeSocialWorld()),
                            clock=Clock(start_epoch=NOW), gate=gate)
    await service.collect()
    assert set(gate.admissions) == {"social"}
    assert gate.admissions["social"] == len(gate.reports)
    endpoints = {endpoint.split(":", 1)[0] for _, endpoint, *_ in gate.reports}
    assert endpoints == {"rss", "mastodon", "bluesky", "hackernews", "twitter", "linkedin"}
