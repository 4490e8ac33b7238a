"""Music and weather histories in SQLite: tables, the persistence actor's writers, and readers.

Tables (readable with any SQLite tool):

* `track_plays`       one row per track start seen by the Spotify poller (`TrackChanged` with
                      something playing): what, when, and its mood with confidence
* `weather_readings`  one row per fresh weather reading (`WeatherObserved`), in Celsius and m/s
                      whatever `WEATHER_UNITS` says, with the sky pattern, season and mood

Spotify keeps only the last 50 plays; `track_plays` is the garden's own longer memory, and
`stored_listening_trends` computes trends from it. A track counts once per start: a repeat of
the same track straight after itself is not seen as a new start, a pause and resume is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import msgspec
import sqlite_utils

from greenhouse.messages import TrackChanged, WeatherObserved, iso_timestamp
from greenhouse.models import (
    ListeningTrends,
    PlayHistoryItem,
    SpotifyArtist,
    SpotifyTrack,
    TrackMood,
)
from greenhouse.services.atmosphere import celsius, wind_ms
from greenhouse.services.music_mood import listening_trends
from greenhouse.store import Migration

__all__ = [
    "LISTENING_WEATHER_MIGRATIONS",
    "WeatherReading",
    "recent_weather_readings",
    "stored_listening_trends",
    "write_track_plays",
    "write_weather_readings",
]

_json = msgspec.json.Encoder()


def _tables(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS track_plays (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            track_id TEXT,
            track TEXT,
            artists TEXT NOT NULL DEFAULT '[]',
            album TEXT,
            duration_ms INTEGER NOT NULL DEFAULT 0,
            valence REAL NOT NULL,
            energy REAL NOT NULL,
            danceability REAL NOT NULL,
            tempo REAL,
            confidence REAL NOT NULL,
            mood_source TEXT NOT NULL,
            label TEXT NOT NULL DEFAULT ''
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS track_plays_at ON track_plays(at)")
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS weather_readings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            reading_at REAL NOT NULL,
            location TEXT NOT NULL,
            condition TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            weather_pattern TEXT NOT NULL,
            temperature_c REAL NOT NULL,
            humidity REAL NOT NULL,
            wind_ms REAL NOT NULL,
            clouds REAL NOT NULL,
            rain_mm_h REAL,
            snow_mm_h REAL,
            is_day INTEGER NOT NULL,
            season TEXT NOT NULL,
            day_length_hours REAL,
            energy REAL NOT NULL,
            serenity REAL NOT NULL,
            intensity REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS weather_readings_at ON weather_readings(at)")


LISTENING_WEATHER_MIGRATIONS: list[Migration] = [
    Migration("music_weather_0001_tables", _tables),
]


# -- writers (run inside the persistence actor's transaction) ----------------------------------


def write_track_plays(db: sqlite_utils.Database, messages: Sequence[TrackChanged]) -> None:
    """Append a row per track start; a stop (nothing playing) writes nothing."""
    rows = [
        (
            m.observed_at,
            m.mood.track_id,
            m.mood.track,
            _json.encode(list(m.mood.artists)).decode(),
            m.mood.album,
            m.mood.duration_ms or 0,
            m.mood.valence,
            m.mood.energy,
            m.mood.danceability,
            m.mood.tempo,
            m.mood.confidence,
            m.mood.source,
            m.mood.label,
        )
        for m in messages
        if m.mood.is_playing
    ]
    db.conn.executemany(
        """
        INSERT INTO track_plays(at, track_id, track, artists, album, duration_ms, valence, energy,
                                danceability, tempo, confidence, mood_source, label)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        rows,
    )


def write_weather_readings(db: sqlite_utils.Database, messages: Sequence[WeatherObserved]) -> None:
    """Append a row per reading, normalised to Celsius and m/s."""
    rows = []
    for m in messages:
        current = m.current
        rain = current.rain.one_hour if current.rain is not None else None
        snow = current.snow.one_hour if current.snow is not None else None
        rows.append(
            (
                m.observed_at,
                float(current.dt),
                m.location,
                current.condition.main,
                current.condition.description,
                m.mood.weather_pattern,
                round(celsius(current.main.temp, m.units), 3),
                current.main.humidity,
                round(wind_ms(current.wind.speed, m.units), 3),
                current.clouds.all,
                rain,
                snow,
                int(m.mood.is_day),
                m.season.season,
                m.season.day_length_hours,
                m.mood.energy,
                m.mood.serenity,
                m.mood.intensity,
            )
        )
    db.conn.executemany(
        """
        INSERT INTO weather_readings(at, reading_at, location, condition, description,
            weather_pattern, temperature_c, humidity, wind_ms, clouds, rain_mm_h, snow_mm_h,
            is_day, season, day_length_hours, energy, serenity, intensity)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        rows,
    )


# -- readers (a read-only connection from `Store.reader()`, in a worker thread) ----------------


class WeatherReading(msgspec.Struct, frozen=True, kw_only=True):
    """A row of `weather_readings`."""

    at: float
    location: str
    condition: str
    weather_pattern: str
    temperature_c: float
    humidity: float
    wind_ms: float
    clouds: float
    is_day: bool
    season: str


def recent_weather_readings(conn: sqlite3.Connection, since: float) -> list[WeatherReading]:
    """Readings observed at or after `since`, oldest first."""
    cursor = conn.execute(
        """
        SELECT at, location, condition, weather_pattern, temperature_c, humidity, wind_ms,
               clouds, is_day, season
        FROM weather_readings WHERE at >= ? ORDER BY at
        """,
        (since,),
    )
    return [
        WeatherReading(
            at=row[0],
            location=row[1],
            condition=row[2],
            weather_pattern=row[3],
            temperature_c=row[4],
            humidity=row[5],
            wind_ms=row[6],
            clouds=row[7],
            is_day=bool(row[8]),
            season=row[9],
        )
        for row in cursor.fetchall()
    ]


def stored_listening_trends(
    conn: sqlite3.Connection, *, now: float, days: int = 7
) -> ListeningTrends:
    """`ListeningTrends` from `track_plays` (not capped at Spotify's 50 plays)."""
    start = now - days * 86400
    cursor = conn.execute(
        """
        SELECT at, track_id, track, artists, duration_ms, valence, energy, danceability, tempo,
               confidence, mood_source
        FROM track_plays WHERE at >= ? AND at <= ? ORDER BY at
        """,
        (start, now),
    )
    history: list[PlayHistoryItem] = []
    moods: dict[str, TrackMood] = {}
    for (
        at,
        track_id,
        name,
        artists,
        duration,
        valence,
        energy,
        dance,
        tempo,
        conf,
        source,
    ) in cursor.fetchall():
        key = track_id or f"row:{at}"
        track = SpotifyTrack(
            name=name or "",
            id=key,
            duration_ms=duration,
            artists=tuple(SpotifyArtist(name=a) for a in msgspec.json.decode(artists)),
        )
        history.append(PlayHistoryItem(track=track, played_at=iso_timestamp(at)))
        moods[key] = TrackMood(
            track_id=key,
            valence=valence,
            energy=energy,
            danceability=dance,
            tempo=tempo,
            confidence=conf,
            source=source,
        )
    trends = listening_trends(history, moods, now=now, days=days)
    # The garden's own log has no 50-play cap: it is complete for as long as it has run.
    return msgspec.structs.replace(trends, complete=True)
