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
from datetime import UTC, datetime
from typing import Any, ClassVar

import msgspec

__all__ = [
    "Acquire",
    "AtmosphereChanged",
    "CacheClearTag",
    "CacheDelete",
    "CacheGet",
    "CacheMaintenance",
    "CacheResult",
    "CacheSet",
    "CacheStatsRequest",
    "CommitPushed",
    "Denied",
    "EventStored",
    "EventType",
    "GardenEvent",
    "Granted",
    "GrowthStageChanged",
    "Heartbeat",
    "Message",
    "MusicChanged",
    "RateLimitStatsRequest",
    "RequestRecorded",
    "RunTask",
    "ServerLimits",
    "ServiceStatusChanged",
    "TaskFinished",
    "VisitorJoined",
    "VisitorLeft",
    "WeatherUpdated",
    "WebSocketEvent",
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


def iso_timestamp(epoch_seconds: float) -> str:
    """`2024-01-15T10:30:00Z` style UTC timestamp (milliseconds kept when present)."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


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
    """The owner's answer to `RunTask`."""

    task_id: str
    execution_id: str
    ok: bool
    error: str | None = None
    duration: float = 0.0


# --------------------------------------------------------------------------------------------
# GitHub (issue 3).


# --------------------------------------------------------------------------------------------
# Spotify, weather, WakaTime, social (issue 4).


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
    """A service client finished one request: for the per-endpoint metrics."""

    endpoint: str
    ok: bool
    elapsed_ms: float
    status: int | None = None


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


# --------------------------------------------------------------------------------------------
# Scheduler (issue 7).


# --------------------------------------------------------------------------------------------
# Real-time surface: WebSocket and HTTP (issue 8).


# --------------------------------------------------------------------------------------------
# Privacy (issue 9).
