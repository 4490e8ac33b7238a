"""Domain records decoded from external APIs (msgspec Structs; unknown fields are ignored).

Each service owns a section. Structs here validate the shapes the clients rely on, built against
the real payloads in `shared/fixtures/real/`; a payload of the wrong shape fails to decode with a
message naming the field, which the client turns into an `APIResponse.error`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

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
    top_languages: tuple[ProjectTime, ...] = ()  # `name` is the language
    today_seconds: float = 0.0


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


# --------------------------------------------------------------------------------------------
# Spotify and weather (issue 4): shared base of their records.

__all__ += [
    # Spotify
    "ArtistsResponse",
    "AudioFeatures",
    "AudioFeaturesResponse",
    "CurrentlyPlaying",
    "ListeningTrends",
    "MoodPoint",
    "MusicMood",
    "PlayHistoryItem",
    "RecentlyPlayed",
    "RecentlyPlayedCursors",
    "SpotifyAlbum",
    "SpotifyArtist",
    "SpotifyContext",
    "SpotifyImage",
    "SpotifyToken",
    "SpotifyTrack",
    "TrackMood",
    # Weather
    "AtmosphericMood",
    "Clouds",
    "ComprehensiveWeather",
    "Coordinates",
    "CurrentWeather",
    "Forecast",
    "ForecastCity",
    "ForecastEntry",
    "ForecastSummary",
    "Precipitation",
    "SeasonalInfluence",
    "WeatherCondition",
    "WeatherReadings",
    "WeatherSys",
    "Wind",
]


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every domain record."""


# --------------------------------------------------------------------------------------------
# Spotify (issue 4). Shapes from the Web API reference and the fixtures in
# tests/fixtures/spotify/ (Home Assistant's and spotify-web-api-js's test payloads).


class SpotifyImage(Record, frozen=True, kw_only=True):
    """Cover art at one size."""

    url: str
    height: int | None = None
    width: int | None = None


class SpotifyArtist(Record, frozen=True, kw_only=True):
    """A (simplified) artist; local files have no id."""

    name: str
    id: str | None = None
    uri: str | None = None
    genres: tuple[str, ...] = ()  # only the full artist object has genres


class SpotifyAlbum(Record, frozen=True, kw_only=True):
    """A (simplified) album."""

    name: str
    id: str | None = None
    album_type: str | None = None
    release_date: str | None = None
    images: tuple[SpotifyImage, ...] = ()


class SpotifyTrack(Record, frozen=True, kw_only=True):
    """A track, or an episode (which has no artists and no album)."""

    name: str
    id: str | None = None  # None for local files
    uri: str | None = None
    type: str = "track"
    artists: tuple[SpotifyArtist, ...] = ()
    album: SpotifyAlbum | None = None
    duration_ms: int = 0
    popularity: int | None = None
    explicit: bool = False
    is_local: bool = False

    @property
    def artist_names(self) -> tuple[str, ...]:
        """The artists' names, in credit order."""
        return tuple(artist.name for artist in self.artists)


class SpotifyContext(Record, frozen=True, kw_only=True):
    """Where playback comes from: a playlist, album, artist or the liked-songs collection."""

    type: str | None = None
    uri: str | None = None


class CurrentlyPlaying(Record, frozen=True, kw_only=True):
    """`GET /me/player/currently-playing` (or `/me/player`): what is playing right now."""

    is_playing: bool
    timestamp: int
    progress_ms: int | None = None
    item: SpotifyTrack | None = None  # null during ads or when the item is unavailable
    currently_playing_type: str = "track"
    context: SpotifyContext | None = None


class PlayHistoryItem(Record, frozen=True, kw_only=True):
    """One recently played track, with when it was played (ISO 8601 UTC)."""

    track: SpotifyTrack
    played_at: str
    context: SpotifyContext | None = None


class RecentlyPlayedCursors(Record, frozen=True, kw_only=True):
    """Unix-millisecond cursors for paging recently played tracks."""

    after: str | None = None
    before: str | None = None


class RecentlyPlayed(Record, frozen=True, kw_only=True):
    """`GET /me/player/recently-played`."""

    items: tuple[PlayHistoryItem, ...]
    next: str | None = None
    cursors: RecentlyPlayedCursors | None = None
    limit: int | None = None
    href: str | None = None


class AudioFeatures(Record, frozen=True, kw_only=True):
    """`GET /audio-features`: Spotify's own analysis of one track (all in [0, 1] but tempo/loudness)."""

    id: str
    danceability: float
    energy: float
    valence: float
    tempo: float
    acousticness: float = 0.0
    instrumentalness: float = 0.0
    speechiness: float = 0.0
    liveness: float = 0.0
    loudness: float = 0.0
    mode: int | None = None
    key: int | None = None
    time_signature: int | None = None
    duration_ms: int | None = None


class AudioFeaturesResponse(Record, frozen=True, kw_only=True):
    """`GET /audio-features?ids=...`; unknown ids come back as null."""

    audio_features: tuple[AudioFeatures | None, ...]


class ArtistsResponse(Record, frozen=True, kw_only=True):
    """`GET /artists?ids=...`: full artist objects (with genres); unknown ids are null."""

    artists: tuple[SpotifyArtist | None, ...]


class SpotifyToken(Record, frozen=True, kw_only=True):
    """`POST /api/token` answer; `refresh_token` is present only when Spotify rotates it."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int = 3600
    scope: str = ""
    refresh_token: str | None = None

    def __repr__(self) -> str:  # never show a token
        return f"SpotifyToken(token_type={self.token_type!r}, expires_in={self.expires_in})"


class TrackMood(Record, frozen=True, kw_only=True):
    """Valence and energy of one track, measured (audio features) or estimated, with confidence."""

    track_id: str | None
    valence: float
    energy: float
    danceability: float
    tempo: float | None = None
    confidence: float
    source: str  # "audio_features" | "estimate" | "neutral"


class MusicMood(Record, frozen=True, kw_only=True):
    """`analyze_current_mood()`: the music side of the garden's mood right now."""

    is_playing: bool
    track_id: str | None = None
    track: str | None = None
    artists: tuple[str, ...] = ()
    album: str | None = None
    valence: float = 0.5
    energy: float = 0.5
    danceability: float = 0.5
    tempo: float | None = None
    confidence: float = 0.0
    source: str = "neutral"
    label: str = "silent"  # euphoric | energetic | calm | melancholic | intense | balanced | silent
    progress_ms: int | None = None
    duration_ms: int | None = None


class MoodPoint(Record, frozen=True, kw_only=True):
    """Average estimated mood of one day's listening."""

    day: str  # YYYY-MM-DD (UTC)
    valence: float
    energy: float
    confidence: float
    tracks: int


class ListeningTrends(Record, frozen=True, kw_only=True):
    """`get_listening_trends(days)`: how much, when and what was listened to."""

    days: int
    tracks_played: int
    total_minutes: float
    minutes_by_day: dict[str, float]
    minutes_by_hour: tuple[float, ...]  # 24 entries, UTC hours
    top_artists: tuple[tuple[str, int], ...]
    top_tracks: tuple[tuple[str, int], ...]
    mood_trend: tuple[MoodPoint, ...]
    complete: bool = True  # False when Spotify's 50-track history did not reach back `days`


# --------------------------------------------------------------------------------------------
# Weather: OpenWeatherMap 2.5 (issue 4). Shapes from the docs and the fixtures in
# tests/fixtures/openweathermap/ (captured responses).


class Coordinates(Record, frozen=True, kw_only=True):
    """A place on earth."""

    lat: float
    lon: float


class WeatherCondition(Record, frozen=True, kw_only=True):
    """One condition; `id` is OpenWeatherMap's condition code (2xx thunder ... 8xx clouds)."""

    id: int
    main: str
    description: str = ""
    icon: str = ""


class WeatherReadings(Record, frozen=True, kw_only=True):
    """The `main` block: temperatures in the requested units, pressure in hPa, humidity in %."""

    temp: float
    feels_like: float | None = None
    temp_min: float | None = None
    temp_max: float | None = None
    pressure: float | None = None
    humidity: float = 0.0
    sea_level: float | None = None
    grnd_level: float | None = None


class Wind(Record, frozen=True, kw_only=True):
    """Wind speed (m/s metric, mph imperial), direction in degrees and gusts."""

    speed: float = 0.0
    deg: float | None = None
    gust: float | None = None


class Clouds(Record, frozen=True, kw_only=True):
    """Cloud cover in %."""

    all: float = 0.0


class Precipitation(Record, frozen=True, kw_only=True):
    """Rain or snow volume in mm over the last hour / three hours."""

    one_hour: float | None = msgspec.field(default=None, name="1h")
    three_hours: float | None = msgspec.field(default=None, name="3h")


class WeatherSys(Record, frozen=True, kw_only=True):
    """Country, sunrise and sunset (epoch seconds, UTC); `pod` is d/n in forecasts."""

    country: str | None = None
    sunrise: int | None = None
    sunset: int | None = None
    pod: str | None = None


class CurrentWeather(Record, frozen=True, kw_only=True):
    """`GET /data/2.5/weather`."""

    coord: Coordinates | None = None
    weather: Annotated[tuple[WeatherCondition, ...], msgspec.Meta(min_length=1)]
    main: WeatherReadings
    visibility: int | None = None
    wind: Wind = Wind()
    clouds: Clouds = Clouds()
    rain: Precipitation | None = None
    snow: Precipitation | None = None
    dt: int
    sys: WeatherSys = WeatherSys()
    timezone: int = 0  # shift from UTC in seconds
    id: int | None = None
    name: str = ""

    @property
    def condition(self) -> WeatherCondition:
        """The primary condition (OpenWeatherMap lists the most significant first)."""
        return self.weather[0]


class ForecastEntry(Record, frozen=True, kw_only=True):
    """One 3-hour step of the 5-day forecast."""

    dt: int
    main: WeatherReadings
    weather: tuple[WeatherCondition, ...]
    clouds: Clouds = Clouds()
    wind: Wind = Wind()
    visibility: int | None = None
    pop: float = 0.0  # probability of precipitation, 0..1
    rain: Precipitation | None = None
    snow: Precipitation | None = None
    sys: WeatherSys = WeatherSys()
    dt_txt: str = ""


class ForecastCity(Record, frozen=True, kw_only=True):
    """The place a forecast is for."""

    name: str = ""
    id: int | None = None
    coord: Coordinates | None = None
    country: str | None = None
    timezone: int = 0
    sunrise: int | None = None
    sunset: int | None = None


class Forecast(Record, frozen=True, kw_only=True):
    """`GET /data/2.5/forecast`: up to 40 steps of 3 hours."""

    entries: tuple[ForecastEntry, ...] = msgspec.field(name="list")
    city: ForecastCity = ForecastCity()
    cnt: int = 0


class AtmosphericMood(Record, frozen=True, kw_only=True):
    """What the weather does to the garden's mood (components in [0, 1])."""

    energy: float
    focus: float
    creativity: float
    serenity: float
    intensity: float
    weather_pattern: str  # clear_skies | partly_cloudy | overcast | rain | storm | snow | fog
    is_day: bool
    description: str


class SeasonalInfluence(Record, frozen=True, kw_only=True):
    """Season from date and hemisphere, and day length from sunrise/sunset."""

    season: str  # spring | summer | autumn | winter
    hemisphere: str  # north | south
    day_length_hours: float | None
    daylight_ratio: float  # day length / 24, 0.5 when unknown
    growth_factor: float  # 0..1, how favourable the season is for growth


class ForecastSummary(Record, frozen=True, kw_only=True):
    """One day of the forecast folded together."""

    day: str  # YYYY-MM-DD, local to the place
    temp_min: float
    temp_max: float
    precipitation_probability: float
    dominant_condition: str


class ComprehensiveWeather(Record, frozen=True, kw_only=True):
    """`get_comprehensive_weather_data()`: now, the days ahead, the mood and the season."""

    current: CurrentWeather
    mood: AtmosphericMood
    season: SeasonalInfluence
    forecast: tuple[ForecastSummary, ...] = ()
    forecast_error: str | None = None  # the forecast is optional; current weather is not
    units: str = "metric"
