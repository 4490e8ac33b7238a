"""Visitor analytics in SQLite: tables, writers and the query functions behind the API.

* `analytics_visits`    one row per counted page view: opaque visitor id, path, referrer host, at
* `analytics_sessions`  sessions rebuilt by `analytics_processing`, keyed by (visitor_id, start)

Only the privacy layer's opaque visitor ids are stored; referrers are cut to their host. Both
tables have a `visitor_id` column, so the privacy issue's retention and erasure cover them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlite_utils

from greenhouse.engines.analytics import (
    SESSION_TIMEOUT,
    EngagementMetrics,
    Visit,
    VisitorJourney,
    engagement_metrics,
    referrer_host,
    visitor_journey,
)
from greenhouse.messages import AnalyticsSessionsComputed, VisitRecorded
from greenhouse.store import Migration

__all__ = [
    "ANALYTICS_MIGRATIONS",
    "export_analytics_data",
    "get_engagement_metrics",
    "get_visitor_journey_analysis",
    "load_visits",
    "write_sessions",
    "write_visits",
]

_json = msgspec.json.Encoder()
MAX_PATH = 512


def _tables(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS analytics_visits (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            visitor_id TEXT NOT NULL,
            path TEXT NOT NULL,
            referrer TEXT,
            at REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS analytics_visits_at ON analytics_visits(at)")
    db.execute(
        "CREATE INDEX IF NOT EXISTS analytics_visits_visitor ON analytics_visits(visitor_id, at)"
    )
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS analytics_sessions (
            visitor_id TEXT NOT NULL,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            pages INTEGER NOT NULL,
            entry_page TEXT NOT NULL,
            exit_page TEXT NOT NULL,
            paths TEXT NOT NULL,
            referrer TEXT,
            PRIMARY KEY (visitor_id, start)
        )
        """
    )


ANALYTICS_MIGRATIONS: list[Migration] = [Migration("engines_0003_analytics", _tables)]


def clean_path(path: str) -> str:
    """The path without its query string (queries can carry personal data), bounded in size."""
    return (path.split("?", 1)[0].split("#", 1)[0] or "/")[:MAX_PATH]


def write_visits(db: sqlite_utils.Database, messages: Sequence[VisitRecorded]) -> None:
    """Append counted visits (path without query, referrer host only)."""
    db.conn.executemany(
        "INSERT INTO analytics_visits(visitor_id, path, referrer, at) VALUES (?, ?, ?, ?)",
        [(m.visitor_id, clean_path(m.path), referrer_host(m.referrer), m.at) for m in messages],
    )


def write_sessions(
    db: sqlite_utils.Database, messages: Sequence[AnalyticsSessionsComputed]
) -> None:
    """Upsert sessions: a session that grew since the last run replaces its earlier row."""
    rows = [
        (
            s.visitor_id,
            s.start,
            s.end,
            len(s.paths),
            s.paths[0],
            s.paths[-1],
            _json.encode(list(s.paths)).decode(),
            s.referrer,
        )
        for message in messages
        for s in message.sessions
        if s.paths
    ]
    db.conn.executemany(
        """
        INSERT INTO analytics_sessions(visitor_id, start, "end", pages, entry_page, exit_page,
                                       paths, referrer)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(visitor_id, start) DO UPDATE SET
            "end" = excluded."end", pages = excluded.pages, exit_page = excluded.exit_page,
            paths = excluded.paths
        """,
        rows,
    )


def _has_visits(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'analytics_visits'"
    ).fetchone()
    return row is not None


def load_visits(
    conn: sqlite3.Connection, since: float, until: float | None = None, visitor_id: str | None = None
) -> list[Visit]:
    """Visits from `since` (to `until`), optionally of one visitor, oldest first."""
    if not _has_visits(conn):
        return []
    query = "SELECT visitor_id, path, referrer, at FROM analytics_visits WHERE at >= ?"
    params: list[Any] = [since]
    if until is not None:
        query += " AND at <= ?"
        params.append(until)
    if visitor_id is not None:
        query += " AND visitor_id = ?"
        params.append(visitor_id)
    rows = conn.execute(query + " ORDER BY at, id", params).fetchall()
    return [Visit(visitor_id=r[0], path=r[1], referrer=r[2], at=r[3]) for r in rows]


# A returning visitor is one seen before within the id's lifetime; ids rotate (daily by default),
# so a week of look-back before the window is more than enough to recognise one.
_LOOKBACK = 7 * 86400.0


def get_engagement_metrics(
    conn: sqlite3.Connection, hours: float, now: float, timeout: float = SESSION_TIMEOUT
) -> EngagementMetrics:
    """Visitors, sessions, pages per session, bounce rate, returning visitors, top plants."""
    hours = max(0.0, min(float(hours), 24 * 366.0))
    visits = load_visits(conn, now - hours * 3600.0 - _LOOKBACK, now)
    return engagement_metrics(visits, now, hours, timeout)


def get_visitor_journey_analysis(
    conn: sqlite3.Connection, visitor_id: str, timeout: float = SESSION_TIMEOUT
) -> VisitorJourney:
    """Every session of one visitor id: entry page, path sequence, exit page."""
    return visitor_journey(load_visits(conn, 0.0, visitor_id=visitor_id), visitor_id, timeout)


def export_analytics_data(conn: sqlite3.Connection, now: float) -> dict[str, Any]:
    """Everything analytics holds, as plain data (opaque ids only): sessions and 30-day metrics."""
    sessions: list[dict[str, Any]] = []
    has_sessions = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'analytics_sessions'"
    ).fetchone()
    if has_sessions:
        for row in conn.execute(
            'SELECT visitor_id, start, "end", pages, entry_page, exit_page, paths, referrer '
            "FROM analytics_sessions ORDER BY start, visitor_id"
        ):
            sessions.append(
                {
                    "visitor_id": row[0],
                    "start": row[1],
                    "end": row[2],
                    "pages": row[3],
                    "entry_page": row[4],
                    "exit_page": row[5],
                    "paths": msgspec.json.decode(row[6]),
                    "referrer": row[7],
                }
            )
    return {
        "exported_at": now,
        "sessions": sessions,
        "metrics_30d": msgspec.to_builtins(get_engagement_metrics(conn, 30 * 24, now)),
    }
