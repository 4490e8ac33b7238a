"""One small client per social source, each a `BaseIntegration` with its own base URL and auth.

Separate clients keep credentials apart: the Twitter bearer token is only ever sent to the
Twitter API, never to someone's RSS feed. Every client maps its API's shape to `SocialPost`.

* `FeedClient`: RSS/Atom URLs with conditional GET (the base's ETag / Last-Modified cache; a 304
  serves the cached document and is marked `not_modified`).
* `MastodonClient`: GET /api/v1/accounts/:id/statuses (account looked up by `acct` when needed).
* `BlueskyClient`: the public AppView's app.bsky.feed.getAuthorFeed (no auth).
* `HackerNewsClient`: /v0/topstories.json then /v0/item/{id}.json.
* `TwitterClient`: X API v2 GET /2/users/:id/tweets with a bearer token (paid read access).
* `LinkedInClient`: GET /v2/userinfo then the Posts API (restricted `r_member_social` scope).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import msgspec
import trio

from greenhouse.config import Secret, SocialConfig
from greenhouse.models import (
    BskyAuthorFeed,
    Feed,
    HNItem,
    LinkedInPosts,
    LinkedInUserInfo,
    MastodonAccount,
    MastodonStatus,
    SocialPost,
    TweetsResponse,
)

from .base import APIResponse, BaseIntegration, ErrorKind, HealthStatus
from .feeds import FeedParseError, html_to_text, parse_feed

__all__ = [
    "BlueskyClient",
    "FeedClient",
    "HackerNewsClient",
    "LinkedInClient",
    "MastodonClient",
    "TwitterClient",
    "iso_to_epoch",
]

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8"


def iso_to_epoch(value: str | None) -> float:
    """An ISO-8601 timestamp as epoch seconds; 0.0 when absent or unreadable."""
    if not value:
        return 0.0
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        return 0.0
    return moment.timestamp()


def _failure(response: APIResponse[Any]) -> APIResponse[Any]:
    return APIResponse(
        error=response.error,
        error_kind=response.error_kind,
        status_code=response.status_code,
        rate_limit=response.rate_limit,
        attempts=response.attempts,
    )


class _BearerClient(BaseIntegration):
    """A client that sends `Authorization: Bearer <token>` (to its own base URL only)."""

    def __init__(self, base_url: str, token: Secret, **kwargs: Any) -> None:
        self._token = token
        super().__init__(base_url, **kwargs)

    def _get_auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.get()}"} if self._token else {}


# --------------------------------------------------------------------------------------------
# RSS / Atom.


class FeedClient(BaseIntegration):
    """Fetches RSS/Atom feeds by absolute URL, conditionally."""

    name = "rss"

    def __init__(self, urls: Sequence[str], **kwargs: Any) -> None:
        self.urls = tuple(urls)
        super().__init__("", **kwargs)
        # url -> (what was parsed, the Feed): an unchanged document (a 304, or the same bytes
        # again) is not parsed again; feedparser takes milliseconds per feed.
        self._parsed: dict[str, tuple[tuple[Any, ...], Feed]] = {}

    async def get_feed(self, url: str) -> APIResponse[Feed]:
        """Fetch and parse one feed; a 304 gives the cached entries with `not_modified=True`."""
        response = await self.make_request(
            "GET", url, response_type=bytes, headers={"Accept": FEED_ACCEPT}, endpoint="feed"
        )
        if not response.ok or response.data is None:
            return _failure(response)
        source = (
            response.data,
            response.etag,
            response.headers.get("last-modified"),
            response.headers.get("content-type"),
        )
        known = self._parsed.get(url)
        if known is not None and known[0] == source:
            feed = known[1]
        else:
            try:
                feed = parse_feed(
                    response.data, url, etag=source[1], last_modified=source[2],
                    content_type=source[3],
                )
            except FeedParseError as error:
                return self._fail(ErrorKind.DECODE, str(error), response.status_code)
            self._parsed[url] = (source, feed)
        if response.from_cache:
            feed = msgspec.structs.replace(feed, not_modified=True)
        return APIResponse(data=feed, status_code=response.status_code, from_cache=response.from_cache,
                           etag=response.etag, headers=response.headers)

    async def health_check(self) -> HealthStatus:
        """Every configured feed must answer with a feed."""
        started = self._monotonic()
        errors = []
        status = 0
        for url in self.urls:
            result = await self.get_feed(url)
            status = result.status_code
            if not result.ok or result.data is None:
                errors.append(result.error or url)
        return HealthStatus(
            service=self.name,
            available=not errors,
            status_code=status,
            latency_ms=(self._monotonic() - started) * 1000.0,
            error="; ".join(errors)[:300] or None,
        )


# --------------------------------------------------------------------------------------------
# Mastodon.


class MastodonClient(BaseIntegration):
    """A Mastodon account's public statuses."""

    name = "mastodon"
    health_path = "/api/v1/instance"

    def __init__(self, base_url: str, account: str, **kwargs: Any) -> None:
        self.account = account.lstrip("@")
        self._account_id: str | None = account if account.isdigit() else None
        super().__init__(base_url, **kwargs)

    async def account_id(self) -> APIResponse[str]:
        """The numeric account id, looked up once from `user` or `user@instance`."""
        if self._account_id is not None:
            return APIResponse(data=self._account_id, status_code=200)
        found = await self.get(
            "/api/v1/accounts/lookup", MastodonAccount, params={"acct": self.account}
        )
        if not found.ok or found.data is None:
            return _failure(found)
        self._account_id = found.data.id
        return APIResponse(data=found.data.id, status_code=found.status_code)

    async def get_statuses(self, limit: int = 40) -> APIResponse[list[SocialPost]]:
        """The account's latest statuses (reblogs included, with no engagement of their own)."""
        ident = await self.account_id()
        if not ident.ok or ident.data is None:
            return _failure(ident)
        response = await self.get(
            f"/api/v1/accounts/{ident.data}/statuses",
            list[MastodonStatus],
            params={"limit": max(1, min(limit, 40))},
            endpoint="statuses",
        )
        if not response.ok or response.data is None:
            return _failure(response)
        return APIResponse(data=[self._post(s) for s in response.data],
                           status_code=response.status_code, from_cache=response.from_cache)

    def _post(self, status: MastodonStatus) -> SocialPost:
        shown = status.reblog or status
        own = status.reblog is None  # a boost's counts belong to the original author
        return SocialPost(
            source="mastodon",
            id=status.id,
            published=iso_to_epoch(status.created_at),
            text=html_to_text(f"{shown.spoiler_text} {shown.content}"),
            url=shown.url or shown.uri,
            author=shown.account.acct if shown.account else self.account,
            likes=status.favourites_count if own else 0,
            shares=status.reblogs_count if own else 0,
            replies=status.replies_count if own else 0,
            tags=tuple(tag.name.lower() for tag in shown.tags),
        )


# --------------------------------------------------------------------------------------------
# Bluesky.


class BlueskyClient(BaseIntegration):
    """A Bluesky account's posts through the public AppView (no login needed)."""

    name = "bluesky"
    health_path = "/xrpc/_health"

    def __init__(self, base_url: str, handle: str, **kwargs: Any) -> None:
        self.handle = handle.lstrip("@")
        super().__init__(base_url, **kwargs)

    async def get_author_feed(self, limit: int = 50) -> APIResponse[list[SocialPost]]:
        """app.bsky.feed.getAuthorFeed for the handle, replies left out."""
        response = await self.get(
            "/xrpc/app.bsky.feed.getAuthorFeed",
            BskyAuthorFeed,
            params={
                "actor": self.handle,
                "limit": max(1, min(limit, 100)),
                "filter": "posts_no_replies",
            },
            endpoint="getAuthorFeed",
        )
        if not response.ok or response.data is None:
            return _failure(response)
        posts = []
        for item in response.data.feed:
            post, own = item.post, item.reason is None
            tags = {t.lower() for t in post.record.tags}
            for facet in post.record.facets:
                for feature in facet.features:
                    if feature.get("$type") == "app.bsky.richtext.facet#tag" and feature.get("tag"):
                        tags.add(str(feature["tag"]).lower())
            rkey = post.uri.rsplit("/", 1)[-1]
            posts.append(
                SocialPost(
                    source="bluesky",
                    id=post.uri,
                    published=iso_to_epoch(post.record.createdAt or post.indexedAt),
                    text=post.record.text,
                    url=f"https://bsky.app/profile/{post.author.handle}/post/{rkey}",
                    author=post.author.handle,
                    likes=post.likeCount if own else 0,
                    shares=(post.repostCount + post.quoteCount) if own else 0,
                    replies=post.replyCount if own else 0,
                    tags=tuple(sorted(tags)),
                )
            )
        return APIResponse(data=posts, status_code=response.status_code,
                           from_cache=response.from_cache)


# --------------------------------------------------------------------------------------------
# Hacker News.


class HackerNewsClient(BaseIntegration):
    """Hacker News top stories (the official Firebase API, no auth)."""

    name = "hackernews"
    health_path = "/topstories.json"

    async def get_top_stories(self, limit: int = 10) -> APIResponse[list[SocialPost]]:
        """The current top `limit` stories; items that fail or are dead are skipped."""
        ids = await self.get("/topstories.json", list[int], endpoint="topstories")
        if not ids.ok or ids.data is None:
            return _failure(ids)
        wanted = ids.data[: max(0, limit)]
        items: dict[int, HNItem] = {}
        limiter = trio.CapacityLimiter(4)  # a few at a time: polite, and quick enough

        async def fetch(item_id: int) -> None:
            async with limiter:
                # Item bodies never change for our purposes; no need to revalidate them.
                result = await self.get(f"/item/{item_id}.json", HNItem | None, endpoint="item")
            if result.ok and result.data is not None:
                items[item_id] = result.data

        async with trio.open_nursery() as nursery:
            for item_id in wanted:
                nursery.start_soon(fetch, item_id)
        posts = [
            SocialPost(
                source="hackernews",
                id=str(item.id),
                published=float(item.time),
                title=html_to_text(item.title),
                text=html_to_text(item.text),
                url=item.url or f"https://news.ycombinator.com/item?id={item.id}",
                author=item.by,
                replies=item.descendants,
                score=item.score,
            )
            for item_id in wanted
            if (item := items.get(item_id)) is not None and not (item.dead or item.deleted)
        ]
        return APIResponse(data=posts, status_code=ids.status_code)


# --------------------------------------------------------------------------------------------
# Twitter/X API v2 (paid read access: optional and off unless configured).


class TwitterClient(_BearerClient):
    """A user's recent posts through X API v2."""

    name = "twitter"

    def __init__(self, base_url: str, token: Secret, user_id: str, **kwargs: Any) -> None:
        self.user_id = user_id
        self.health_path = f"/users/{quote(user_id)}"
        super().__init__(base_url, token, **kwargs)

    async def get_user_posts(self, limit: int = 100) -> APIResponse[list[SocialPost]]:
        """GET /2/users/:id/tweets with created_at, public_metrics and entities."""
        response = await self.get(
            f"/users/{quote(self.user_id)}/tweets",
            TweetsResponse,
            params={
                "max_results": max(5, min(limit, 100)),
                "tweet.fields": "created_at,public_metrics,entities",
            },
            endpoint="users.tweets",
        )
        if not response.ok or response.data is None:
            return _failure(response)
        posts = [
            SocialPost(
                source="twitter",
                id=tweet.id,
                published=iso_to_epoch(tweet.created_at),
                text=tweet.text,
                url=f"https://x.com/i/web/status/{tweet.id}",
                likes=tweet.public_metrics.like_count,
                shares=tweet.public_metrics.retweet_count + tweet.public_metrics.quote_count,
                replies=tweet.public_metrics.reply_count,
                tags=tuple(h.tag.lower() for h in tweet.entities.hashtags),
            )
            for tweet in response.data.data
        ]
        return APIResponse(data=posts, status_code=response.status_code)


# --------------------------------------------------------------------------------------------
# LinkedIn (the Posts API needs the restricted r_member_social scope).


class LinkedInClient(_BearerClient):
    """The member's own posts through LinkedIn's versioned REST API."""

    name = "linkedin"
    health_path = "/v2/userinfo"
    api_version = "202411"

    def __init__(self, base_url: str, token: Secret, **kwargs: Any) -> None:
        self._person: str | None = None
        super().__init__(base_url, token, **kwargs)

    def _get_auth_headers(self) -> dict[str, str]:
        headers = super()._get_auth_headers()
        if headers:
            headers["LinkedIn-Version"] = self.api_version
            headers["X-Restli-Protocol-Version"] = "2.0.0"
        return headers

    def _secrets(self) -> list[str]:
        return [self._token.get()] if self._token else []

    async def person_urn(self) -> APIResponse[str]:
        """`urn:li:person:{sub}` from the OpenID userinfo endpoint (looked up once)."""
        if self._person is not None:
            return APIResponse(data=self._person, status_code=200)
        info = await self.get("/v2/userinfo", LinkedInUserInfo, endpoint="userinfo")
        if not info.ok or info.data is None:
            return _failure(info)
        self._person = f"urn:li:person:{info.data.sub}"
        return APIResponse(data=self._person, status_code=info.status_code)

    async def get_posts(self, limit: int = 50) -> APIResponse[list[SocialPost]]:
        """GET /rest/posts?q=author&author={urn}: published posts only."""
        urn = await self.person_urn()
        if not urn.ok or urn.data is None:
            return _failure(urn)
        response = await self.get(
            "/rest/posts",
            LinkedInPosts,
            params={"q": "author", "author": urn.data, "count": max(1, min(limit, 100))},
            endpoint="posts",
        )
        if not response.ok or response.data is None:
            return _failure(response)
        posts = [
            SocialPost(
                source="linkedin",
                id=post.id,
                published=(post.publishedAt or post.createdAt) / 1000.0,
                text=post.commentary,
                url=f"https://www.linkedin.com/feed/update/{post.id}/",
                author=post.author,
                tags=tuple(
                    word[1:].lower().strip(".,!?")
                    for word in post.commentary.split()
                    if word.startswith("#") and len(word) > 1
                ),
            )
            for post in response.data.elements
            if post.lifecycleState == "PUBLISHED"
        ]
        return APIResponse(data=posts, status_code=response.status_code)


def make_clients(config: SocialConfig, **kwargs: Any) -> dict[str, BaseIntegration]:
    """The clients for every configured source, by name."""
    clients: dict[str, BaseIntegration] = {}
    if config.rss_feeds:
        clients["rss"] = FeedClient(config.rss_feeds, **kwargs)
    if config.mastodon_base_url and config.mastodon_account:
        clients["mastodon"] = MastodonClient(
            config.mastodon_base_url, config.mastodon_account, **kwargs
        )
    if config.bluesky_handle:
        clients["bluesky"] = BlueskyClient(config.bluesky_base_url, config.bluesky_handle, **kwargs)
    if config.hackernews_enabled:
        clients["hackernews"] = HackerNewsClient(config.hackernews_base_url, **kwargs)
    if config.twitter_bearer_token and config.twitter_user_id:
        clients["twitter"] = TwitterClient(
            config.twitter_base_url, config.twitter_bearer_token, config.twitter_user_id, **kwargs
        )
    if config.linkedin_access_token:
        clients["linkedin"] = LinkedInClient(
            config.linkedin_base_url, config.linkedin_access_token, **kwargs
        )
    return clients
