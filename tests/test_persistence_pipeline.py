"""The persistence actor encodes the next batch while the worker writes one: ids stay right."""

from __future__ import annotations

import sqlite3

import pytest
import trio

from actors.persistence import PersistenceActor
from greenhouse.messages import CommitPushed, EventStored, Message
from greenhouse.runtime import Bus
from greenhouse.store import Store


class Note(Message, frozen=True, kw_only=True):
    text: str


def commit(n: int) -> CommitPushed:
    return CommitPushed(repository="r", commit_count=n, author="a", impact_score=0.1)


async def test_a_failed_write_gives_its_ids_to_the_batch_gathered_behind_it(tmp_path):
    store = Store(tmp_path / "g.db")
    store.conn.execute("CREATE TABLE notes (text TEXT)")
    failures = [sqlite3.OperationalError("disk I/O error")]

    def notes(db, messages):
        if failures:
            raise failures.pop()
        db["notes"].insert_all({"text": m.text} for m in messages)

    store.register_writer(Note, notes)
    bus = Bus()
    inbox = bus.subscribe("persistence", (CommitPushed, Note), capacity=64)
    watcher = bus.subscribe("watcher", (EventStored,), capacity=64)
    actor = PersistenceActor(inbox, bus, store, max_batch=4)
    # Queued before the actor starts: it takes 4 (3 events and the failing note), and while
    # the worker writes them it already encodes the next 4 with ids 4..7.
    for message in [commit(1), commit(2), commit(3), Note(text="x"), *map(commit, range(4, 9))]:
        bus.publish_nowait(message)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        await actor.run()
    conn = sqlite3.connect(tmp_path / "g.db")
    rows = conn.execute("SELECT id, json_extract(data, '$.commit_count') FROM events").fetchall()
    conn.close()
    store.close()
    # The failed batch stored nothing; what was gathered behind it took ids from 1 again,
    # and what was never taken is still queued for the restart.
    assert rows == [(1, 4), (2, 5), (3, 6), (4, 7)]
    announced = [watcher.get_nowait().id for _ in range(len(watcher))]
    assert announced == [1, 2, 3, 4]
    assert [m.commit_count for m in [inbox.get_nowait() for _ in range(len(inbox))]] == [8]


async def test_events_queued_during_writes_are_stored_in_order_in_few_commits(tmp_path):
    store = Store(tmp_path / "g.db")
    bus = Bus()
    inbox = bus.subscribe("persistence", (CommitPushed,), capacity=4096)
    watcher = bus.subscribe("watcher", (EventStored,), capacity=10_000)
    actor = PersistenceActor(inbox, bus, store, max_batch=100)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        for start in range(0, 3000, 50):
            await bus.publish_many([commit(n) for n in range(start, start + 50)])
        notices = [await watcher.get() for _ in range(3000)]
        nursery.cancel_scope.cancel()
    store.close()
    assert [n.id for n in notices] == list(range(1, 3001))
    assert [n.event.commit_count for n in notices] == list(range(3000))
    assert actor.commits <= 3000 // 50 + 1  # batched, never a commit per event
