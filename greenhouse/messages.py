"""Every message that crosses a channel, and the WebSocket wire envelope.

All messages are frozen `msgspec.Struct`s. Two families:

* `GardenEvent` subclasses are things viewers see. The persistence actor gives each one its id
  (its row in the `events` table) and then publishes `EventStored`, which carries the envelope
  already encoded once as JSON, so the WebSocket actor never re-encodes per viewer.
* Everything else is internal: observations from pollers, scheduler tasks, rate-limit and cache
  requests. These never reach viewers directly.

Sections are grouped by the part of the system that owns them; add new messages to the section of
their owner.
"""

from __future__ import annotations

import enum
import functools
import math
from datetime import UTC, datetime
from typing import Any, ClassVar

import msgspec

from greenhouse.models import (
    AtmosphericMood,
    CurrentWeather,
    MusicMood,
    ProductivityMetrics,
    ProjectTime,
    SeasonalInfluence,
    SocialMetricsSummary,
    SocialPost,
    TechTrends,
)

__all__ = [
    "Acquire",
    "AnalyticsSession",
    "AnalyticsSessionsComputed",
    "AtmosphereChanged",
    "CacheClearTag",
    "CacheDelete",
    "CacheGet",
    "CacheMaintenance",
    "CacheResult",
    "CacheSet",
    "CacheStatsRequest",
    "CodingActivity",
    "CodingActivityObserved",
    "CommitPushed",
    "CommitSnapshot",
    "CommitsObserved",
    "ConnectionStatsRequest",
    "ConsentState",
    "ConsentSubmitted",
    "DataSubjectRequestLookup",
    "DataSubjectRequestSubmitted",
    "Denied",
    "EventStored",
    "EventType",
    "GardenEvent",
    "GitHubActivity",
    "Granted",
    "GrowthScored",
    "GrowthStageChanged",
    "GrowthUpdated",
    "Heartbeat",
    "HistoryTrimmed",
    "Message",
    "MoodSynthesized",
    "MusicChanged",
    "MusicObserved",
    "PersistenceBarrier",
    "PrivacyDashboardRequest",
    "RateLimitStatsRequest",
    "RepositoriesObserved",
    "RepositorySnapshot",
    "RequestRecorded",
    "RunTask",
    "SecretGet",
    "SecretPut",
    "ServerLimits",
    "ServiceStatusChanged",
    "SnapshotRequest",
    "SocialActivity",
    "SocialActivityObserved",
    "TaskFinished",
    "TrackChanged",
    "ViewerConnected",
    "ViewerDisconnected",
    "VisitOutcome",
    "VisitReceived",
    "VisitRecorded",
    "VisitorDataErased",
    "VisitorJoined",
    "VisitorLeft",
    "WeatherObserved",
    "WeatherUpdated",
    "WebSocketEvent",
    "WebhookReceived",
    "decode_envelope",
    "encode_envelope",
    "iso_timestamp",
]


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every message on the bus."""


class EventType(enum.StrEnum):
    """The `type` of a WebSocket envelope."""

    COMMIT_PUSHED = "commit_pushed"
    MUSIC_CHANGED = "music_changed"
    WEATHER_UPDATED = "weather_updated"
    GROWTH_STAGE_CHANGED = "growth_stage_changed"
    ATMOSPHERE_CHANGED = "atmosphere_changed"
    VISITOR_JOINED = "visitor_joined"
    VISITOR_LEFT = "visitor_left"
    SNAPSHOT = "snapshot"
    # Added by later work:
    GITHUB_ACTIVITY = "github_activity"
    GROWTH_UPDATED = "growth_updated"
    CODING_ACTIVITY = "coding_activity"
    SOCIAL_ACTIVITY = "social_activity"
    SERVICE_STATUS = "service_status"


@functools.lru_cache(maxsize=1024)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso_timestamp(epoch_seconds: float) -> str:
    """`2024-01-15T10:30:00Z` style UTC timestamp (milliseconds kept when present)."""
    second = math.floor(epoch_seconds)
    millis = int(round((epoch_seconds - second) * 1000))
    if millis >= 1000:
        second, millis = second + 1, 0
    # Cached per second: a batch of events usually shares its second, and strftime is slow.
    if millis:
        return f"{_iso_second(second)}.{millis:03d}Z"
    return f"{_iso_second(second)}Z"


# --------------------------------------------------------------------------------------------
# Wire format: the WebSocket envelope.


class WebSocketEvent(msgspec.Struct, frozen=True):
    """`{"id", "type", "data", "timestamp", "source"}`, exactly as DESIGN.md shows."""

    id: int
    type: str
    data: Any
    timestamp: str
    source: str


_envelope_encoder = msgspec.json.Encoder()
_payload_encoder = msgspec.json.Encoder()
_envelope_decoder = msgspec.json.Decoder(WebSocketEvent)


def encode_envelope(event: WebSocketEvent) -> bytes:
    """Encode an envelope as compact JSON."""
    return _envelope_encoder.encode(event)


def decode_envelope(raw: bytes | str) -> WebSocketEvent:
    """Decode and validate an envelope (raises `msgspec.ValidationError` / `DecodeError`)."""
    return _envelope_decoder.decode(raw)


# --------------------------------------------------------------------------------------------
# Garden events (what viewers see). Subclasses set `event_type` and carry only payload fields;
# `source` and `timestamp` travel alongside and become the envelope's fields.


class GardenEvent(Message, frozen=True, kw_only=True):
    """A change in the garden that is stored in the event log and sent to viewers."""

    event_type: ClassVar[EventType]
    source: str = "greenhouse"
    timestamp: float = 0.0  # epoch seconds from the runtime clock; 0 means "stamp on store"

    def payload(self) -> dict[str, Any]:
        """The envelope's `data`: every field except source and timestamp."""
        data = msgspec.to_builtins(self)
        data.pop("source", None)
        data.pop("timestamp", None)
        return data

    def payload_json(self) -> bytes:
        """`payload()` encoded as JSON, without building the dict (the store's hot path).

        msgspec encodes base-class fields first, so the encoding starts with
        `{"source":"…","timestamp":N` and the payload fields follow. An encoded JSON string
        cannot contain an unescaped quote, so the first `,"timestamp":` is the real key.
        """
        raw = _payload_encoder.encode(self)
        # The timestamp is a number (or null): it holds no comma, so the next comma, if any,
        # starts the first payload field.
        comma = raw.find(b",", raw.find(b',"timestamp":') + 13)
        return b"{" + raw[comma + 1 :] if comma != -1 else b"{}"


class CommitPushed(GardenEvent, frozen=True, kw_only=True):
    """Commits arrived for a repository (by webhook or by polling)."""

    event_type: ClassVar[EventType] = EventType.COMMIT_PUSHED
    repository: str
    commit_count: int
    author: str
    impact_score: float
    delivery_id: str | None = None


class MusicChanged(GardenEvent, frozen=True, kw_only=True):
    """The playing track changed."""

    event_type: ClassVar[EventType] = EventType.MUSIC_CHANGED
    track: str | None
    artists: tuple[str, ...] = ()
    album: str | None = None
    is_playing: bool = True
    valence: float | None = None
    energy: float | None = None
    tempo: float | None = None
    confidence: float = 0.0
    # Added by issue 4 (Spotify):
    track_id: str | None = None
    danceability: float | None = None
    mood_source: str = ""  # audio_features | estimate | neutral
    label: str = ""  # the mood word, e.g. "euphoric", or "silent" when nothing plays


class WeatherUpdated(GardenEvent, frozen=True, kw_only=True):
    """Conditions changed meaningfully."""

    event_type: ClassVar[EventType] = EventType.WEATHER_UPDATED
    condition: str
    description: str
    temperature: float
    humidity: float
    wind_speed: float
    clouds: float
    is_day: bool = True
    location: str = ""
    # Added by issue 4 (weather):
    weather_pattern: str = ""
    season: str = ""
    units: str = "metric"


class GrowthStageChanged(GardenEvent, frozen=True, kw_only=True):
    """A plant moved to another stage."""

    event_type: ClassVar[EventType] = EventType.GROWTH_STAGE_CHANGED
    repository: str
    old_stage: str
    new_stage: str
    score: float


class AtmosphereChanged(GardenEvent, frozen=True, kw_only=True):
    """The garden's atmosphere changed, or its energy moved past the threshold."""

    event_type: ClassVar[EventType] = EventType.ATMOSPHERE_CHANGED
    old_atmosphere: str | None
    new_atmosphere: str
    energy_change: float
    data_sources: tuple[str, ...] = ()
    weather_pattern: str = "clear_skies"
    energy: float = 0.5
    focus: float = 0.5
    creativity: float = 0.5
    serenity: float = 0.5
    intensity: float = 0.5


class VisitorJoined(GardenEvent, frozen=True, kw_only=True):
    """A viewer arrived (counts only, never ids)."""

    event_type: ClassVar[EventType] = EventType.VISITOR_JOINED
    live_viewers: int
    visitors_today: int = 0


class VisitorLeft(GardenEvent, frozen=True, kw_only=True):
    """A viewer left (counts only, never ids)."""

    event_type: ClassVar[EventType] = EventType.VISITOR_LEFT
    live_viewers: int
    visitors_today: int = 0


class ServiceStatusChanged(GardenEvent, frozen=True, kw_only=True):
    """An external service became available or unavailable."""

    event_type: ClassVar[EventType] = EventType.SERVICE_STATUS
    service: str
    available: bool
    error: str | None = None


class EventStored(Message, frozen=True, kw_only=True):
    """Published by persistence after the event's row is committed."""

    id: int
    type: str
    frame: bytes  # the JSON envelope, encoded once for every viewer
    event: GardenEvent


# --------------------------------------------------------------------------------------------
# Runtime and scheduling.


class Heartbeat(Message, frozen=True, kw_only=True):
    """The health actor's periodic tick."""

    at: float
    sequence: int


class RunTask(Message, frozen=True, kw_only=True):
    """The scheduler asks the owner of `task_id` to do one run."""

    task_id: str
    execution_id: str


class TaskFinished(Message, frozen=True, kw_only=True):
    """The owner's answer to `RunTask`.

    `retry_after`: seconds (from the answer) before which the task must not run again, neither
    as a retry nor as its next scheduled run; an owner fills it from what the service said
    (`Retry-After`, an exhausted rate limit's reset, GitHub's `X-Poll-Interval`).
    """

    task_id: str
    execution_id: str
    ok: bool
    error: str | None = None
    duration: float = 0.0
    retry_after: float | None = None


# --------------------------------------------------------------------------------------------
# GitHub (issue 3).


class RepositorySnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """One repository as the garden sees it (a plant's raw inputs)."""

    full_name: str
    name: str
    description: str | None = None
    language: str | None = None
    languages: dict[str, int] = msgspec.field(default_factory=dict)  # bytes per language
    stars: int = 0
    forks: int = 0
    watchers: int = 0
    open_issues: int = 0
    size_kb: int = 0
    topics: tuple[str, ...] = ()
    created_at: float | None = None  # epoch seconds
    pushed_at: float | None = None
    archived: bool = False
    private: bool = False
    fork: bool = False
    html_url: str | None = None


class RepositoriesObserved(Message, frozen=True, kw_only=True):
    """The poller's view of every repository after a sync (`changed`: full names that moved)."""

    repositories: tuple[RepositorySnapshot, ...]
    changed: tuple[str, ...] = ()
    observed_at: float = 0.0
    from_cache: bool = False


class CommitSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """One commit; line and file counts are None when the source did not say."""

    sha: str
    repository: str
    author: str
    message: str = ""  # first line only
    timestamp: float | None = None
    additions: int | None = None
    deletions: int | None = None
    files_changed: int | None = None
    impact_score: float = 0.0


class CommitsObserved(Message, frozen=True, kw_only=True):
    """Recent commits of one repository; `new_count` of them were not seen before.

    `via` is "poll" or "webhook", so consumers can ignore how a commit arrived.
    """

    repository: str
    commits: tuple[CommitSnapshot, ...]
    new_count: int = 0
    observed_at: float = 0.0
    via: str = "poll"
    delivery_id: str | None = None


class GitHubActivity(Message, frozen=True, kw_only=True):
    """Something happened on GitHub: a pull request, issue, release, star, branch or tag.

    `kind` is one of push, pull_request, issues, release, star, create, ping, watch, fork, other.
    """

    kind: str
    repository: str
    actor: str = ""
    action: str | None = None
    title: str | None = None
    number: int | None = None
    url: str | None = None
    at: float = 0.0
    count: int = 1
    via: str = "poll"
    delivery_id: str | None = None


class WebhookReceived(Message, frozen=True, kw_only=True):
    """A GitHub delivery whose signature the HTTP layer has verified; `body` is the raw JSON."""

    event: str
    delivery_id: str
    body: bytes
    received_at: float = 0.0


# --------------------------------------------------------------------------------------------
# Spotify, weather, WakaTime, social (issue 4).

# Spotify and weather.


class TrackChanged(Message, frozen=True, kw_only=True):
    """The playing track changed (or playback stopped: `track_id` None, not playing)."""

    track_id: str | None
    previous_track_id: str | None
    mood: MusicMood
    observed_at: float


class MusicObserved(Message, frozen=True, kw_only=True):
    """One Spotify poll: what plays now and its mood (also when nothing plays)."""

    mood: MusicMood
    observed_at: float


class WeatherObserved(Message, frozen=True, kw_only=True):
    """One weather poll: the reading, its atmospheric mood and the season."""

    location: str
    units: str
    current: CurrentWeather
    mood: AtmosphericMood
    season: SeasonalInfluence
    observed_at: float
    changed: bool  # True when it differs meaningfully from the last published conditions


# WakaTime and social.


class CodingActivityObserved(Message, frozen=True, kw_only=True):
    """One WakaTime poll: per-project time (growth) and coding intensity (mood).

    `projects` and `languages` cover the last `days` days; `metrics.intensity` is today's coding
    against a busy day, in [0, 1]. `stats_pending` is True while WakaTime is still computing the
    range stats (a normal state, retried later).
    """

    observed_at: float
    days: int
    today_seconds: float
    projects: tuple[ProjectTime, ...]
    languages: dict[str, float]
    metrics: ProductivityMetrics
    stats_pending: bool = False


class CodingActivity(GardenEvent, frozen=True, kw_only=True):
    """Viewers' `coding_activity`: today's coding changed meaningfully."""

    event_type: ClassVar[EventType] = EventType.CODING_ACTIVITY
    today_seconds: float
    top_project: str | None
    intensity: float
    current_streak: int = 0
    focus_sessions: int = 0


class SocialActivityObserved(Message, frozen=True, kw_only=True):
    """One social poll: your activity summary, tech trends, and the posts not seen before.

    `new_posts` are the posts this poller had not seen (all of them on a first start with no
    stored history); the viewers' `SocialActivity` counts only those that are news.
    """

    observed_at: float
    sources: tuple[str, ...]
    new_posts: tuple[SocialPost, ...]
    summary: SocialMetricsSummary
    trends: TechTrends
    failures: dict[str, str] = msgspec.field(default_factory=dict)


class SocialActivity(GardenEvent, frozen=True, kw_only=True):
    """Viewers' `social_activity`: new posts appeared (counts and topics only)."""

    event_type: ClassVar[EventType] = EventType.SOCIAL_ACTIVITY
    new_posts: int
    by_source: dict[str, int]
    top_topics: tuple[str, ...] = ()
    rising_topics: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Rate limiting and cache (issue 5).


class Acquire(Message, frozen=True, kw_only=True):
    """Ask a bucket actor for tokens; answered `Granted` or `Denied`.

    `max_wait` > 0 lets the caller wait in line (by priority, FIFO within a priority) that long;
    0 means answer at once. The `ask` timeout must be longer than `max_wait`.
    """

    tokens: float = 1.0
    priority: int = 1  # 0 low, 1 normal, 2 high, 3 critical (greenhouse.ratelimit.PRIORITY_*)
    endpoint: str = ""
    max_wait: float = 0.0


class Granted(Message, frozen=True, kw_only=True):
    """The tokens are yours: send the request."""

    service: str
    tokens: float
    remaining: float
    waited: float = 0.0


class Denied(Message, frozen=True, kw_only=True):
    """No tokens now; try again after `retry_after` seconds (`inf`: never, see `reason`)."""

    service: str
    retry_after: float
    reason: str = "rate_limited"


class ServerLimits(Message, frozen=True, kw_only=True):
    """What a server said about its limits (headers); the bucket clamps to it.

    `reset` is epoch seconds (as GitHub's `X-RateLimit-Reset`), `retry_after` is seconds.
    """

    remaining: int | None = None
    limit: int | None = None
    reset: float | None = None
    retry_after: float | None = None
    endpoint: str = ""


class RequestRecorded(Message, frozen=True, kw_only=True):
    """A service client finished one request: for the per-endpoint metrics.

    `limits`, when the response carried any, is what the server said (applied as a
    `ServerLimits` first): one message per request instead of two.
    """

    endpoint: str
    ok: bool
    elapsed_ms: float
    status: int | None = None
    limits: ServerLimits | None = None


class RateLimitStatsRequest(Message, frozen=True, kw_only=True):
    """Ask a bucket actor for its metrics (the reply is plain data)."""


class CacheGet(Message, frozen=True, kw_only=True):
    """Ask the cache for `key`; on a miss `fetch` (an async callable) is run once for all askers.

    `decode_as` is the type the value is decoded into (a Struct, a list of them...); `None`
    gives builtins. The reply is a `CacheResult`.
    """

    key: str
    fetch: Any = None
    ttl: float | None = None
    tags: tuple[str, ...] = ()
    decode_as: Any = None
    allow_stale: bool = False


class CacheResult(Message, frozen=True, kw_only=True):
    """A cache answer: `found`, the value, which layer had it, and whether it is stale."""

    key: str
    found: bool
    value: Any = None
    layer: str = ""  # memory, sqlite, redis, fetch
    stale: bool = False
    etag: str | None = None
    last_modified: str | None = None
    stored_at: float = 0.0
    expires_at: float = 0.0


class CacheSet(Message, frozen=True, kw_only=True):
    """Store `value` (anything msgspec encodes) under `key` for `ttl` seconds."""

    key: str
    value: Any
    ttl: float | None = None
    tags: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    # False: answered once the memory layer has it; SQLite/Redis are written right after.
    wait: bool = True


class CacheDelete(Message, frozen=True, kw_only=True):
    """Remove `key` from every layer."""

    key: str


class CacheClearTag(Message, frozen=True, kw_only=True):
    """Remove every entry carrying `tag` (services tag their entries `service:<name>`)."""

    tag: str


class CacheStatsRequest(Message, frozen=True, kw_only=True):
    """Ask the cache for per-layer statistics (the reply is plain data)."""


class CacheMaintenance(Message, frozen=True, kw_only=True):
    """Purge expired rows, checkpoint and shrink (also run by `RunTask("cache_maintenance")`)."""



# --------------------------------------------------------------------------------------------
# Growth, mood, analytics (issue 6).


class GrowthUpdated(GardenEvent, frozen=True, kw_only=True):
    """A plant's growth score moved (or was computed for the first time)."""

    event_type: ClassVar[EventType] = EventType.GROWTH_UPDATED
    repository: str
    score: float
    stage: str
    health: str
    factors: dict[str, float] = {}  # factor -> contribution to the score
    factors_missing: tuple[str, ...] = ()
    prediction: str = "disabled"  # growing | not_growing | insufficient_history | fully_grown
    next_stage: str | None = None
    days_to_next_stage: float | None = None
    prediction_confidence: float = 0.0


class GrowthScored(Message, frozen=True, kw_only=True):
    """A growth computation, for the `growth_history` and `plant_growth` tables."""

    repository: str
    at: float
    score: float
    stage: str
    health: str
    velocity_per_day: float = 0.0
    prediction: str = "{}"  # JSON of the engine's GrowthPrediction
    factors: str = "{}"  # JSON: factor -> {value, weight, contribution}
    snapshot: str = "{}"  # JSON of the ProjectSnapshot the score came from
    coding_seconds: float | None = None
    languages: dict[str, int] = {}


class HistoryTrimmed(Message, frozen=True, kw_only=True):
    """Delete rows of an engine history table (`growth_history`, `mood_history`) older than
    `before` (epoch seconds), in the persistence actor's transaction."""

    table: str
    before: float


class MoodSynthesized(Message, frozen=True, kw_only=True):
    """One mood synthesis, for the `mood_history` table."""

    at: float
    energy: float
    focus: float
    creativity: float
    serenity: float
    intensity: float
    atmosphere: str
    weather_pattern: str
    season: str = ""
    time_of_day: str = ""
    confidence: float = 0.0
    sources: dict[str, float] = {}


class VisitRecorded(Message, frozen=True, kw_only=True):
    """A page visit that privacy allowed analytics to count (daily hashed id, no address)."""

    visitor_id: str
    path: str
    referrer: str | None = None
    at: float


class AnalyticsSession(msgspec.Struct, frozen=True, kw_only=True):
    """One visitor session as stored in `analytics_sessions`."""

    visitor_id: str
    start: float
    end: float
    paths: tuple[str, ...]
    referrer: str | None = None


class AnalyticsSessionsComputed(Message, frozen=True, kw_only=True):
    """Sessions rebuilt by `analytics_processing`, upserted into `analytics_sessions`."""

    sessions: tuple[AnalyticsSession, ...]
    computed_at: float


class ViewerConnected(Message, frozen=True, kw_only=True):
    """A WebSocket viewer connected (an opaque per-connection id, never an address)."""

    connection_id: str
    live_viewers: int = 0


class ViewerDisconnected(Message, frozen=True, kw_only=True):
    """A WebSocket viewer went away."""

    connection_id: str
    live_viewers: int = 0


# --------------------------------------------------------------------------------------------
# Scheduler (issue 7).
#
# Convention for owners: an actor that owns a scheduled task handles `RunTask` (it arrives by
# `ask`, with the task's timeout) and returns `TaskFinished`, or None / True (it went well), or
# False (it failed); raising also means the run failed. The scheduler retries, times out and
# records; owners just do the work.


class TaskRun(Message, frozen=True, kw_only=True):
    """One finished execution, for the `task_runs` table (written by persistence)."""

    execution_id: str
    task_id: str
    trigger: str  # schedule or manual
    status: str  # succeeded, failed, timed_out
    started_at: float  # epoch seconds (runtime clock)
    finished_at: float
    duration: float  # monotonic seconds of the last attempt
    attempts: int = 1
    error: str | None = None


class TaskRunRetention(Message, frozen=True, kw_only=True):
    """Delete `task_runs` rows that finished before `cutoff` (epoch seconds)."""

    cutoff: float


class ExecuteTaskNow(Message, frozen=True, kw_only=True):
    """Ask the scheduler to run a task now; the reply is the execution id (str)."""

    task_id: str


class TaskStatusRequest(Message, frozen=True, kw_only=True):
    """Ask the scheduler about one execution; the reply is `TaskExecutionStatus` or None."""

    execution_id: str


class TaskExecutionStatus(Message, frozen=True, kw_only=True):
    """Where one execution is: queued, waiting, running, retrying, or how it ended."""

    execution_id: str
    task_id: str
    trigger: str
    status: str  # queued, waiting, running, retrying, succeeded, failed, timed_out, cancelled
    attempts: int = 0
    queued_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    duration: float | None = None
    error: str | None = None
    waiting_for: tuple[str, ...] = ()


class SchedulerStatsRequest(Message, frozen=True, kw_only=True):
    """Ask the scheduler for its statistics; the reply is `SchedulerStats` (for /api/scheduler)."""


class TaskStats(Message, frozen=True, kw_only=True):
    """Per-task counters: runs, failures, timings, skipped overlaps and coalesced runs."""

    task_id: str
    priority: str
    schedule: str | None  # e.g. "every 180s", "cron '0 2 * * *' (UTC)"; None: manual only
    runs: int = 0
    successes: int = 0
    failures: int = 0
    timeouts: int = 0
    retries: int = 0
    skipped_overlaps: int = 0
    coalesced: int = 0
    last_run: float | None = None  # epoch seconds when the last execution started
    last_status: str | None = None
    next_run: float | None = None  # epoch seconds
    mean_duration: float | None = None
    max_duration: float | None = None
    running: bool = False
    pending: bool = False  # due (or asked for) and waiting for a slot or its dependencies
    waiting_for: tuple[str, ...] = ()
    not_before: float | None = None  # epoch seconds: the owner's last `retry_after` runs until
    deferred: int = 0  # runs held back (retries or scheduled runs) by the owner's `retry_after`


class SchedulerStats(Message, frozen=True, kw_only=True):
    """The scheduler as a whole, with one `TaskStats` per registered task."""

    timezone: str
    max_concurrent: int
    running: int
    pending: int
    tasks: tuple[TaskStats, ...] = ()


# --------------------------------------------------------------------------------------------
# Real-time surface: WebSocket and HTTP (issue 8).


class SnapshotRequest(Message, frozen=True, kw_only=True):
    """Ask the WebSocket actor for the garden snapshot (the `snapshot` frame's data)."""


class ConnectionStatsRequest(Message, frozen=True, kw_only=True):
    """Ask the WebSocket actor for `get_connection_stats()`."""


# --------------------------------------------------------------------------------------------
# Privacy (issue 9). Messages that carry a raw address or user agent go to the privacy mailbox
# by `ask` only (never published on the bus) and hide those fields from repr, so a log line or
# an error that prints one cannot leak them.


class _ClientFields(Message, frozen=True, kw_only=True):
    """Base of requests that carry the client's raw address and user agent."""

    ip: str | None
    user_agent: str = ""

    def __repr__(self) -> str:
        shown = [
            f"{name}={getattr(self, name)!r}"
            for name in self.__struct_fields__
            if name not in ("ip", "user_agent")
        ]
        return f"{type(self).__name__}({', '.join(['ip=<hidden>', 'user_agent=<hidden>', *shown])})"

    __str__ = __repr__


class VisitReceived(_ClientFields, frozen=True, kw_only=True):
    """A page-view beacon from the HTTP layer; the reply is `VisitOutcome`."""

    path: str = "/"
    referrer: str | None = None
    dnt: bool = False
    gpc: bool = False


class VisitOutcome(Message, frozen=True, kw_only=True):
    """Whether analytics counted the visit, and if not, why (dnt, gpc, withdrawn, ...)."""

    recorded: bool
    reason: str | None = None


class ConsentSubmitted(_ClientFields, frozen=True, kw_only=True):
    """A visitor's consent choice; `withdraw` drops every non-essential category.

    The reply is `ConsentState`."""

    granted: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    withdraw: bool = False
    policy_version: str | None = None


class ConsentState(Message, frozen=True, kw_only=True):
    """Current consent per category for the requesting visitor."""

    categories: dict[str, bool]
    policy_version: str


class DataSubjectRequestSubmitted(_ClientFields, frozen=True, kw_only=True):
    """Open an access, portability or erasure request for the requester's own id, or, with
    `admin` set by the HTTP layer after checking the admin token, for `visitor_id`."""

    type: str
    visitor_id: str | None = None
    admin: bool = False


class DataSubjectRequestLookup(_ClientFields, frozen=True, kw_only=True):
    """Ask for a request's state, and its exports when the requester is its subject (or admin)."""

    request_id: str
    admin: bool = False


class VisitorDataErased(Message, frozen=True, kw_only=True):
    """Published after an erasure, so actors holding the id in memory forget it too."""

    visitor_id: str


class PersistenceBarrier(Message, frozen=True, kw_only=True):
    """Asked of the persistence mailbox: the reply comes once everything queued before it is
    committed (an erasure waits for it so no row in flight comes back after the delete)."""


class PrivacyDashboardRequest(Message, frozen=True, kw_only=True):
    """Ask the privacy actor for `get_privacy_dashboard_data()`."""


class SecretPut(Message, frozen=True, kw_only=True):
    """Store a credential (encrypted at rest); the reply is True when it was persisted."""

    name: str
    value: Any  # a config.Secret (messages cannot import config); repr stays hidden


class SecretGet(Message, frozen=True, kw_only=True):
    """Read a stored credential; the reply is a `config.Secret` or None."""

    name: str
