"""A fake social world (feeds, Mastodon, Bluesky, Hacker News, X, LinkedIn) serving real payloads.

Routes by host and path to the files in tests/fixtures/social (real ones copied from
../shared/fixtures/real, docs-shaped ones described in that folder's README).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from greenhouse.config import Secret, SocialConfig

FIXTURES = Path(__file__).parent / "fixtures" / "social"
NOW = 1795700000.0  # 2026-11-26 13:33:20 UTC: the docs-shaped posts are a day or two old
TWITTER_TOKEN = "AAAAAAAAAAAAAAAAAAAAAtwitter-bearer-secret"
LINKEDIN_TOKEN = "AQVlinkedin-access-token-secret"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class FakeSocialWorld:
    """Routes by host and path; records requests; can be told to fail a host."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.failing: dict[str, httpx.Response] = {}
        self.feed_etag = '"v1"'
        self.overrides: dict[tuple[str, str], httpx.Response] = {}
        # The account's statuses, newest first; tests prepend new ones with `post_status`.
        self.statuses: list[dict[str, Any]] = json.loads(fixture("mastodon.statuses.json"))

    def post_status(self, ident: str, created_at: str, html: str) -> None:
        """The account posts a new status (a copy of the real one with new id, time, text)."""
        status = dict(self.statuses[-1], id=ident, created_at=created_at, content=html)
        status["url"] = f"https://mastodon.social/@Gargron/{ident}"
        self.statuses.insert(0, status)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        host, path = request.url.host, request.url.path
        if host in self.failing:
            return self.failing[host]
        if (host, path) in self.overrides:
            return self.overrides[(host, path)]
        if host == "blog.test":
            if request.headers.get("if-none-match") == self.feed_etag:
                return httpx.Response(304, headers={"ETag": self.feed_etag})
            name = "atom10.feedparser-sample.xml" if path == "/atom" else "rss20.feedparser-sample.xml"
            return httpx.Response(
                200,
                content=fixture(name),
                headers={"ETag": self.feed_etag, "Last-Modified": "Wed, 25 Nov 2026 10:00:00 GMT",
                         "Content-Type": "application/rss+xml"},
            )
        if host == "mastodon.test":
            if path == "/api/v1/accounts/lookup":
                assert request.url.params["acct"] == "Gargron"
                account = json.loads(fixture("mastodon.status.json"))["account"]
                return httpx.Response(200, json=account)
            if path == "/api/v1/accounts/1/statuses":
                return httpx.Response(200, json=self.statuses)
            if path == "/api/v1/instance":
                return httpx.Response(200, json={"uri": "mastodon.test"})
        if host == "bsky.test":
            if path == "/xrpc/app.bsky.feed.getAuthorFeed":
                return httpx.Response(200, content=fixture("bluesky.getAuthorFeed.docs-shape.json"))
            if path == "/xrpc/_health":
                return httpx.Response(200, json={"version": "0.4"})
        if host == "hn.test":
            if path == "/v0/topstories.json":
                return httpx.Response(200, content=fixture("hackernews.topstories.docs-shape.json"))
            if path == "/v0/item/8863.json":
                return httpx.Response(200, content=fixture("hackernews.item.story-8863.json"))
            if path.startswith("/v0/item/"):
                return httpx.Response(200, content=b"null")  # HN answers null for unknown ids
        if host == "x.test":
            assert request.headers["authorization"] == f"Bearer {TWITTER_TOKEN}"
            if path == "/2/users/2244994945":  # GET /2/users/:id (the adapter's health check)
                return httpx.Response(
                    200, json={"data": {"id": "2244994945", "name": "X Dev", "username": "XDevelopers"}}
                )
            if path == "/2/users/2244994945/tweets":
                return httpx.Response(200, content=fixture("twitter.users.tweets.docs-shape.json"))
        if host == "li.test":
            assert request.headers["authorization"] == f"Bearer {LINKEDIN_TOKEN}"
            assert request.headers["x-restli-protocol-version"] == "2.0.0"
            if path == "/v2/userinfo":
                return httpx.Response(200, content=fixture("linkedin.userinfo.docs-shape.json"))
            if path == "/rest/posts":
                assert request.url.params["author"] == "urn:li:person:782bbtaQ"
                return httpx.Response(200, content=fixture("linkedin.posts.docs-shape.json"))
        return httpx.Response(404, json={"error": "not found"})


def config(**overrides: Any) -> SocialConfig:
    values: dict[str, Any] = dict(
        rss_feeds=("https://blog.test/rss", "https://blog.test/atom"),
        mastodon_base_url="https://mastodon.test",
        mastodon_account="Gargron",
        bluesky_handle="dev.bsky.social",
        bluesky_base_url="https://bsky.test",
        hackernews_enabled=True,
        hackernews_base_url="https://hn.test/v0",
        twitter_bearer_token=Secret(TWITTER_TOKEN),
        twitter_user_id="2244994945",
        twitter_base_url="https://x.test/2",
        linkedin_access_token=Secret(LINKEDIN_TOKEN),
        linkedin_base_url="https://li.test",
    )
    values.update(overrides)
    return SocialConfig(**values)
