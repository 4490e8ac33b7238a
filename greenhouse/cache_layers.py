"""The cache's storage layers: an in-memory LRU and a SQLite table (both synchronous).

`MemoryLayer` is bounded by entry count and by bytes and evicts least recently used first.
`SQLiteLayer` keeps entries in the `cache_entries` table of the garden database, so a restart
starts warm; it also keeps entries for `stale_for` seconds after they expire, so a failing API
can be answered with the last good value (stale-on-error). Its calls block on the disk: the
cache runs writes in a worker thread and point reads inline (on a separate WAL reader
connection, which never waits for a writer). The optional Redis layer lives in `cache_redis.py`.

On disk a value of `COMPRESS_MIN` bytes or more is kept zlib-compressed (level 1) behind the
byte 0xC1, which MessagePack never uses: API responses are JSON that shrinks about 13 times
(fewer pages written, checkpointed and worn into an SD card), and rows written before
compression, plain MessagePack, still read as they are.
"""

from __future__ import annotations

import sqlite3
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import msgspec
import sqlite_utils

from .store import Migration, open_connection

__all__ = [
    "CACHE_MIGRATIONS",
    "COMPRESS_MIN",
    "CacheEntry",
    "LayerStats",
    "MemoryLayer",
    "SQLiteLayer",
]


class CacheEntry(msgspec.Struct, frozen=True):
    """One cached value (MessagePack bytes) with its lifetime and HTTP validators."""

    key: str
    value: bytes
    stored_at: float
    expires_at: float
    etag: str | None = None
    last_modified: str | None = None
    tags: tuple[str, ...] = ()

    def fresh(self, now: float) -> bool:
        """True until `expires_at` (epoch seconds)."""
        return now < self.expires_at

    @property
    def size(self) -> int:
        """Approximate bytes held in memory (value, key and a fixed overhead per entry)."""
        return len(self.value) + len(self.key) + 96


@dataclass
class LayerStats:
    """Counters of one layer."""

    hits: int = 0
    misses: int = 0
    sets: int = 0
    evictions: int = 0
    expirations: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, float]:
        looked = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / looked if looked else 0.0,
            "sets": self.sets,
            "evictions": self.evictions,
            "expirations": self.expirations,
            "errors": self.errors,
        }


class MemoryLayer:
    """LRU with per-entry TTL, bounded by `max_entries` and `max_bytes`."""

    name = "memory"

    def __init__(self, max_entries: int = 2048, max_bytes: int = 16 * 1024 * 1024) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("memory layer bounds must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self.stats = LayerStats()
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str, now: float) -> CacheEntry | None:
        """The fresh entry for `key` (marked most recently used), else None."""
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
            return None
        if not entry.fresh(now):
            self._drop(key)
            self.stats.expirations += 1
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return entry

    def set(self, entry: CacheEntry) -> bool:
        """Store (evicting least recently used); an entry bigger than the whole layer is refused."""
        self._drop(entry.key)
        if entry.size > self.max_bytes:
            return False
        self._entries[entry.key] = entry
        self.bytes += entry.size
        self.stats.sets += 1
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self.stats.evictions += 1
        return True

    def delete(self, key: str) -> bool:
        """Remove `key`; returns whether it was there."""
        return self._drop(key)

    def clear_tag(self, tag: str) -> int:
        """Remove every entry carrying `tag`."""
        keys = [k for k, e in self._entries.items() if tag in e.tags]
        for key in keys:
            self._drop(key)
        return len(keys)

    def purge_expired(self, now: float) -> int:
        """Drop expired entries."""
        keys = [k for k, e in self._entries.items() if not e.fresh(now)]
        for key in keys:
            self._drop(key)
        self.stats.expirations += len(keys)
        return len(keys)

    def _drop(self, key: str) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self.bytes -= entry.size
        return True

    def size(self) -> dict[str, int]:
        return {"entries": len(self._entries), "bytes": self.bytes}


# --------------------------------------------------------------------------------------------
# SQLite layer.

_DDL = (
    """
    CREATE TABLE IF NOT EXISTS cache_entries (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        stored_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        etag TEXT,
        last_modified TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        size INTEGER NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS cache_entries_expires ON cache_entries(expires_at)",
    """
    CREATE TABLE IF NOT EXISTS cache_tags (
        tag TEXT NOT NULL,
        key TEXT NOT NULL REFERENCES cache_entries(key) ON DELETE CASCADE,
        PRIMARY KEY (tag, key)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS cache_tags_key ON cache_tags(key)",
)


def _ensure_schema(conn: sqlite3.Connection) -> None:
    for statement in _DDL:
        conn.execute(statement)


def _migration_cache_entries(db: sqlite_utils.Database) -> None:
    _ensure_schema(db.conn)


CACHE_MIGRATIONS: list[Migration] = [Migration("cache_0001_entries", _migration_cache_entries)]

_tags_encoder = msgspec.json.Encoder()
_tags_decoder = msgspec.json.Decoder(tuple[str, ...])

# Values this long or longer are compressed on disk; below it zlib's header and the call cost
# more than they save.
COMPRESS_MIN = 512
# Marks a compressed value: 0xC1 is the one byte MessagePack never emits, so no plain row
# (every row written before compression) starts with it.
_COMPRESSED = b"\xc1"


def pack_value(value: bytes) -> bytes:
    """The bytes kept on disk for `value`: compressed behind the marker when that is smaller."""
    if len(value) < COMPRESS_MIN:
        return value
    packed = _COMPRESSED + zlib.compress(value, 1)  # level 1: most of the gain, a third the CPU
    return packed if len(packed) < len(value) else value


def unpack_value(stored: bytes) -> bytes:
    """The value back from its disk bytes (plain rows pass through).

    A damaged compressed row is returned as stored: it starts with 0xC1, so decoding it fails
    as any corrupt entry does, and the cache drops it.
    """
    if stored[:1] != _COMPRESSED:
        return stored
    try:
        return zlib.decompress(stored[1:])
    except zlib.error:
        return stored


class SQLiteLayer:
    """Cache rows in the garden database; expired rows stay `stale_for` seconds for stale-on-error.

    It has its own connection (WAL lets it write beside the persistence actor): cache rows are
    not garden history, and a `set` must be readable at once, not after the next batch.
    """

    name = "sqlite"

    def __init__(
        self,
        path: str | Path,
        stale_for: float = 86400.0,
        *,
        checkpoint_pages: int | None = None,
    ) -> None:
        """Open both connections; `checkpoint_pages` is this writer's `wal_autocheckpoint`.

        The garden passes a multiple of the persistence store's own setting, so the store's
        commits fold the shared WAL into the database and the cache's commits stay small
        (SQLite's default of 1000 otherwise made the cache check-point everyone's pages).
        """
        self.path = Path(path)
        self.stale_for = stale_for
        self.stats = LayerStats()
        self._lock = threading.Lock()
        self.conn = open_connection(self.path, checkpoint_pages=checkpoint_pages)
        with self._lock, self.conn:
            _ensure_schema(self.conn)  # idempotent; the garden's migration normally did it
        # Reads have their own connection: in WAL mode a reader never waits for a writer, so a
        # point read is cheap enough for the trio thread even while a write holds `conn`.
        self._read_lock = threading.Lock()
        self.reader = open_connection(self.path)

    def get(self, key: str) -> CacheEntry | None:
        """The row for `key`, fresh or not (the caller decides); counts a hit only when fresh."""
        with self._read_lock:
            row = self.reader.execute(
                "SELECT value, stored_at, expires_at, etag, last_modified, tags "
                "FROM cache_entries WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return CacheEntry(
            key, unpack_value(row[0]), row[1], row[2], row[3], row[4], _tags_decoder.decode(row[5])
        )

    def set(self, entry: CacheEntry) -> None:
        """Insert or update the row (value compressed) and its tags in one transaction."""
        stored = pack_value(entry.value)
        with self._lock, self.conn:
            # Updated in place when the key exists: a DELETE + INSERT freed and reallocated
            # the row's overflow pages on every refresh of a response.
            self.conn.execute(
                "INSERT INTO cache_entries(key, value, stored_at, expires_at, etag, last_modified,"
                " tags, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
                " value = excluded.value, stored_at = excluded.stored_at,"
                " expires_at = excluded.expires_at, etag = excluded.etag,"
                " last_modified = excluded.last_modified, tags = excluded.tags,"
                " size = excluded.size",
                (
                    entry.key,
                    stored,
                    entry.stored_at,
                    entry.expires_at,
                    entry.etag,
                    entry.last_modified,
                    _tags_encoder.encode(entry.tags).decode(),
                    len(stored),
                ),
            )
            self.conn.execute("DELETE FROM cache_tags WHERE key = ?", (entry.key,))
            if entry.tags:
                self.conn.executemany(
                    "INSERT OR IGNORE INTO cache_tags(tag, key) VALUES (?, ?)",
                    [(tag, entry.key) for tag in entry.tags],
                )
        self.stats.sets += 1

    def delete(self, key: str) -> bool:
        """Remove the row; returns whether it was there."""
        with self._lock, self.conn:
            cursor = self.conn.execute("DELETE FROM cache_entries WHERE key = ?", (key,))
        return cursor.rowcount > 0

    def keys_with_tag(self, tag: str) -> list[str]:
        """Keys of the rows carrying `tag`."""
        with self._read_lock:
            rows = self.reader.execute(
                "SELECT key FROM cache_tags WHERE tag = ?", (tag,)
            ).fetchall()
        return [r[0] for r in rows]

    def clear_tag(self, tag: str) -> int:
        """Remove every row carrying `tag`."""
        with self._lock, self.conn:
            cursor = self.conn.execute(
                "DELETE FROM cache_entries WHERE key IN (SELECT key FROM cache_tags WHERE tag = ?)",
                (tag,),
            )
        return cursor.rowcount

    def purge(self, now: float) -> int:
        """Delete rows expired for longer than `stale_for`."""
        with self._lock, self.conn:
            cursor = self.conn.execute(
                "DELETE FROM cache_entries WHERE expires_at < ?", (now - self.stale_for,)
            )
        self.stats.expirations += cursor.rowcount
        return cursor.rowcount

    def checkpoint(self) -> dict[str, int]:
        """Fold the WAL into the database file and truncate it; release cached pages."""
        with self._lock:
            busy, log_pages, moved = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            self.conn.execute("PRAGMA shrink_memory")
        return {"busy": busy, "wal_pages": log_pages, "checkpointed": moved}

    def size(self) -> dict[str, int]:
        """Rows and the bytes their values take on disk (compressed where they were)."""
        with self._read_lock:
            count, total = self.reader.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM cache_entries"
            ).fetchone()
        return {"entries": int(count), "bytes": int(total)}

    def close(self) -> None:
        with self._read_lock:
            self.reader.close()
        with self._lock:
            self.conn.close()
