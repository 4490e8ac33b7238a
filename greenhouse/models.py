"""Domain records decoded from external APIs (msgspec Structs; unknown fields are ignored).

Each service owns a section. Structs here validate the shapes the clients rely on, built against
the real payloads in `shared/fixtures/real/`; a payload of the wrong shape fails to decode with a
message naming the field, which the client turns into an `APIResponse.error`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

__all__ = [
    "ActivitySummary",
    "CommitFile",
    "CommitStats",
    "GitHubCommit",
    "GitHubCommitData",
    "GitHubEvent",
    "GitHubEventPayload",
    "GitHubEventRepo",
    "GitHubGitPerson",
    "GitHubRelease",
    "GitHubRepository",
    "GitHubUser",
    "GrowthMetrics",
    "parse_github_time",
]


def parse_github_time(value: str | None) -> float | None:
    """An ISO-8601 GitHub timestamp (`2011-01-26T19:06:43Z`) as epoch seconds; None if absent."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# GitHub (issue 3): REST API shapes.


class GitHubUser(msgspec.Struct, frozen=True, kw_only=True):
    """An account as GitHub embeds it (`owner`, `author`, `actor`, `sender`)."""

    login: str
    id: int = 0
    type: str = "User"
    html_url: str | None = None


class GitHubRepository(msgspec.Struct, frozen=True, kw_only=True):
    """GET /user/repos, /users/{u}/repos, /repos/{o}/{r}."""

    id: int
    name: str
    full_name: str
    owner: GitHubUser
    private: bool = False
    description: str | None = None
    fork: bool = False
    html_url: str | None = None
    homepage: str | None = None
    language: str | None = None
    forks_count: int = 0
    stargazers_count: int = 0
    watchers_count: int = 0
    subscribers_count: int | None = None  # only on GET /repos/{o}/{r}: the real "watchers"
    size: int = 0
    default_branch: str = "main"
    open_issues_count: int = 0
    topics: list[str] = msgspec.field(default_factory=list)
    archived: bool = False
    disabled: bool = False
    visibility: str | None = None
    pushed_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class GitHubGitPerson(msgspec.Struct, frozen=True, kw_only=True):
    """The git-level author or committer of a commit."""

    name: str | None = None
    email: str | None = None
    date: str | None = None


class GitHubCommitData(msgspec.Struct, frozen=True, kw_only=True):
    """The `commit` object inside a commit listing."""

    message: str = ""
    author: GitHubGitPerson | None = None
    committer: GitHubGitPerson | None = None
    comment_count: int = 0


class CommitStats(msgspec.Struct, frozen=True, kw_only=True):
    """Line counts; only on GET /repos/{o}/{r}/commits/{sha}."""

    additions: int = 0
    deletions: int = 0
    total: int = 0


class CommitFile(msgspec.Struct, frozen=True, kw_only=True):
    """One file of a single-commit response."""

    filename: str
    additions: int = 0
    deletions: int = 0
    changes: int = 0
    status: str | None = None


class GitHubCommit(msgspec.Struct, frozen=True, kw_only=True):
    """GET /repos/{o}/{r}/commits (list) and /commits/{sha} (with stats and files)."""

    sha: str
    commit: GitHubCommitData
    html_url: str | None = None
    author: GitHubUser | None = None  # null when the email matches no GitHub account
    committer: GitHubUser | None = None
    stats: CommitStats | None = None
    files: list[CommitFile] | None = None

    @property
    def author_name(self) -> str:
        """The GitHub login when known, else the git author's name."""
        if self.author is not None:
            return self.author.login
        person = self.commit.author
        return (person.name if person and person.name else None) or "unknown"

    @property
    def timestamp(self) -> float | None:
        """When the commit was authored, epoch seconds."""
        person = self.commit.author or self.commit.committer
        return parse_github_time(person.date if person else None)


class GitHubRelease(msgspec.Struct, frozen=True, kw_only=True):
    """GET /repos/{o}/{r}/releases items, and `release` in webhooks."""

    id: int
    tag_name: str
    name: str | None = None
    draft: bool = False
    prerelease: bool = False
    created_at: str | None = None
    published_at: str | None = None
    html_url: str | None = None


class GitHubEventRepo(msgspec.Struct, frozen=True, kw_only=True):
    """`repo` in a public event (`name` is `owner/repo`)."""

    id: int = 0
    name: str = ""


class GitHubPushCommit(msgspec.Struct, frozen=True, kw_only=True):
    """A commit inside a PushEvent payload."""

    sha: str
    message: str = ""
    distinct: bool = True


class GitHubEventPayload(msgspec.Struct, frozen=True, kw_only=True):
    """The fields of event payloads the activity summary reads; the rest are ignored."""

    action: str | None = None
    size: int | None = None
    distinct_size: int | None = None
    ref: str | None = None
    ref_type: str | None = None
    commits: list[GitHubPushCommit] | None = None


class GitHubEvent(msgspec.Struct, frozen=True, kw_only=True):
    """GET /users/{u}/events/public items."""

    id: str
    type: str | None
    actor: GitHubUser
    repo: GitHubEventRepo
    payload: GitHubEventPayload = GitHubEventPayload()
    public: bool = True
    created_at: str | None = None


class ActivitySummary(msgspec.Struct, frozen=True, kw_only=True):
    """Counts from the public events feed over `days`: per day (`YYYY-MM-DD`) and per repository.

    Each inner dict maps a kind (`commits`, `pull_requests`, `issues`, `releases`, `stars`,
    `creates`, `other`) to a count.
    """

    days: int
    events: int
    totals: dict[str, int]
    per_day: dict[str, dict[str, int]]
    per_repository: dict[str, dict[str, int]]


class GrowthMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """The raw inputs the growth engine needs for one repository."""

    repository: str
    commit_count: int  # commits seen in the recent window (up to the fetch limit)
    commits_last_7_days: int
    commits_last_30_days: int
    mean_days_between_commits: float | None
    last_commit_at: float | None
    languages: dict[str, int]
    primary_language: str | None
    stars: int
    forks: int
    watchers: int
    open_issues: int
    size_kb: int
    created_at: float | None
    pushed_at: float | None
    releases: int
    latest_release_at: float | None
    topics: tuple[str, ...]
    archived: bool = False

    def to_builtins(self) -> dict[str, Any]:
        """A plain dict (for JSON and the growth engine's tests)."""
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# WakaTime (issue 4). Shapes from GET /users/current/summaries, /stats/{range},
# /durations and /status_bar/today. `machines` (which carries the machine's IP address) is
# deliberately not modelled, so it is dropped at decode time and can never be stored.

__all__ += [
    "BskyAuthor",
    "BskyAuthorFeed",
    "BskyFacet",
    "BskyFeedItem",
    "BskyPostRecord",
    "BskyPostView",
    "CodingDay",
    "CodingStats",
    "Feed",
    "FocusSession",
    "HNItem",
    "KeywordCount",
    "LinkedInPost",
    "LinkedInPosts",
    "LinkedInUserInfo",
    "MastodonAccount",
    "MastodonStatus",
    "MastodonTag",
    "ProductivityMetrics",
    "ProjectTime",
    "RisingTopic",
    "SocialMetricsSummary",
    "SocialPost",
    "TechTrends",
    "Tweet",
    "TweetEntities",
    "TweetHashtag",
    "TweetPublicMetrics",
    "TweetsMeta",
    "TweetsResponse",
    "WakaBestDay",
    "WakaDaySummary",
    "WakaDuration",
    "WakaDurations",
    "WakaGrandTotal",
    "WakaNamedTotal",
    "WakaRange",
    "WakaStats",
    "WakaStatsResponse",
    "WakaStatusBar",
    "WakaSummaries",
]


class WakaNamedTotal(msgspec.Struct, frozen=True):
    """One row of a breakdown (a project, language, editor...) with its time."""

    name: str
    total_seconds: float = 0.0
    percent: float = 0.0
    text: str = ""


class WakaGrandTotal(msgspec.Struct, frozen=True):
    """A day's total coding time."""

    total_seconds: float = 0.0
    text: str = ""


class WakaRange(msgspec.Struct, frozen=True):
    """The day (or span) a summary covers."""

    start: str = ""
    end: str = ""
    date: str | None = None
    text: str = ""
    timezone: str | None = None


class WakaDaySummary(msgspec.Struct, frozen=True):
    """One element of `summaries.data[]` (and `status_bar/today.data`)."""

    grand_total: WakaGrandTotal
    range: WakaRange
    projects: list[WakaNamedTotal] = []
    languages: list[WakaNamedTotal] = []
    editors: list[WakaNamedTotal] = []
    categories: list[WakaNamedTotal] = []
    operating_systems: list[WakaNamedTotal] = []


class WakaSummaries(msgspec.Struct, frozen=True):
    """GET /users/current/summaries."""

    data: list[WakaDaySummary]
    start: str = ""
    end: str = ""
    cumulative_total: WakaGrandTotal | None = None


class WakaStatusBar(msgspec.Struct, frozen=True):
    """GET /users/current/status_bar/today."""

    data: WakaDaySummary
    cached_at: str | None = None


class WakaBestDay(msgspec.Struct, frozen=True):
    """The best day inside a stats range."""

    date: str
    total_seconds: float = 0.0
    text: str = ""


class WakaStats(msgspec.Struct, frozen=True):
    """`data` of GET /users/current/stats/{range}; most fields are absent while computing."""

    range: str = ""
    status: str = ""
    is_up_to_date: bool = True
    start: str | None = None
    end: str | None = None
    timezone: str | None = None
    total_seconds: float | None = None
    daily_average: float | None = None
    days_including_holidays: int | None = None
    human_readable_total: str | None = None
    human_readable_daily_average: str | None = None
    best_day: WakaBestDay | None = None
    projects: list[WakaNamedTotal] = []
    languages: list[WakaNamedTotal] = []
    editors: list[WakaNamedTotal] = []
    categories: list[WakaNamedTotal] = []
    operating_systems: list[WakaNamedTotal] = []


class WakaStatsResponse(msgspec.Struct, frozen=True):
    """GET /users/current/stats/{range}."""

    data: WakaStats


class WakaDuration(msgspec.Struct, frozen=True):
    """One continuous stretch of coding (GET /users/current/durations)."""

    time: float  # start, epoch seconds
    duration: float  # seconds
    project: str = ""


class WakaDurations(msgspec.Struct, frozen=True):
    """GET /users/current/durations?date=YYYY-MM-DD."""

    data: list[WakaDuration]
    start: str = ""
    end: str = ""
    timezone: str | None = None


class ProjectTime(msgspec.Struct, frozen=True):
    """Coding time on one project over a window."""

    name: str
    seconds: float
    percent: float


class CodingDay(msgspec.Struct, frozen=True):
    """One day of coding: total and per-project/per-language seconds."""

    date: str  # YYYY-MM-DD in the user's WakaTime time zone
    total_seconds: float
    projects: dict[str, float] = {}
    languages: dict[str, float] = {}


class FocusSession(msgspec.Struct, frozen=True):
    """A stretch of coding long enough, with short enough breaks, to count as focus."""

    start: float
    end: float
    seconds: float  # coded time inside the session (breaks excluded)
    project: str = ""


class ProductivityMetrics(msgspec.Struct, frozen=True):
    """Daily average, focus sessions, streaks and most productive hours over a window."""

    days: int
    total_seconds: float
    daily_average_seconds: float
    active_days: int
    current_streak: int
    longest_streak: int
    focus_sessions: int
    focus_seconds: float
    hourly_seconds: tuple[float, ...]  # 24 buckets, UTC hours of the durations seen
    most_productive_hours: tuple[int, ...]
    intensity: float  # [0, 1]: today's coding against a 4-hour "busy day"
    top_projects: tuple[ProjectTime, ...] = ()


class CodingStats(msgspec.Struct, frozen=True):
    """What `WakaTimeService.get_stats` returns: either the stats, or "still computing"."""

    range: str
    pending: bool
    stats: WakaStats | None = None
    retry_after: float | None = None  # seconds, when pending


# --------------------------------------------------------------------------------------------
# Social (issue 4): Mastodon, Bluesky, Hacker News, Twitter/X v2, LinkedIn, RSS/Atom.


class MastodonTag(msgspec.Struct, frozen=True):
    """A hashtag on a status."""

    name: str
    url: str = ""


class MastodonAccount(msgspec.Struct, frozen=True):
    """The parts of a Mastodon Account entity the garden uses."""

    id: str
    username: str = ""
    acct: str = ""
    display_name: str = ""
    followers_count: int = 0
    following_count: int = 0
    statuses_count: int = 0


class MastodonStatus(msgspec.Struct, frozen=True):
    """A Mastodon Status entity (GET /api/v1/accounts/:id/statuses)."""

    id: str
    created_at: str
    content: str = ""
    url: str | None = None
    uri: str = ""
    visibility: str = "public"
    language: str | None = None
    replies_count: int = 0
    reblogs_count: int = 0
    favourites_count: int = 0
    spoiler_text: str = ""
    tags: list[MastodonTag] = []
    account: MastodonAccount | None = None
    reblog: MastodonStatus | None = None


class BskyAuthor(msgspec.Struct, frozen=True):
    """A Bluesky ProfileViewBasic."""

    did: str
    handle: str
    displayName: str = ""  # noqa: N815 - the lexicon's field name


class BskyFacet(msgspec.Struct, frozen=True):
    """Rich-text facet: its features are mentions, links or tags."""

    features: list[dict[str, Any]] = []


class BskyPostRecord(msgspec.Struct, frozen=True):
    """An app.bsky.feed.post record."""

    text: str = ""
    createdAt: str = ""  # noqa: N815
    langs: list[str] = []
    facets: list[BskyFacet] = []
    tags: list[str] = []


class BskyPostView(msgspec.Struct, frozen=True):
    """app.bsky.feed.defs#postView."""

    uri: str
    cid: str
    author: BskyAuthor
    record: BskyPostRecord
    indexedAt: str = ""  # noqa: N815
    replyCount: int = 0  # noqa: N815
    repostCount: int = 0  # noqa: N815
    likeCount: int = 0  # noqa: N815
    quoteCount: int = 0  # noqa: N815


class BskyFeedItem(msgspec.Struct, frozen=True):
    """app.bsky.feed.defs#feedViewPost; `reason` is set for reposts."""

    post: BskyPostView
    reason: dict[str, Any] | None = None


class BskyAuthorFeed(msgspec.Struct, frozen=True):
    """app.bsky.feed.getAuthorFeed output."""

    feed: list[BskyFeedItem]
    cursor: str | None = None


class HNItem(msgspec.Struct, frozen=True):
    """A Hacker News item (GET /v0/item/{id}.json)."""

    id: int
    type: str = "story"
    by: str = ""
    time: int = 0
    title: str = ""
    url: str = ""
    text: str = ""
    score: int = 0
    descendants: int = 0
    deleted: bool = False
    dead: bool = False


class TweetPublicMetrics(msgspec.Struct, frozen=True):
    """Twitter/X v2 `public_metrics` on a tweet."""

    retweet_count: int = 0
    reply_count: int = 0
    like_count: int = 0
    quote_count: int = 0


class TweetHashtag(msgspec.Struct, frozen=True):
    """A hashtag entity."""

    tag: str
    start: int = 0
    end: int = 0


class TweetEntities(msgspec.Struct, frozen=True):
    """Twitter/X v2 `entities` (only hashtags are used)."""

    hashtags: list[TweetHashtag] = []


class Tweet(msgspec.Struct, frozen=True):
    """A Twitter/X v2 tweet object (GET /2/users/:id/tweets with tweet.fields)."""

    id: str
    text: str
    created_at: str = ""
    public_metrics: TweetPublicMetrics = TweetPublicMetrics()
    entities: TweetEntities = TweetEntities()


class TweetsMeta(msgspec.Struct, frozen=True):
    """Pagination `meta` of a timeline response."""

    result_count: int = 0
    newest_id: str | None = None
    oldest_id: str | None = None
    next_token: str | None = None


class TweetsResponse(msgspec.Struct, frozen=True):
    """GET /2/users/:id/tweets; `data` is absent when the user has no tweets."""

    data: list[Tweet] = []
    meta: TweetsMeta = TweetsMeta()


class LinkedInUserInfo(msgspec.Struct, frozen=True):
    """GET /v2/userinfo (OpenID Connect): `sub` is the member id for the person URN."""

    sub: str
    name: str = ""


class LinkedInPost(msgspec.Struct, frozen=True):
    """An element of GET /rest/posts?q=author (Posts API)."""

    id: str
    author: str = ""
    commentary: str = ""
    createdAt: int = 0  # noqa: N815 - epoch milliseconds
    publishedAt: int | None = None  # noqa: N815
    lifecycleState: str = "PUBLISHED"  # noqa: N815
    visibility: str = "PUBLIC"


class LinkedInPosts(msgspec.Struct, frozen=True):
    """GET /rest/posts?q=author."""

    elements: list[LinkedInPost] = []


class SocialPost(msgspec.Struct, frozen=True):
    """One post or feed entry from any source, in one shape."""

    source: str  # rss, mastodon, bluesky, hackernews, twitter, linkedin
    id: str
    published: float  # epoch seconds; 0 when the source gave no date
    title: str = ""
    text: str = ""  # plain text (HTML stripped)
    url: str = ""
    author: str = ""
    likes: int = 0
    shares: int = 0
    replies: int = 0
    score: int = 0
    tags: tuple[str, ...] = ()


class Feed(msgspec.Struct, frozen=True):
    """A parsed RSS/Atom feed."""

    url: str
    title: str
    version: str  # feedparser's name: rss20, atom10, ...
    link: str = ""
    entries: tuple[SocialPost, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False  # True when the server answered 304 and these are the cached entries


class KeywordCount(msgspec.Struct, frozen=True):
    """A keyword or topic and how often it appeared."""

    term: str
    count: int


class RisingTopic(msgspec.Struct, frozen=True):
    """A topic seen more in this window than in the previous one."""

    topic: str
    count: int
    previous: int
    growth: float  # (count + 1) / (previous + 1)


class TechTrends(msgspec.Struct, frozen=True):
    """`analyze_tech_trends`: topics, keywords, rising topics and matches with your repositories."""

    days: int
    posts: int
    topics: tuple[KeywordCount, ...]
    keywords: tuple[KeywordCount, ...]
    rising: tuple[RisingTopic, ...]
    matching_your_work: tuple[str, ...]


class SocialMetricsSummary(msgspec.Struct, frozen=True):
    """`get_social_metrics_summary`: activity and engagement per source over a window."""

    days: int
    total_posts: int
    posts_by_source: dict[str, int]
    likes: int
    shares: int
    replies: int
    posts_per_day: float
    average_engagement: float
    most_active_day: str | None = None
    top_posts: tuple[SocialPost, ...] = ()
    sources_failed: tuple[str, ...] = ()
