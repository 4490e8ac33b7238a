"""The store and the persistence actor: ids, batching, durability on cancel, corruption."""

from __future__ import annotations

import sqlite3

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from actors.persistence import PersistenceActor
from greenhouse.messages import CommitPushed, EventStored, Message, decode_envelope
from greenhouse.runtime import Bus, Clock, ask
from greenhouse.store import DatabaseCorrupt, Migration, Store, event_count, events_since


def commit(n: int, repo: str = "garden") -> CommitPushed:
    return CommitPushed(repository=repo, commit_count=n, author="dev", impact_score=0.5)


def test_schema_is_created_and_migrations_are_recorded_once(tmp_path):
    path = tmp_path / "g.db"
    store = Store(path)
    store.close()
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert "core_0001_events" in names
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    calls: list[int] = []
    extra = Migration("test_0001", lambda db: calls.append(1))
    store = Store(path, migrations=[extra])
    assert store.migrate([extra]) == []  # already applied: not again
    store.close()
    assert calls == [1]


def test_corrupt_database_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not a database" * 500)
    with pytest.raises(DatabaseCorrupt, match="restore a backup"):
        Store(path)


def test_damaged_pages_fail_quick_check(tmp_path):
    path = tmp_path / "g.db"
    store = Store(path)
    store.write_batch([commit(i) for i in range(2000)], now=1.0)
    store.close()
    data = bytearray(path.read_bytes())
    # Overwrite a run of bytes in the middle of the file (inside b-tree pages, not the header).
    for i in range(len(data) // 2, len(data) // 2 + 3000):
        data[i] = 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DatabaseCorrupt):
        Store(path)


@given(counts=st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=8))
def test_ids_are_strictly_increasing_across_batches_and_restarts(tmp_path_factory, counts):
    path = tmp_path_factory.mktemp("ids") / "g.db"
    seen: list[int] = []
    for n in counts:
        store = Store(path)
        stored = store.write_batch([commit(i) for i in range(n)], now=1.0)
        seen.extend(row.id for _, row in stored)
        store.close()
    assert seen == sorted(set(seen))
    assert seen == list(range(1, sum(counts) + 1))


def test_ids_are_not_reused_after_old_events_are_deleted(tmp_path):
    store = Store(tmp_path / "g.db")
    store.write_batch([commit(i) for i in range(5)], now=1.0)
    store.conn.execute("DELETE FROM events")
    store.conn.commit()
    store.close()
    store = Store(tmp_path / "g.db")
    (_, row), = store.write_batch([commit(9)], now=1.0)
    assert row.id == 6


def test_envelope_matches_the_design_wire_format(tmp_path):
    store = Store(tmp_path / "g.db")
    (_, row), = store.write_batch([commit(3, "digital-greenhouse")], now=1705314600.0)
    envelope = decode_envelope(row.frame())
    assert envelope.id == 1
    assert envelope.type == "commit_pushed"
    assert envelope.timestamp == "2024-01-15T10:30:00Z"
    assert envelope.source == "greenhouse"
    assert envelope.data["repository"] == "digital-greenhouse"
    assert envelope.data["commit_count"] == 3
    reader = store.reader()
    assert [r.frame() for r in events_since(reader, 0)] == [row.frame()]


async def test_n_published_events_give_n_rows_with_increasing_ids(tmp_path):
    bus = Bus()
    store = Store(tmp_path / "g.db")
    inbox = bus.subscribe("persistence", (CommitPushed,), capacity=64)
    stored_box = bus.subscribe("watcher", (EventStored,), capacity=10_000)
    actor = PersistenceActor(inbox, bus, store, flush_interval=0.05, max_batch=50)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        for i in range(1000):
            await bus.publish(commit(i))
        ids = [(await stored_box.get()).id for _ in range(1000)]
        nursery.cancel_scope.cancel()
    assert ids == list(range(1, 1001))
    assert event_count(store.reader()) == 1000
    assert actor.commits < 1000  # batched


class Note(Message, frozen=True, kw_only=True):
    text: str


async def test_background_rows_wait_for_the_flush_interval_then_commit(tmp_path):
    bus = Bus()
    store = Store(tmp_path / "g.db")
    store.conn.execute("CREATE TABLE notes (text TEXT)")
    store.register_writer(Note, lambda db, notes: db["notes"].insert_all({"text": n.text} for n in notes))
    inbox = bus.subscribe("persistence", (Note,), capacity=64)
    actor = PersistenceActor(inbox, bus, store, flush_interval=1.0, clock=Clock())

    async def scenario():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor.run)
            for i in range(5):
                await bus.publish(Note(text=f"n{i}"))
            await trio.sleep(0.5)
            before = store.reader().execute("SELECT COUNT(*) FROM notes").fetchone()[0]
            await trio.sleep(1.0)
            after = store.reader().execute("SELECT COUNT(*) FROM notes").fetchone()[0]
            nursery.cancel_scope.cancel()
        return before, after

    # Real time: the writes run in worker threads, which a MockClock would jump past.
    before, after = await scenario()
    assert before == 0
    assert after == 5
    assert actor.commits == 1


async def test_ask_replies_with_the_id_once_durable(tmp_path):
    bus = Bus()
    store = Store(tmp_path / "g.db")
    inbox = bus.subscribe("persistence", (CommitPushed,))
    actor = PersistenceActor(inbox, bus, store)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        event_id = await ask(inbox, commit(7), timeout=5)
        nursery.cancel_scope.cancel()
    row = store.reader().execute("SELECT id, data FROM events").fetchone()
    assert event_id == row[0] == 1
    assert '"commit_count":7' in row[1]


@given(cancel_after=st.integers(min_value=0, max_value=300))
def test_cancelling_mid_stream_loses_no_event_reported_as_stored(tmp_path_factory, cancel_after):
    path = tmp_path_factory.mktemp("cancel") / "g.db"

    async def scenario() -> set[int]:
        bus = Bus()
        store = Store(path)
        inbox = bus.subscribe("persistence", (CommitPushed,), capacity=32)
        watcher = bus.subscribe("watcher", (EventStored,), capacity=100_000)
        actor = PersistenceActor(inbox, bus, store, max_batch=16)
        reported: set[int] = set()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor.run)

            async def produce():
                for i in range(300):
                    await bus.publish(commit(i))

            nursery.start_soon(produce)
            while len(reported) < cancel_after:
                reported.add((await watcher.get()).id)
            nursery.cancel_scope.cancel()
        store.close()
        return reported

    reported = trio.run(scenario)
    conn = sqlite3.connect(path)
    ids = {r[0] for r in conn.execute("SELECT id FROM events")}
    conn.close()
    assert reported <= ids
    assert sorted(ids) == list(range(1, len(ids) + 1))


def test_write_failure_stores_nothing_of_the_batch(tmp_path):
    store = Store(tmp_path / "g.db")

    def broken(db, messages):
        raise sqlite3.OperationalError("disk I/O error")

    store.register_writer(Note, broken)
    with pytest.raises(sqlite3.OperationalError):
        store.write_batch([commit(1), Note(text="x")], now=1.0)
    assert event_count(store.reader()) == 0
    (_, row), = store.write_batch([commit(2)], now=1.0)
    assert row.id == 1  # the failed batch did not burn ids


@given(
    event_id=st.integers(min_value=1, max_value=2**53),
    kind=st.sampled_from(["commit_pushed", "music_changed", "snapshot"]),
    data=st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=12)),
                         max_size=4),
    source=st.text(max_size=16),
)
def test_fast_envelope_bytes_equal_msgspec_encoding(event_id, kind, data, source):
    import msgspec

    from greenhouse.messages import WebSocketEvent, encode_envelope
    from greenhouse.store import envelope_bytes

    text = msgspec.json.encode(data).decode()
    expected = encode_envelope(
        WebSocketEvent(event_id, kind, msgspec.Raw(text), "2024-01-15T10:30:00Z", source)
    )
    assert envelope_bytes(event_id, kind, text, "2024-01-15T10:30:00Z", source) == expected


@pytest.mark.parametrize("pages", [None, 4000])
def test_checkpoint_pages_sets_how_much_wal_a_commit_leaves_uncheckpointed(tmp_path, pages):
    store = Store(tmp_path / "g.db", checkpoint_pages=pages)
    store.conn.execute("CREATE TABLE notes (text TEXT)")
    store.register_writer(
        Note, lambda db, notes: db.conn.executemany(
            "INSERT INTO notes VALUES (?)", [(n.text,) for n in notes]
        )
    )
    for batch in range(300):  # about 1,500 pages of rows, 5 a commit
        store.write_batch([Note(text=f"{batch}-{i}" + "x" * 3000) for i in range(5)], 0.0)
    # A passive checkpoint reports how many frames the WAL holds (and copies them).
    _busy, frames, _copied = store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    store.close()
    conn = sqlite3.connect(tmp_path / "g.db")
    assert conn.execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 1500
    conn.close()
    if pages is None:
        assert frames < 1100  # SQLite's default: a checkpoint every 1000 pages
    else:
        assert frames > 1500  # nothing checkpointed yet: every commit is still in the WAL
