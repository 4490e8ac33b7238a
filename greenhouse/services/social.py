"""Social activity and tech trends from every configured source.

    async with SocialService(settings.social) as social:
        summary = await social.get_social_metrics_summary(days=30)
        trends = await social.analyze_tech_trends(days=7, repo_languages=["Python"])

`collect()` asks every configured source at once (see `social_sources.py`); a source that fails
is listed in `failures` and the others still count. Your own activity (feeds, Mastodon, Bluesky,
Twitter/X, LinkedIn) makes the metrics summary; trends read everything, Hacker News included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx
import msgspec
import trio

from greenhouse.config import IntegrationSettings, SocialConfig
from greenhouse.models import Feed, SocialMetricsSummary, SocialPost, TechTrends
from greenhouse.runtime.clock import Clock
from greenhouse.trends import analyze_tech_trends, social_metrics_summary

from .base import APIResponse, BaseIntegration, HealthStatus, RateLimitInfo, RequestGate
from .social_sources import (
    BlueskyClient,
    FeedClient,
    HackerNewsClient,
    LinkedInClient,
    MastodonClient,
    TwitterClient,
    make_clients,
)

__all__ = ["OWN_SOURCES", "SharedGate", "SocialCollection", "SocialService"]

# Sources whose posts are the user's own; Hacker News is the world's, used for trends only.
OWN_SOURCES = ("rss", "mastodon", "bluesky", "twitter", "linkedin")


class SocialCollection(msgspec.Struct, frozen=True, kw_only=True):
    """One round over every source: the posts, and which sources failed and why."""

    collected_at: float
    posts: tuple[SocialPost, ...]
    failures: dict[str, str]
    sources: tuple[str, ...]
    feeds_not_modified: int = 0

    def own_posts(self) -> list[SocialPost]:
        """Posts by the user (not Hacker News)."""
        return [p for p in self.posts if p.source in OWN_SOURCES]


class SharedGate:
    """One `RequestGate` for every social source: they all spend the "social" budget.

    Each source client asks its gate under its own name ("mastodon", "rss", ...); this adapter
    renames the service to "social" (the `SOCIAL_RATE_LIMIT` bucket) and keeps the source in the
    endpoint ("mastodon:statuses"), so the owner of the bucket still sees who spent what.
    """

    def __init__(self, gate: RequestGate, service: str = "social") -> None:
        self.gate = gate
        self.service = service

    async def acquire(self, service: str, endpoint: str, tokens: int = 1) -> None:
        """Admission under the shared service name."""
        await self.gate.acquire(self.service, f"{service}:{endpoint}", tokens)

    async def report(
        self, service: str, endpoint: str, info: RateLimitInfo | None, ok: bool, elapsed_ms: float
    ) -> None:
        """Report under the shared service name."""
        await self.gate.report(self.service, f"{service}:{endpoint}", info, ok, elapsed_ms)


class SocialService:
    """Feeds, Mastodon, Bluesky, Hacker News and the optional Twitter/X and LinkedIn adapters."""

    name = "social"

    def __init__(
        self,
        settings: SocialConfig | IntegrationSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        hackernews_limit: int = 10,
        gate: RequestGate | None = None,
        **kwargs: Any,
    ) -> None:
        config = settings.social if isinstance(settings, IntegrationSettings) else settings
        if gate is not None:
            kwargs["gate"] = SharedGate(gate)
        self.config = config
        self.clock = clock or Clock()
        self.hackernews_limit = hackernews_limit
        self.clients: dict[str, BaseIntegration] = make_clients(
            config, transport=transport, clock=self.clock, sleep=sleep, **kwargs
        )
        self.last: SocialCollection | None = None

    def __repr__(self) -> str:
        return f"SocialService(sources={sorted(self.clients)})"

    @property
    def sources(self) -> tuple[str, ...]:
        """Names of the configured sources."""
        return tuple(self.clients)

    def server_wait(self) -> float:
        """The longest wait any source's server asked for (0: none): one poll reads them all."""
        return max((client.server_wait() for client in self.clients.values()), default=0.0)

    async def aclose(self) -> None:
        """Close every client."""
        for client in self.clients.values():
            await client.aclose()

    async def __aenter__(self) -> SocialService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- one source at a time -----------------------------------------------------------------

    async def get_feed(self, url: str) -> APIResponse[Feed]:
        """One RSS/Atom feed (conditional GET); works for any URL, configured or not."""
        client = self.clients.get("rss")
        if not isinstance(client, FeedClient):
            client = self.clients.setdefault("rss_adhoc", FeedClient((), clock=self.clock))
            assert isinstance(client, FeedClient)
        return await client.get_feed(url)

    async def get_mastodon_statuses(self, limit: int = 40) -> APIResponse[list[SocialPost]]:
        """The configured Mastodon account's statuses."""
        return await self._call("mastodon", MastodonClient, lambda c: c.get_statuses(limit))

    async def get_bluesky_posts(self, limit: int = 50) -> APIResponse[list[SocialPost]]:
        """The configured Bluesky handle's posts."""
        return await self._call("bluesky", BlueskyClient, lambda c: c.get_author_feed(limit))

    async def get_hackernews_top_stories(self, limit: int = 10) -> APIResponse[list[SocialPost]]:
        """Hacker News top stories."""
        return await self._call("hackernews", HackerNewsClient, lambda c: c.get_top_stories(limit))

    async def get_twitter_posts(self, limit: int = 100) -> APIResponse[list[SocialPost]]:
        """The configured Twitter/X user's posts (X API v2)."""
        return await self._call("twitter", TwitterClient, lambda c: c.get_user_posts(limit))

    async def get_linkedin_posts(self, limit: int = 50) -> APIResponse[list[SocialPost]]:
        """The LinkedIn member's posts."""
        return await self._call("linkedin", LinkedInClient, lambda c: c.get_posts(limit))

    async def _call(self, name: str, kind: type, fn: Callable[[Any], Any]) -> APIResponse[Any]:
        client = self.clients.get(name)
        if not isinstance(client, kind):
            return APIResponse(error=f"social: {name} is not configured", error_kind="config")
        result: APIResponse[Any] = await fn(client)
        return result

    # ---- everything at once -------------------------------------------------------------------

    async def collect(self, *, max_age: float = 0.0) -> SocialCollection:
        """Ask every configured source (concurrently); reuse the last round if fresh enough."""
        now = self.clock.time()
        if self.last is not None and max_age > 0 and now - self.last.collected_at <= max_age:
            return self.last
        posts: dict[tuple[str, str], SocialPost] = {}
        failures: dict[str, str] = {}
        not_modified = 0

        def take(name: str, result: APIResponse[Any]) -> None:
            if not result.ok or result.data is None:
                failures[name] = result.error or f"{name}: failed"
                return
            for post in result.data:
                posts[(post.source, post.id)] = post

        async def run_feeds(client: FeedClient) -> None:
            nonlocal not_modified
            for url in client.urls:
                feed = await client.get_feed(url)
                if not feed.ok or feed.data is None:
                    failures[f"rss {url}"] = feed.error or "feed failed"
                    continue
                not_modified += feed.data.not_modified
                for entry in feed.data.entries:
                    posts[(entry.source, entry.id)] = entry

        async with trio.open_nursery() as nursery:
            for name, client in self.clients.items():
                if isinstance(client, FeedClient):
                    if client.urls:
                        nursery.start_soon(run_feeds, client)
                    continue
                nursery.start_soon(self._gather_one, name, client, take)
        ordered = sorted(posts.values(), key=lambda p: (-p.published, p.source, p.id))
        self.last = SocialCollection(
            collected_at=now,
            posts=tuple(ordered),
            failures=dict(sorted(failures.items())),
            sources=tuple(n for n in self.clients if n != "rss_adhoc"),
            feeds_not_modified=not_modified,
        )
        return self.last

    async def _gather_one(
        self, name: str, client: BaseIntegration, take: Callable[[str, APIResponse[Any]], None]
    ) -> None:
        if isinstance(client, MastodonClient):
            take(name, await client.get_statuses())
        elif isinstance(client, BlueskyClient):
            take(name, await client.get_author_feed())
        elif isinstance(client, HackerNewsClient):
            take(name, await client.get_top_stories(self.hackernews_limit))
        elif isinstance(client, TwitterClient):
            take(name, await client.get_user_posts())
        elif isinstance(client, LinkedInClient):
            take(name, await client.get_posts())

    async def get_social_metrics_summary(
        self, days: int = 30, *, max_age: float = 300.0
    ) -> SocialMetricsSummary:
        """Your posts and their engagement per source over the last `days` days."""
        collection = await self.collect(max_age=max_age)
        return social_metrics_summary(
            collection.own_posts(),
            self.clock.time(),
            days,
            sources_failed=_source_names(collection.failures),
        )

    async def analyze_tech_trends(
        self,
        days: int = 7,
        *,
        repo_languages: Iterable[str] = (),
        repo_topics: Iterable[str] = (),
        max_age: float = 300.0,
    ) -> TechTrends:
        """Topic and keyword frequencies, rising topics, and matches with your repositories."""
        collection = await self.collect(max_age=max_age)
        return analyze_tech_trends(
            collection.posts,
            self.clock.time(),
            days,
            repo_languages=repo_languages,
            repo_topics=repo_topics,
        )

    async def health_check(self) -> HealthStatus:
        """Every configured source's health, folded into one status (unavailable if any fails)."""
        checks = await self.health_checks()
        errors = [f"{c.service}: {c.error}" for c in checks.values() if not c.available]
        return HealthStatus(
            service=self.name,
            available=bool(checks) and not errors,
            status_code=max((c.status_code for c in checks.values()), default=0),
            latency_ms=max((c.latency_ms for c in checks.values()), default=0.0),
            error=("; ".join(errors)[:300] or None) if checks else "no social source configured",
        )

    async def health_checks(self) -> dict[str, HealthStatus]:
        """Each configured source's `health_check()`, by name."""
        results: dict[str, HealthStatus] = {}

        async def check(name: str, client: BaseIntegration) -> None:
            results[name] = await client.health_check()

        async with trio.open_nursery() as nursery:
            for name, client in self.clients.items():
                if name != "rss_adhoc":
                    nursery.start_soon(check, name, client)
        return dict(sorted(results.items()))


def _source_names(failures: dict[str, str]) -> list[str]:
    return sorted({key.split(" ", 1)[0] for key in failures})
