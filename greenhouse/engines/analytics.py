"""Visitor analytics: sessions, journeys, engagement and the live viewer count (pure).

Visitors are known only by the opaque, privacy-safe id the privacy layer gives them (it rotates,
so "returning" means returning within one id's lifetime). Nothing here sees an IP address, and
referrers are cut down to their host before they are kept.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

import msgspec

__all__ = [
    "EngagementMetrics",
    "LiveViewers",
    "Session",
    "Visit",
    "VisitorJourney",
    "common_paths",
    "engagement_metrics",
    "plant_from_path",
    "referrer_host",
    "sessionize",
    "visitor_journey",
]

SESSION_TIMEOUT = 30 * 60.0


class Visit(msgspec.Struct, frozen=True, kw_only=True):
    """One page view by one (opaque) visitor."""

    visitor_id: str
    path: str
    at: float
    referrer: str | None = None  # host only


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """Consecutive visits of one visitor with no gap longer than the timeout."""

    visitor_id: str
    start: float
    end: float
    paths: tuple[str, ...]
    referrer: str | None = None

    @property
    def entry(self) -> str:
        return self.paths[0]

    @property
    def exit(self) -> str:
        return self.paths[-1]

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def bounced(self) -> bool:
        return len(self.paths) == 1


class EngagementMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Engagement over a window."""

    hours: float
    visitors: int
    sessions: int
    page_views: int
    pages_per_session: float
    average_session_seconds: float
    bounce_rate: float
    returning_visitors: int
    top_entry_pages: list[tuple[str, int]]
    top_exit_pages: list[tuple[str, int]]
    most_common_paths: list[tuple[str, int]]
    most_viewed_plants: list[tuple[str, int]]
    top_referrers: list[tuple[str, int]]


class VisitorJourney(msgspec.Struct, frozen=True, kw_only=True):
    """Every session of one visitor id, as entry, path sequence and exit."""

    visitor_id: str
    sessions: list[dict[str, object]]
    total_page_views: int
    first_seen: float | None
    last_seen: float | None


def referrer_host(referrer: str | None) -> str | None:
    """Keep only the referring host: paths and queries can carry personal data."""
    if not referrer:
        return None
    try:
        host = urlsplit(referrer.strip()).hostname
    except ValueError:
        return None
    return host.lower()[:253] if host else None


def plant_from_path(path: str) -> str | None:
    """`/plants/<name>` (also under `/api/`) names a plant; other paths do not."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts and parts[0] == "api":
        parts = parts[1:]
    if len(parts) >= 2 and parts[0] in ("plants", "plant", "projects"):
        return parts[1]
    return None


def sessionize(visits: Iterable[Visit], timeout: float = SESSION_TIMEOUT) -> list[Session]:
    """Group visits into sessions per visitor; a gap over `timeout` starts a new one."""
    by_visitor: dict[str, list[Visit]] = {}
    for visit in visits:
        by_visitor.setdefault(visit.visitor_id, []).append(visit)
    sessions: list[Session] = []
    for visitor_id, own in by_visitor.items():
        own.sort(key=lambda v: (v.at, v.path))
        current: list[Visit] = []
        for visit in own:
            if current and visit.at - current[-1].at > timeout:
                sessions.append(_session(visitor_id, current))
                current = []
            current.append(visit)
        if current:
            sessions.append(_session(visitor_id, current))
    sessions.sort(key=lambda s: (s.start, s.visitor_id))
    return sessions


def _session(visitor_id: str, visits: Sequence[Visit]) -> Session:
    return Session(
        visitor_id=visitor_id,
        start=visits[0].at,
        end=visits[-1].at,
        paths=tuple(v.path for v in visits),
        referrer=visits[0].referrer,
    )


def common_paths(sessions: Iterable[Session], depth: int = 3, top: int = 5) -> list[tuple[str, int]]:
    """The most common journeys, as their first `depth` pages joined with ' > '."""
    counts = Counter(" > ".join(s.paths[:depth]) for s in sessions)
    return _top(counts, top)


def _top(counts: Counter[str], top: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def engagement_metrics(
    visits: Iterable[Visit],
    now: float,
    hours: float = 24.0,
    timeout: float = SESSION_TIMEOUT,
    top: int = 5,
) -> EngagementMetrics:
    """Visitors, sessions, pages per session, session length, bounces, returning visitors.

    Sessions are built from every visit given (so a visitor seen before the window counts as
    returning) and a session belongs to the window when it ends inside it.
    """
    since = now - hours * 3600.0
    all_sessions = sessionize((v for v in visits if v.at <= now), timeout)
    in_window = [s for s in all_sessions if s.end >= since]
    per_visitor = Counter(s.visitor_id for s in all_sessions)
    visitors = {s.visitor_id for s in in_window}
    views = sum(len(s.paths) for s in in_window)
    plants: Counter[str] = Counter()
    for session in in_window:
        for path in session.paths:
            plant = plant_from_path(path)
            if plant is not None:
                plants[plant] += 1
    count = len(in_window)
    return EngagementMetrics(
        hours=hours,
        visitors=len(visitors),
        sessions=count,
        page_views=views,
        pages_per_session=views / count if count else 0.0,
        average_session_seconds=statistics.fmean(s.duration for s in in_window) if count else 0.0,
        bounce_rate=sum(s.bounced for s in in_window) / count if count else 0.0,
        returning_visitors=sum(1 for v in visitors if per_visitor[v] > 1),
        top_entry_pages=_top(Counter(s.entry for s in in_window), top),
        top_exit_pages=_top(Counter(s.exit for s in in_window), top),
        most_common_paths=common_paths(in_window, top=top),
        most_viewed_plants=_top(plants, top),
        top_referrers=_top(Counter(s.referrer for s in in_window if s.referrer), top),
    )


def visitor_journey(
    visits: Iterable[Visit], visitor_id: str, timeout: float = SESSION_TIMEOUT
) -> VisitorJourney:
    """One visitor id's sessions: entry page, path sequence, exit page, length."""
    sessions = sessionize((v for v in visits if v.visitor_id == visitor_id), timeout)
    return VisitorJourney(
        visitor_id=visitor_id,
        sessions=[
            {
                "start": s.start,
                "end": s.end,
                "entry_page": s.entry,
                "exit_page": s.exit,
                "paths": list(s.paths),
                "duration": s.duration,
                "referrer": s.referrer,
            }
            for s in sessions
        ],
        total_page_views=sum(len(s.paths) for s in sessions),
        first_seen=sessions[0].start if sessions else None,
        last_seen=sessions[-1].end if sessions else None,
    )


class LiveViewers:
    """The set of open viewer connections; only its size ever leaves this object."""

    def __init__(self) -> None:
        self._open: set[str] = set()

    def connect(self, connection_id: str) -> bool:
        """Add a connection; False when it was already counted."""
        if connection_id in self._open:
            return False
        self._open.add(connection_id)
        return True

    def disconnect(self, connection_id: str) -> bool:
        """Remove a connection; False when it was not open (a duplicate or late close)."""
        if connection_id not in self._open:
            return False
        self._open.discard(connection_id)
        return True

    def __len__(self) -> int:
        return len(self._open)
