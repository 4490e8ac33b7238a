"""Growth and mood histories in SQLite: tables, the persistence actor's writers, and readers.

Tables (readable with any SQLite tool):

* `growth_history`  one row per growth computation: repository, at, score, stage
* `plant_growth`    the latest state of each plant (score, stage, health, factors, prediction,
                    and the snapshot it came from, so a restarted garden can recompute)
* `mood_history`    one row per mood synthesis: the five components, atmosphere, sky, sources

Writers run inside the persistence actor's batched transaction; readers take a read-only
connection from `Store.reader()` and run in a worker thread (they do blocking I/O).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlite_utils

from greenhouse.engines.growth import PlantSummary, PortfolioOverview, portfolio_overview
from greenhouse.engines.mood import COMPONENTS, MoodSynthesis
from greenhouse.engines.mood_trends import MoodSample, MoodTrends, mood_trends
from greenhouse.messages import GrowthScored, HistoryTrimmed, MoodSynthesized
from greenhouse.store import Migration

__all__ = [
    "HISTORY_MIGRATIONS",
    "GrowthState",
    "PlantState",
    "get_mood_trends",
    "get_plants",
    "get_portfolio_overview",
    "load_growth_state",
    "load_last_mood",
    "write_growth_scores",
    "write_mood_history",
    "write_trims",
]

_json = msgspec.json.Encoder()


def _growth_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS growth_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            repository TEXT NOT NULL,
            at REAL NOT NULL,
            score REAL NOT NULL,
            stage TEXT NOT NULL
        )
        """
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS growth_history_repository_at ON growth_history(repository, at)"
    )
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS plant_growth (
            repository TEXT PRIMARY KEY,
            score REAL NOT NULL,
            stage TEXT NOT NULL,
            health TEXT NOT NULL,
            velocity_per_day REAL NOT NULL DEFAULT 0,
            prediction TEXT NOT NULL DEFAULT '{}',
            factors TEXT NOT NULL DEFAULT '{}',
            snapshot TEXT NOT NULL DEFAULT '{}',
            coding_seconds REAL,
            languages TEXT NOT NULL DEFAULT '{}',
            updated_at REAL NOT NULL
        )
        """
    )


def _mood_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS mood_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            energy REAL NOT NULL,
            focus REAL NOT NULL,
            creativity REAL NOT NULL,
            serenity REAL NOT NULL,
            intensity REAL NOT NULL,
            atmosphere TEXT NOT NULL,
            weather_pattern TEXT NOT NULL,
            season TEXT NOT NULL DEFAULT '',
            time_of_day TEXT NOT NULL DEFAULT '',
            confidence REAL NOT NULL DEFAULT 0,
            sources TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS mood_history_at ON mood_history(at)")


HISTORY_MIGRATIONS: list[Migration] = [
    Migration("engines_0001_growth", _growth_tables),
    Migration("engines_0002_mood", _mood_tables),
]


# -- writers (called by the persistence actor inside its transaction) ---------------------------


def write_growth_scores(db: sqlite_utils.Database, messages: Sequence[GrowthScored]) -> None:
    """Append to `growth_history` and upsert `plant_growth`."""
    db.conn.executemany(
        "INSERT INTO growth_history(repository, at, score, stage) VALUES (?, ?, ?, ?)",
        [(m.repository, m.at, m.score, m.stage) for m in messages],
    )
    db.conn.executemany(
        """
        INSERT INTO plant_growth(repository, score, stage, health, velocity_per_day, prediction,
                                 factors, snapshot, coding_seconds, languages, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(repository) DO UPDATE SET
            score = excluded.score, stage = excluded.stage, health = excluded.health,
            velocity_per_day = excluded.velocity_per_day, prediction = excluded.prediction,
            factors = excluded.factors, snapshot = excluded.snapshot,
            coding_seconds = excluded.coding_seconds, languages = excluded.languages,
            updated_at = excluded.updated_at
        WHERE excluded.updated_at >= plant_growth.updated_at
        """,
        [
            (
                m.repository,
                m.score,
                m.stage,
                m.health,
                m.velocity_per_day,
                m.prediction,
                m.factors,
                m.snapshot,
                m.coding_seconds,
                _json.encode(m.languages).decode(),
                m.at,
            )
            for m in messages
        ],
    )


def write_mood_history(db: sqlite_utils.Database, messages: Sequence[MoodSynthesized]) -> None:
    """Append to `mood_history`."""
    db.conn.executemany(
        """
        INSERT INTO mood_history(at, energy, focus, creativity, serenity, intensity, atmosphere,
                                 weather_pattern, season, time_of_day, confidence, sources)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            (
                m.at,
                m.energy,
                m.focus,
                m.creativity,
                m.serenity,
                m.intensity,
                m.atmosphere,
                m.weather_pattern,
                m.season,
                m.time_of_day,
                m.confidence,
                _json.encode(m.sources).decode(),
            )
            for m in messages
        ],
    )


_TRIMMABLE = ("growth_history", "mood_history")


def write_trims(db: sqlite_utils.Database, messages: Sequence[HistoryTrimmed]) -> None:
    """Delete history rows past their retention (only the engine history tables)."""
    for message in messages:
        if message.table not in _TRIMMABLE:  # never a table name from elsewhere
            continue
        db.conn.execute(f"DELETE FROM {message.table} WHERE at < ?", (message.before,))


# -- readers -------------------------------------------------------------------------------------


class PlantState(msgspec.Struct, frozen=True, kw_only=True):
    """A row of `plant_growth`, decoded."""

    repository: str
    score: float
    stage: str
    health: str
    velocity_per_day: float
    prediction: dict[str, Any]
    factors: dict[str, Any]
    snapshot: dict[str, Any]
    coding_seconds: float | None
    languages: dict[str, int]
    updated_at: float


class GrowthState(msgspec.Struct, frozen=True, kw_only=True):
    """What the growth actor restores on start: plants and their recent score history."""

    plants: dict[str, PlantState]
    history: dict[str, list[tuple[float, float]]]


def _loads(text: str | None) -> Any:
    if not text:
        return {}
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:  # a hand-edited row must not stop the garden
        return {}


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def get_plants(conn: sqlite3.Connection) -> list[PlantState]:
    """Every plant's latest state, by name."""
    if not _table_exists(conn, "plant_growth"):
        return []
    rows = conn.execute(
        "SELECT repository, score, stage, health, velocity_per_day, prediction, factors, "
        "snapshot, coding_seconds, languages, updated_at FROM plant_growth ORDER BY repository"
    ).fetchall()
    return [
        PlantState(
            repository=row[0],
            score=row[1],
            stage=row[2],
            health=row[3],
            velocity_per_day=row[4],
            prediction=_loads(row[5]),
            factors=_loads(row[6]),
            snapshot=_loads(row[7]),
            coding_seconds=row[8],
            languages={k: int(v) for k, v in _loads(row[9]).items()},
            updated_at=row[10],
        )
        for row in rows
    ]


def load_growth_state(conn: sqlite3.Connection, since: float) -> GrowthState:
    """Plants and the score history since `since` (for the prediction's regression)."""
    plants = {plant.repository: plant for plant in get_plants(conn)}
    history: dict[str, list[tuple[float, float]]] = {}
    if _table_exists(conn, "growth_history"):
        rows = conn.execute(
            "SELECT repository, at, score FROM growth_history WHERE at >= ? ORDER BY at",
            (since,),
        )
        for repository, at, score in rows:
            history.setdefault(repository, []).append((at, score))
    return GrowthState(plants=plants, history=history)


def get_portfolio_overview(conn: sqlite3.Connection) -> PortfolioOverview:
    """For `/api/portfolio`: plants per stage, fastest growing, dormant, coding time, languages."""
    return portfolio_overview(
        PlantSummary(
            name=plant.repository,
            score=plant.score,
            stage=plant.stage,
            health=plant.health,
            velocity_per_day=plant.velocity_per_day,
            coding_seconds=plant.coding_seconds,
            languages=plant.languages,
        )
        for plant in get_plants(conn)
    )


_MOOD_COLUMNS = (
    "at, energy, focus, creativity, serenity, intensity, atmosphere, weather_pattern, season, "
    "time_of_day, confidence, sources"
)


def _mood_from_row(row: Sequence[Any]) -> MoodSynthesis:
    return MoodSynthesis(
        at=row[0],
        energy=row[1],
        focus=row[2],
        creativity=row[3],
        serenity=row[4],
        intensity=row[5],
        atmosphere=row[6],
        weather_pattern=row[7],
        season=row[8],
        time_of_day=row[9],
        confidence=row[10],
        sources={k: float(v) for k, v in _loads(row[11]).items()},
    )


def load_last_mood(conn: sqlite3.Connection) -> MoodSynthesis | None:
    """The newest row of `mood_history`, or None for a new garden."""
    if not _table_exists(conn, "mood_history"):
        return None
    row = conn.execute(
        f"SELECT {_MOOD_COLUMNS} FROM mood_history ORDER BY at DESC, id DESC LIMIT 1"
    ).fetchone()
    return _mood_from_row(row) if row else None


def get_mood_trends(conn: sqlite3.Connection, hours: float, now: float) -> MoodTrends:
    """For `/api/mood?hours=24`: per component averages, extremes and turning points."""
    hours = max(0.0, min(float(hours), 24 * 366.0))
    samples: list[MoodSample] = []
    if _table_exists(conn, "mood_history"):
        rows = conn.execute(
            f"SELECT {_MOOD_COLUMNS} FROM mood_history WHERE at >= ? AND at <= ? ORDER BY at",
            (now - hours * 3600.0, now),
        ).fetchall()
        for row in rows:
            mood = _mood_from_row(row)
            samples.append(
                MoodSample(
                    at=mood.at,
                    components=mood.components(),
                    atmosphere=mood.atmosphere,
                    confidence=mood.confidence,
                )
            )
    return mood_trends(samples, hours, COMPONENTS)
