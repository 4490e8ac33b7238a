"""The GitHub REST client: repositories, commits, languages, releases, the public events feed.

Every GET is conditional (see `BaseIntegration`): an authorised 304 costs no rate-limit point on
GitHub, so a garden whose repositories do not change polls for free. Lists follow `Link` headers
across pages; the events feed is not asked again before its `X-Poll-Interval` has passed.

    service = GitHubService(settings.github)
    repos = await service.get_user_repositories()
    if repos.ok: ...
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from greenhouse.config import GitHubConfig
from greenhouse.models import (
    ActivitySummary,
    GitHubCommit,
    GitHubEvent,
    GitHubRelease,
    GitHubRepository,
    GrowthMetrics,
    parse_github_time,
)

from .base import APIResponse, BaseIntegration, RateLimitInfo

__all__ = ["GitHubService", "impact_score", "next_link"]

API_VERSION = "2022-11-28"
DEFAULT_EVENTS_POLL_INTERVAL = 60.0
MAX_PAGES = 20

# Event types of the public feed, grouped into the kinds the activity summary counts.
EVENT_KINDS = {
    "PushEvent": "commits",
    "PullRequestEvent": "pull_requests",
    "IssuesEvent": "issues",
    "ReleaseEvent": "releases",
    "WatchEvent": "stars",
    "CreateEvent": "creates",
}


def next_link(link_header: str | None) -> str | None:
    """The `rel="next"` URL of a `Link` header, or None."""
    if not link_header:
        return None
    links = httpx.Response(200, headers={"link": link_header}).links
    nxt = links.get("next")
    return nxt.get("url") if nxt else None


def impact_score(lines_changed: int | None, files_touched: int | None) -> float:
    """How much a change moves a plant, in [0, 1].

    Lines changed (additions + deletions) weigh 0.7 on a log scale that saturates at 1000 lines;
    files touched weigh 0.3, saturating at 20 files. When only one is known (webhook pushes carry
    files but no line counts), it alone decides. Neither known: a neutral 0.1 per change.
    """
    parts: list[tuple[float, float]] = []
    if lines_changed is not None:
        parts.append((0.7, min(1.0, math.log1p(max(0, lines_changed)) / math.log1p(1000))))
    if files_touched is not None:
        parts.append((0.3, min(1.0, max(0, files_touched) / 20)))
    if not parts:
        return 0.1
    weight = sum(w for w, _ in parts)
    return round(sum(w * v for w, v in parts) / weight, 4)


class GitHubService(BaseIntegration):
    """GitHub's REST API through `BaseIntegration` (token auth, conditional GETs, pagination)."""

    name = "github"
    memo_decoded = True  # the repository listing and events feed: mostly 304s, frozen models
    health_path = "/rate_limit"  # GitHub does not count calls to /rate_limit

    def __init__(self, config: GitHubConfig | None = None, **kwargs: Any) -> None:
        self.config = config or GitHubConfig()
        super().__init__(self.config.api_base_url, **kwargs)
        self.per_page = 100
        self.events_poll_interval = DEFAULT_EVENTS_POLL_INTERVAL
        self._events_next_poll = 0.0
        self._events_last: APIResponse[list[GitHubEvent]] | None = None

    # ---- BaseIntegration hooks ----------------------------------------------------------------

    def _get_auth_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token.get()}"
        return headers

    def _secrets(self) -> list[str]:
        return [self.config.token.get()] if self.config.token else []

    def _is_rate_limited(self, response: httpx.Response, info: RateLimitInfo | None) -> bool:
        # GitHub answers an exhausted primary limit with 403 + remaining 0, and a secondary limit
        # with 403/429 + retry-after; any other 403 is a real "forbidden".
        if response.status_code == 429:
            return True
        return (
            response.status_code == 403
            and info is not None
            and (info.exhausted or info.retry_after is not None)
        )

    # ---- pagination ---------------------------------------------------------------------------

    async def get_paginated(
        self,
        path: str,
        item_type: Any,
        *,
        params: dict[str, Any] | None = None,
        max_pages: int = MAX_PAGES,
        endpoint: str | None = None,
    ) -> APIResponse[list[Any]]:
        """Every page of a list endpoint, following `Link: rel="next"`.

        `from_cache` is True only when every page was served from the cache (nothing changed).
        """
        items: list[Any] = []
        url: str | None = path
        page_params: dict[str, Any] | None = params
        pages = 0
        all_cached = True
        last: APIResponse[Any] | None = None
        while url is not None and pages < max_pages:
            last = await self.get(
                url, list[item_type], params=page_params, endpoint=endpoint or path
            )
            if not last.ok:
                return last
            pages += 1
            items.extend(last.data or [])
            all_cached = all_cached and last.from_cache
            url = next_link(last.headers.get("link"))
            page_params = None  # the next URL already carries the query
        assert last is not None
        return APIResponse(
            data=items,
            status_code=last.status_code,
            from_cache=all_cached,
            etag=last.etag,
            rate_limit=last.rate_limit,
            headers=last.headers,
            attempts=pages,
        )

    # ---- endpoints ----------------------------------------------------------------------------

    def _repos_path(self) -> str:
        if self.config.token:
            return "/user/repos"
        return f"/users/{quote(self.config.username)}/repos"

    async def get_user_repositories(self) -> APIResponse[list[GitHubRepository]]:
        """All of the user's repositories (every page), or those named in GITHUB_REPOSITORIES."""
        if self.config.repositories:
            repos: list[GitHubRepository] = []
            last: APIResponse[Any] = APIResponse()
            all_cached = True
            for full_name in self.config.repositories:
                last = await self.get_repository(full_name)
                if not last.ok or last.data is None:
                    return last.failure()
                repos.append(last.data)
                all_cached = all_cached and last.from_cache
            return APIResponse(
                data=repos,
                status_code=last.status_code,
                from_cache=all_cached,
                rate_limit=last.rate_limit,
            )
        params: dict[str, Any] = {"per_page": self.per_page, "sort": "pushed"}
        if self.config.token:
            params["affiliation"] = "owner"
        return await self.get_paginated(self._repos_path(), GitHubRepository, params=params)

    async def get_repository(self, repo: str) -> APIResponse[GitHubRepository]:
        """One repository by `owner/name`."""
        return await self.get(f"/repos/{repo}", GitHubRepository, endpoint="/repos/{repo}")

    async def get_repository_commits(
        self, repo: str, limit: int = 50
    ) -> APIResponse[list[GitHubCommit]]:
        """The most recent `limit` commits of the default branch (one page up to 100)."""
        limit = max(1, min(100, limit))
        return await self.get(
            f"/repos/{repo}/commits",
            list[GitHubCommit],
            params={"per_page": limit},
            endpoint="/repos/{repo}/commits",
        )

    async def get_commit(self, repo: str, sha: str) -> APIResponse[GitHubCommit]:
        """One commit with its `stats` and `files` (what impact scores are made of)."""
        return await self.get(
            f"/repos/{repo}/commits/{sha}", GitHubCommit, endpoint="/repos/{repo}/commits/{sha}"
        )

    async def get_repository_languages(self, repo: str) -> APIResponse[dict[str, int]]:
        """Bytes of code per language."""
        return await self.get(
            f"/repos/{repo}/languages", dict[str, int], endpoint="/repos/{repo}/languages"
        )

    async def get_repository_releases(
        self, repo: str, limit: int = 30
    ) -> APIResponse[list[GitHubRelease]]:
        """The most recent releases (one page)."""
        return await self.get(
            f"/repos/{repo}/releases",
            list[GitHubRelease],
            params={"per_page": limit},
            endpoint="/repos/{repo}/releases",
        )

    async def get_user_events(self) -> APIResponse[list[GitHubEvent]]:
        """The user's public events, never polled sooner than GitHub's `X-Poll-Interval`."""
        now = self._time()
        if self._events_last is not None and now < self._events_next_poll:
            cached = self._events_last
            return APIResponse(
                data=cached.data,
                status_code=cached.status_code,
                from_cache=True,
                etag=cached.etag,
                rate_limit=cached.rate_limit,
                headers=cached.headers,
            )
        response = await self.get(
            f"/users/{quote(self.config.username)}/events/public",
            list[GitHubEvent],
            params={"per_page": 100},
            endpoint="/users/{user}/events/public",
        )
        interval = response.headers.get("x-poll-interval")
        if interval is not None and interval.strip().isdigit():
            self.events_poll_interval = float(interval)
        self._events_next_poll = now + self.events_poll_interval
        if response.ok:
            self._events_last = response
        return response

    async def get_user_activity_summary(self, days: int = 30) -> APIResponse[ActivitySummary]:
        """Commits, PRs, issues, releases... per day and per repository over the last `days`."""
        events = await self.get_user_events()
        if not events.ok:
            return events.failure()
        summary = summarize_events(events.data or [], days=days, now=self._time())
        return APIResponse(
            data=summary,
            status_code=events.status_code,
            from_cache=events.from_cache,
            rate_limit=events.rate_limit,
        )

    async def calculate_growth_metrics(self, repo: str) -> APIResponse[GrowthMetrics]:
        """Everything the growth engine needs about one repository (four conditional GETs)."""
        info = await self.get_repository(repo)
        if not info.ok or info.data is None:
            return info.failure()
        commits = await self.get_repository_commits(repo, limit=100)
        if not commits.ok:
            return commits.failure()
        languages = await self.get_repository_languages(repo)
        releases = await self.get_repository_releases(repo)
        metrics = growth_metrics(
            info.data,
            commits.data or [],
            languages.data if languages.ok and languages.data else {},
            releases.data if releases.ok and releases.data else [],
            now=self._time(),
        )
        cached = info.from_cache and commits.from_cache and languages.from_cache
        return APIResponse(
            data=metrics, status_code=200, from_cache=cached, rate_limit=self.last_rate_limit
        )


# --------------------------------------------------------------------------------------------
# Pure helpers (no I/O).


def summarize_events(events: list[GitHubEvent], *, days: int, now: float) -> ActivitySummary:
    """Count events of the last `days` per kind, per day and per repository."""
    since = now - days * 86400
    totals: Counter[str] = Counter()
    per_day: dict[str, Counter[str]] = {}
    per_repo: dict[str, Counter[str]] = {}
    counted = 0
    for event in events:
        at = parse_github_time(event.created_at)
        if at is None or at < since or at > now + 86400:
            continue
        kind = EVENT_KINDS.get(event.type or "", "other")
        if kind == "commits":
            weight = (
                event.payload.size
                if event.payload.size is not None
                else len(event.payload.commits or ())
            )
        elif kind in ("pull_requests", "issues") and event.payload.action not in (
            None,
            "opened",
            "closed",
            "merged",
            "reopened",
        ):
            continue
        else:
            weight = 1
        counted += 1
        day = datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d")
        totals[kind] += weight
        per_day.setdefault(day, Counter())[kind] += weight
        per_repo.setdefault(event.repo.name, Counter())[kind] += weight
    return ActivitySummary(
        days=days,
        events=counted,
        totals=dict(totals),
        per_day={d: dict(c) for d, c in sorted(per_day.items())},
        per_repository={r: dict(c) for r, c in sorted(per_repo.items())},
    )


def growth_metrics(
    repo: GitHubRepository,
    commits: list[GitHubCommit],
    languages: dict[str, int],
    releases: list[GitHubRelease],
    *,
    now: float,
) -> GrowthMetrics:
    """Combine a repository's facts into `GrowthMetrics`."""
    times = sorted(t for t in (c.timestamp for c in commits) if t is not None)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    published = [
        t
        for t in (
            parse_github_time(r.published_at or r.created_at) for r in releases if not r.draft
        )
        if t is not None
    ]
    return GrowthMetrics(
        repository=repo.full_name,
        commit_count=len(commits),
        commits_last_7_days=sum(1 for t in times if t >= now - 7 * 86400),
        commits_last_30_days=sum(1 for t in times if t >= now - 30 * 86400),
        mean_days_between_commits=(sum(gaps) / len(gaps) / 86400) if gaps else None,
        last_commit_at=times[-1] if times else None,
        languages=dict(languages),
        primary_language=max(languages, key=languages.__getitem__) if languages else repo.language,
        stars=repo.stargazers_count,
        forks=repo.forks_count,
        watchers=repo.subscribers_count
        if repo.subscribers_count is not None
        else repo.watchers_count,
        open_issues=repo.open_issues_count,
        size_kb=repo.size,
        created_at=parse_github_time(repo.created_at),
        pushed_at=parse_github_time(repo.pushed_at),
        releases=len(published),
        latest_release_at=max(published) if published else None,
        topics=tuple(repo.topics),
        archived=repo.archived,
    )
