"""SQLite storage: opening, checking, migrating, the event log, and batched writes.

`greenhouse.db` is a product: tables are named for what they hold and can be opened with any
SQLite tool. The database runs in WAL mode with `synchronous=NORMAL`: a commit survives a crash
of the process (SIGKILL) at once; on power loss the last commits before the last checkpoint can
be lost but the file is never corrupt (SQLite's documented WAL guarantee). That trade keeps an SD
card alive: a WAL commit is one sequential append, not an fsync.

Only the persistence actor writes (one connection, used from one worker thread at a time);
readers open their own connections with `Store.reader()`.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import sqlite_utils

from .messages import GardenEvent, iso_timestamp

__all__ = [
    "CORE_MIGRATIONS",
    "DatabaseCorrupt",
    "Migration",
    "StoredEventRow",
    "Store",
    "open_connection",
]

log = logging.getLogger("greenhouse.store")



class DatabaseCorrupt(RuntimeError):
    """`PRAGMA quick_check` failed; the message says what to do."""


@dataclass(frozen=True)
class Migration:
    """A named forward migration; applied once, recorded in `schema_migrations`."""

    name: str
    apply: Callable[[sqlite_utils.Database], None]


@dataclass(frozen=True, slots=True)
class StoredEventRow:
    """One row of the event log with its pre-encoded envelope."""

    id: int
    type: str
    data: str
    timestamp: str
    source: str

    def frame(self) -> bytes:
        """The JSON envelope, as sent to viewers (byte for byte what `encode_envelope` gives)."""
        return envelope_bytes(self.id, self.type, self.data, self.timestamp, self.source)


@functools.lru_cache(maxsize=256)
def _json_string(text: str) -> bytes:
    return msgspec.json.encode(text)


def envelope_bytes(event_id: int, kind: str, data: str, timestamp: str, source: str) -> bytes:
    """The envelope of one stored event, assembled from its already-encoded parts.

    `data` is the stored JSON text; the other string fields are JSON-encoded (and cached, since
    types, second-resolution timestamps and sources repeat). This is the store's hot path: it
    is several times cheaper than building a `WebSocketEvent` and encoding it, and a test checks
    that both give the same bytes.
    """
    return b"".join(
        (
            b'{"id":',
            str(event_id).encode(),
            b',"type":',
            _json_string(kind),
            b',"data":',
            data.encode(),
            b',"timestamp":',
            _json_string(timestamp),
            b',"source":',
            _json_string(source),
            b"}",
        )
    )


def _core_events(db: sqlite_utils.Database) -> None:
    # AUTOINCREMENT: ids are never reused, even after retention deletes old rows, so a viewer's
    # `since` stays meaningful forever.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            type TEXT NOT NULL,
            data TEXT NOT NULL,
            timestamp TEXT NOT NULL,
            source TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX IF NOT EXISTS events_type ON events(type)")


def _core_kv(db: sqlite_utils.Database) -> None:
    db.table("settings_kv").create(
        {"key": str, "value": str, "updated_at": float}, pk="key", if_not_exists=True
    )


CORE_MIGRATIONS: list[Migration] = [
    Migration("core_0001_events", _core_events),
    Migration("core_0002_settings_kv", _core_kv),
]


def open_connection(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the garden's pragmas (WAL, NORMAL sync, busy timeout)."""
    if readonly:
        uri = f"file:{Path(path).resolve()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=10.0)
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=10.0)
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


Writer = Callable[[sqlite_utils.Database, Sequence[Any]], None]


class Store:
    """The garden database: the writer connection, migrations, the event log and table writers."""

    def __init__(self, path: str | Path, migrations: Sequence[Migration] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = open_connection(self.path)
        except sqlite3.DatabaseError as error:
            raise DatabaseCorrupt(
                f"{self.path} is not a usable SQLite database ({error}); restore a backup or "
                "move it away to start a new garden"
            ) from None
        self.db = sqlite_utils.Database(self.conn)
        self._lock = threading.Lock()
        self.writers: dict[type, Writer] = {}
        self.check()
        if migrations is None:
            from .schema import MIGRATIONS

            migrations = MIGRATIONS
        self.migrate(migrations)
        self._next_id = self._read_next_id()

    # -- lifecycle -----------------------------------------------------------------------------

    def check(self) -> None:
        """Refuse a corrupt database with a clear message (runs `PRAGMA quick_check`)."""
        try:
            rows = self.conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as error:
            raise DatabaseCorrupt(
                f"{self.path} is not a usable SQLite database ({error}); restore a backup or "
                "move it away to start a new garden"
            ) from None
        if [r[0] for r in rows] != ["ok"]:
            detail = "; ".join(str(r[0]) for r in rows[:3])
            raise DatabaseCorrupt(
                f"{self.path} failed PRAGMA quick_check ({detail}); restore a backup or move it "
                "away to start a new garden"
            )

    def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply the migrations not yet recorded; returns the names applied now."""
        self.db.table("schema_migrations").create(
            {"name": str, "applied_at": str}, pk="name", if_not_exists=True
        )
        done = {row["name"] for row in self.db["schema_migrations"].rows}
        applied = []
        for migration in migrations:
            if migration.name in done:
                continue
            with self.db.atomic():
                migration.apply(self.db)
                self.conn.execute(
                    "INSERT INTO schema_migrations(name, applied_at) VALUES (?, datetime('now'))",
                    (migration.name,),
                )
            applied.append(migration.name)
        if applied:
            self.conn.execute(f"PRAGMA user_version={len(done) + len(applied)}")
            log.info("applied migrations: %s", ", ".join(applied))
        return applied

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close."""
        with self._lock:
            try:
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as error:  # still close: the WAL is replayed on next open
                log.warning("checkpoint on close failed: %s", error)
            self.conn.close()

    def reader(self) -> sqlite3.Connection:
        """A new read-only connection for the API and replay (one per reader)."""
        conn = open_connection(self.path, readonly=True)
        conn.row_factory = sqlite3.Row
        return conn

    # -- the event log -------------------------------------------------------------------------

    def _read_next_id(self) -> int:
        row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        last = row[0] if row else 0
        top = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        return max(last, top) + 1

    def register_writer(self, message_type: type, writer: Writer) -> None:
        """Route messages of `message_type` in a batch to `writer(db, messages)`."""
        self.writers[message_type] = writer

    def write_batch(
        self, messages: Sequence[Any], now: float
    ) -> list[tuple[GardenEvent, StoredEventRow]]:
        """Write a batch in ONE transaction; returns the stored events with their ids.

        Runs in a worker thread. Garden events go to `events`; other messages go to the writer
        registered for their type (unknown types are skipped with a warning).
        """
        stored: list[tuple[GardenEvent, StoredEventRow]] = []
        groups: dict[Writer, list[Any]] = {}
        rows: list[tuple[int, str, str, str, str]] = []
        next_id = self._next_id
        for message in messages:
            if isinstance(message, GardenEvent):
                values = (
                    next_id,
                    message.event_type.value,
                    message.payload_json().decode(),
                    iso_timestamp(message.timestamp or now),
                    message.source,
                )
                next_id += 1
                rows.append(values)
                stored.append((message, StoredEventRow(*values)))
                continue
            writer = self._writer_for(type(message))
            if writer is None:
                log.warning("no table writer for %s; not stored", type(message).__name__)
                continue
            groups.setdefault(writer, []).append(message)
        with self._lock, self.db.atomic():
            if rows:
                self.conn.executemany(
                    "INSERT INTO events(id, type, data, timestamp, source) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
            for writer, group in groups.items():
                writer(self.db, group)
        self._next_id = next_id
        return stored

    def _writer_for(self, message_type: type) -> Writer | None:
        for klass in message_type.__mro__:
            writer = self.writers.get(klass)
            if writer is not None:
                return writer
        return None

    def last_event_id(self) -> int:
        """The id of the newest stored event (0 when empty)."""
        return self._next_id - 1


def events_since(
    conn: sqlite3.Connection, since: int, limit: int = 1000, types: Iterable[str] | None = None
) -> list[StoredEventRow]:
    """Events with id > `since`, oldest first, at most `limit` (from a reader connection)."""
    query = "SELECT id, type, data, timestamp, source FROM events WHERE id > ?"
    params: list[Any] = [since]
    wanted = list(types) if types is not None else None
    if wanted:
        query += f" AND type IN ({', '.join('?' for _ in wanted)})"
        params.extend(wanted)
    query += " ORDER BY id LIMIT ?"
    params.append(limit)
    return [StoredEventRow(*row) for row in conn.execute(query, params).fetchall()]


def event_count(conn: sqlite3.Connection) -> int:
    """Number of rows in the event log."""
    return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
