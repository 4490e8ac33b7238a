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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import sqlite_utils

from .messages import GardenEvent, iso_timestamp

__all__ = [
    "CORE_MIGRATIONS",
    "DatabaseCorrupt",
    "Migration",
    "PreparedBatch",
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


@functools.lru_cache(maxsize=64)
def _type_part(kind: str) -> bytes:
    return b',"type":' + _json_string(kind) + b',"data":'


@functools.lru_cache(maxsize=256)
def _tail_part(timestamp: str, source: str) -> bytes:
    return b',"timestamp":' + _json_string(timestamp) + b',"source":' + _json_string(source) + b"}"


def envelope_bytes(event_id: int, kind: str, data: str | bytes, timestamp: str, source: str) -> bytes:
    """The envelope of one stored event, assembled from its already-encoded parts.

    `data` is the stored JSON text; the other string fields are JSON-encoded (and cached, since
    types, second-resolution timestamps and sources repeat). This is the store's hot path: it
    is several times cheaper than building a `WebSocketEvent` and encoding it, and a test checks
    that both give the same bytes.
    """
    if isinstance(data, str):
        data = data.encode()
    return b'{"id":%d%b%b%b' % (event_id, _type_part(kind), data, _tail_part(timestamp, source))


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


def open_connection(
    path: str | Path, *, readonly: bool = False, checkpoint_pages: int | None = None
) -> sqlite3.Connection:
    """A connection with the garden's pragmas (WAL, NORMAL sync, busy timeout); a writer may
    set its own `wal_autocheckpoint` (`checkpoint_pages`; SQLite's default is 1000)."""
    if readonly:
        uri = f"file:{Path(path).resolve()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=10.0)
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=10.0)
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    if checkpoint_pages is not None:
        conn.execute(f"PRAGMA wal_autocheckpoint={int(checkpoint_pages)}")
    return conn


Writer = Callable[[sqlite_utils.Database, Sequence[Any]], None]


@dataclass(slots=True)
class PreparedBatch:
    """A batch encoded by `Store.prepare`, ready for `Store.commit`."""

    first_id: int
    next_id: int = -1  # the id after the last event (`first_id` while there is none)
    messages: list[Any] = field(default_factory=list)  # everything, in order, as given
    events: list[GardenEvent] = field(default_factory=list)
    rows: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)  # the envelopes, in id order
    groups: dict[Writer, list[Any]] = field(default_factory=dict)
    _blob: bytes | None = None  # `encoded_rows`, once asked for

    def __post_init__(self) -> None:
        if self.next_id < 0:
            self.next_id = self.first_id

    def encoded_rows(self) -> bytes | None:
        """The event rows as one JSON array for `_INSERT_JSON`, or None if they cannot be.

        SQLite's JSON functions end a string at NUL (and SQLite before 3.38 lacks `->>`): such
        a rare batch is bound row by row instead. Call it where the GIL is cheap to hold (the
        persistence actor does, on the trio thread); the result is kept.
        """
        if self._blob is None and self.rows and _JSON_ROWS:
            blob = _rows_encoder.encode(self.rows)
            self._blob = b"" if b"\\u0000" in blob else blob
        return self._blob or None


_INSERT_ROWS = "INSERT INTO events(id, type, data, timestamp, source) VALUES (?, ?, ?, ?, ?)"
# The same rows, sent as ONE JSON array: SQLite unpacks it in a single statement step, during
# which the sqlite3 module has released the GIL, instead of taking the GIL back to bind every
# row as executemany does. The trio thread then keeps running while the batch is written.
_INSERT_JSON = (
    "INSERT INTO events(id, type, data, timestamp, source) "
    "SELECT value->>0, value->>1, value->>2, value->>3, value->>4 FROM json_each(CAST(? AS TEXT))"
)  # bound as bytes, a BLOB: the CAST keeps SQLite >= 3.45 from reading it as binary JSONB
_JSON_ROWS = sqlite3.sqlite_version_info >= (3, 38, 0)  # the ->> operator
_rows_encoder = msgspec.json.Encoder()
_payload_encoder = msgspec.json.Encoder()
# Garden event class -> (its type, the envelope bytes around it), so the hot loop skips enums.
_event_kinds: dict[type, tuple[str, bytes]] = {}


class Store:
    """The garden database: the writer connection, migrations, the event log and table writers."""

    def __init__(
        self,
        path: str | Path,
        migrations: Sequence[Migration] | None = None,
        *,
        checkpoint_pages: int | None = None,
    ) -> None:
        """Open (and check and migrate) the database at `path`.

        `checkpoint_pages` sets how many WAL pages the writer lets accumulate before a commit
        also checkpoints them into the database file (SQLite's `wal_autocheckpoint`; default
        1000). More means fewer checkpoints (each syncs both files) and a bigger WAL.
        """
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = open_connection(self.path, checkpoint_pages=checkpoint_pages)
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

    @property
    def next_id(self) -> int:
        """The id the next committed event gets."""
        return self._next_id

    def prepare(
        self,
        messages: Sequence[Any],
        now: float,
        *,
        into: PreparedBatch | None = None,
        first_id: int | None = None,
    ) -> PreparedBatch:
        """Encode messages for `commit`: event ids, rows and envelopes, table rows by writer.

        Pure Python and no I/O, so the persistence actor runs it on the trio thread and the
        worker thread that commits holds the GIL only briefly (SQLite releases it while it
        works). `into` extends a batch still being gathered; a new batch's ids start at
        `first_id` (default: right after the last commit; the actor passes the end of the
        batch being written). A batch that is never committed burns no ids.
        """
        batch = into if into is not None else PreparedBatch(
            self._next_id if first_id is None else first_id
        )
        batch.messages.extend(messages)
        batch._blob = None
        events, rows, frames, groups = batch.events, batch.rows, batch.frames, batch.groups
        encode = _payload_encoder.encode
        stamp = ""  # `now` as a timestamp, made once it is needed (history rows do not need it)
        tails: dict[tuple[str, str], bytes] = {}
        next_id = batch.next_id
        for message in messages:
            meta = _event_kinds.get(type(message))
            if meta is None:
                if not isinstance(message, GardenEvent):
                    writer = self._writer_for(type(message))
                    if writer is None:
                        log.warning("no table writer for %s; not stored", type(message).__name__)
                    else:
                        groups.setdefault(writer, []).append(message)
                    continue
                kind = message.event_type.value
                meta = _event_kinds[type(message)] = (kind, _type_part(kind))
            kind, type_part = meta
            # `GardenEvent.payload_json`, inlined: this loop is the store's hot path.
            raw = encode(message)
            comma = raw.find(b",", raw.find(b',"timestamp":') + 13)
            data = b"{" + raw[comma + 1 :] if comma != -1 else b"{}"
            source = message.source
            if message.timestamp:
                timestamp = iso_timestamp(message.timestamp)
            else:
                timestamp = stamp = stamp or iso_timestamp(now)
            tail = tails.get((timestamp, source))
            if tail is None:
                tail = tails[timestamp, source] = _tail_part(timestamp, source)
            frames.append(b'{"id":%d%b%b%b' % (next_id, type_part, data, tail))
            rows.append((next_id, kind, data.decode(), timestamp, source))
            events.append(message)
            next_id += 1
        batch.next_id = next_id
        return batch

    def commit(self, batch: PreparedBatch, entering: Callable[[], None] | None = None) -> None:
        """Write a prepared batch in ONE transaction (runs in the worker thread).

        `entering` is called just before SQLite starts on the batch, i.e. just before the
        sqlite3 module lets go of the GIL.
        """
        if batch.first_id != self._next_id:
            raise RuntimeError(
                f"batch prepared for id {batch.first_id} but the next id is {self._next_id}"
            )
        blob = batch.encoded_rows()
        with self._lock:
            if blob is not None and not batch.groups and not self.conn.in_transaction:
                # Events only: one statement is one transaction (autocommit), so SQLite does
                # the whole write, commit included, in one step without the GIL. The legacy
                # isolation level would spend a step (and a GIL round trip) on BEGIN first.
                level, self.conn.isolation_level = self.conn.isolation_level, None
                try:
                    if entering is not None:
                        entering()
                    self.conn.execute(_INSERT_JSON, (blob,))
                finally:
                    self.conn.isolation_level = level
            else:
                if entering is not None:
                    entering()
                with self.db.atomic():
                    if blob is not None:
                        self.conn.execute(_INSERT_JSON, (blob,))
                    elif batch.rows:
                        self.conn.executemany(_INSERT_ROWS, batch.rows)
                    for writer, group in batch.groups.items():
                        writer(self.db, group)
        self._next_id = batch.next_id

    def write_batch(
        self, messages: Sequence[Any], now: float
    ) -> list[tuple[GardenEvent, StoredEventRow]]:
        """Write a batch in ONE transaction; returns the stored events with their ids.

        Garden events go to `events`; other messages go to the writer registered for their
        type (unknown types are skipped with a warning).
        """
        batch = self.prepare(messages, now)
        self.commit(batch)
        return [
            (event, StoredEventRow(*row)) for event, row in zip(batch.events, batch.rows, strict=True)
        ]

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
