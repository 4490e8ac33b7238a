"""The SQLite layer's disk format: compressed values, plain rows from before, rows updated in place."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pytest

from greenhouse.cache import MultiLayerCache, encode_value
from greenhouse.cache_layers import COMPRESS_MIN, CacheEntry, SQLiteLayer, pack_value, unpack_value
from greenhouse.runtime import Clock
from greenhouse.store import Store

EPOCH = 1_764_000_000.0

# A GitHub-like JSON listing: repetitive, as API responses are.
BODY = msgspec.json.encode(
    [{"full_name": f"dev/repo-{i}", "private": False, "stargazers_count": i} for i in range(300)]
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "garden.db"
    Store(path).close()  # the garden's migrations create cache_entries
    return path


def _stored(layer: SQLiteLayer, key: str) -> bytes:
    return layer.conn.execute("SELECT value FROM cache_entries WHERE key = ?", (key,)).fetchone()[0]


def test_large_values_are_compressed_on_disk_and_read_back(db_path: Path) -> None:
    layer = SQLiteLayer(db_path)
    value = encode_value({"body": BODY})
    layer.set(CacheEntry("big", value, EPOCH, EPOCH + 60, etag='"e1"', tags=("service:github",)))
    stored = _stored(layer, "big")
    assert stored[:1] == b"\xc1" and len(stored) * 4 < len(value)
    got = layer.get("big")
    assert got is not None and got.value == value and got.etag == '"e1"'
    assert layer.size()["bytes"] == len(stored)  # what the disk holds
    layer.close()


def test_small_and_incompressible_values_stay_plain(db_path: Path) -> None:
    layer = SQLiteLayer(db_path)
    small = encode_value({"a": 1})
    noise = encode_value(os.urandom(COMPRESS_MIN * 2))
    layer.set(CacheEntry("small", small, EPOCH, EPOCH + 60))
    layer.set(CacheEntry("noise", noise, EPOCH, EPOCH + 60))
    assert _stored(layer, "small") == small and _stored(layer, "noise") == noise
    assert layer.get("noise").value == noise  # type: ignore[union-attr]
    layer.close()


def test_rows_written_before_compression_still_read(db_path: Path) -> None:
    value = encode_value({"body": BODY})  # plain MessagePack, as every old row is
    layer = SQLiteLayer(db_path)
    with layer.conn:
        layer.conn.execute(
            "INSERT INTO cache_entries(key, value, stored_at, expires_at, tags, size)"
            " VALUES ('old', ?, ?, ?, '[]', ?)",
            (value, EPOCH, EPOCH + 60, len(value)),
        )
    assert layer.get("old").value == value  # type: ignore[union-attr]
    layer.close()


def test_pack_round_trips_and_damage_stays_undecodable() -> None:
    value = encode_value({"body": BODY})
    assert unpack_value(pack_value(value)) == value
    damaged = pack_value(value)[:40]
    assert unpack_value(damaged) == damaged  # still starts with 0xC1: msgpack rejects it
    with pytest.raises(msgspec.DecodeError):
        msgspec.msgpack.decode(unpack_value(damaged))


def test_a_set_updates_the_row_and_replaces_its_tags(db_path: Path) -> None:
    layer = SQLiteLayer(db_path)
    layer.set(CacheEntry("k", b"\x01", EPOCH, EPOCH + 60, tags=("a", "b")))
    layer.set(CacheEntry("k", b"\x02", EPOCH + 5, EPOCH + 90, etag='"2"', tags=("b", "c")))
    got = layer.get("k")
    assert got is not None and (got.value, got.stored_at, got.expires_at, got.etag, got.tags) == (
        b"\x02", EPOCH + 5, EPOCH + 90, '"2"', ("b", "c"),
    )
    assert layer.keys_with_tag("a") == [] and layer.keys_with_tag("c") == ["k"]
    assert layer.clear_tag("b") == 1 and layer.get("k") is None
    layer.close()


async def test_a_compressed_entry_survives_a_restart(db_path: Path) -> None:
    cache = MultiLayerCache(db_path, clock=Clock(start_epoch=EPOCH))
    await cache.set("resp", {"body": BODY}, ttl=600, tags=("service:github",))
    await cache.aclose()
    again = MultiLayerCache(db_path, clock=Clock(start_epoch=EPOCH))
    got = await again.get("resp")
    assert (got.layer, got.value) == ("sqlite", {"body": BODY})
    await again.aclose()


def test_checkpoint_pages_sets_the_cache_writers_autocheckpoint(db_path: Path) -> None:
    layer = SQLiteLayer(db_path, checkpoint_pages=16000)
    assert layer.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 16000
    layer.close()
    default = SQLiteLayer(db_path)
    assert default.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    default.close()
