"""Coding and social histories in SQLite: tables, the persistence actor's writers, and readers.

Tables (readable with any SQLite tool):

* `coding_observations`  one row per WakaTime poll (`CodingActivityObserved`): today's seconds,
                         intensity, streaks, focus sessions, daily average, top projects (JSON)
* `social_posts`         one row per post or feed entry seen (`SocialActivityObserved`'s new
                         posts), keyed by (source, post_id): never duplicated; seen as new
                         again, its engagement and `last_seen` are refreshed

The tree reads `social_posts` back when it is built (`recent_post_keys`), so a restarted garden
does not announce old posts as new. Only what the sources publish publicly is stored; no
account token, e-mail or IP address is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import msgspec
import sqlite_utils

from greenhouse.messages import CodingActivityObserved, SocialActivityObserved
from greenhouse.store import Migration

__all__ = [
    "CODING_SOCIAL_MIGRATIONS",
    "recent_coding",
    "recent_post_keys",
    "write_coding_observations",
    "write_social_posts",
]

_json = msgspec.json.Encoder()


def _tables(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS coding_observations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            today_seconds REAL NOT NULL,
            intensity REAL NOT NULL,
            daily_average_seconds REAL NOT NULL,
            active_days INTEGER NOT NULL,
            current_streak INTEGER NOT NULL,
            longest_streak INTEGER NOT NULL,
            focus_sessions INTEGER NOT NULL,
            focus_seconds REAL NOT NULL,
            most_productive_hours TEXT NOT NULL DEFAULT '[]',
            projects TEXT NOT NULL DEFAULT '{}',
            languages TEXT NOT NULL DEFAULT '{}',
            stats_pending INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS coding_observations_at ON coding_observations(at)")
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS social_posts (
            source TEXT NOT NULL,
            post_id TEXT NOT NULL,
            published REAL NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            url TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL DEFAULT '',
            likes INTEGER NOT NULL DEFAULT 0,
            shares INTEGER NOT NULL DEFAULT 0,
            replies INTEGER NOT NULL DEFAULT 0,
            score INTEGER NOT NULL DEFAULT 0,
            tags TEXT NOT NULL DEFAULT '[]',
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            PRIMARY KEY (source, post_id)
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS social_posts_published ON social_posts(published)")


CODING_SOCIAL_MIGRATIONS: list[Migration] = [
    Migration("coding_social_0001_tables", _tables),
]


# -- writers (run inside the persistence actor's transaction) ----------------------------------


def write_coding_observations(
    db: sqlite_utils.Database, messages: Sequence[CodingActivityObserved]
) -> None:
    """Append a row per WakaTime poll."""
    rows = [
        (
            m.observed_at,
            m.today_seconds,
            m.metrics.intensity,
            m.metrics.daily_average_seconds,
            m.metrics.active_days,
            m.metrics.current_streak,
            m.metrics.longest_streak,
            m.metrics.focus_sessions,
            m.metrics.focus_seconds,
            _json.encode(list(m.metrics.most_productive_hours)).decode(),
            _json.encode({p.name: p.seconds for p in m.projects}).decode(),
            _json.encode(m.languages).decode(),
            int(m.stats_pending),
        )
        for m in messages
    ]
    db.conn.executemany(
        """
        INSERT INTO coding_observations(at, today_seconds, intensity, daily_average_seconds,
            active_days, current_streak, longest_streak, focus_sessions, focus_seconds,
            most_productive_hours, projects, languages, stats_pending)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        rows,
    )


def write_social_posts(
    db: sqlite_utils.Database, messages: Sequence[SocialActivityObserved]
) -> None:
    """Insert each new post once; one seen as new again refreshes engagement and `last_seen`."""
    rows = [
        (
            p.source,
            p.id,
            p.published,
            p.title[:500],
            p.text[:4000],  # a feed entry can carry a whole article; the garden needs a gist
            p.url[:2000],
            p.author[:200],
            p.likes,
            p.shares,
            p.replies,
            p.score,
            _json.encode(list(p.tags)).decode(),
            m.observed_at,
            m.observed_at,
        )
        for m in messages
        for p in m.new_posts
    ]
    db.conn.executemany(
        """
        INSERT INTO social_posts(source, post_id, published, title, text, url, author, likes,
            shares, replies, score, tags, first_seen, last_seen)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(source, post_id) DO UPDATE SET
            likes = excluded.likes, shares = excluded.shares, replies = excluded.replies,
            score = excluded.score, last_seen = excluded.last_seen
        """,
        rows,
    )


# -- readers (blocking: call from a worker thread) ---------------------------------------------


def recent_post_keys(conn: sqlite3.Connection, limit: int = 5000) -> list[tuple[str, str]]:
    """(source, post_id) of the `limit` posts seen most recently, newest first."""
    try:
        rows = conn.execute(
            "SELECT source, post_id FROM social_posts ORDER BY last_seen DESC, rowid DESC LIMIT ?",
            (limit,),
        ).fetchall()
    except sqlite3.OperationalError:  # the table does not exist yet (an old database)
        return []
    return [(str(row[0]), str(row[1])) for row in rows]


def recent_coding(conn: sqlite3.Connection, since: float) -> list[tuple[float, float, float]]:
    """(at, today_seconds, intensity) of WakaTime polls since `since`, oldest first."""
    try:
        rows = conn.execute(
            "SELECT at, today_seconds, intensity FROM coding_observations WHERE at >= ? ORDER BY at",
            (since,),
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    return [(float(r[0]), float(r[1]), float(r[2])) for r in rows]
