"""A stop (SIGTERM, Ctrl-C) writes every event published before it, taken or still queued."""

from __future__ import annotations

import sqlite3

import trio

from actors.persistence import PersistenceActor
from greenhouse.messages import CommitPushed
from greenhouse.runtime import Bus
from greenhouse.store import Store


async def test_events_still_in_the_mailbox_at_cancel_are_written(tmp_path):
    path = tmp_path / "g.db"
    bus = Bus()
    store = Store(path)
    inbox = bus.subscribe("persistence", (CommitPushed,), capacity=256)
    actor = PersistenceActor(inbox, bus, store, max_batch=8)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        await trio.testing.wait_all_tasks_blocked()
        # Published with no checkpoint in between: the actor has taken none of them yet.
        for i in range(100):
            bus.publish_nowait(
                CommitPushed(repository="r", commit_count=i + 1, author="a", impact_score=0.1)
            )
        nursery.cancel_scope.cancel()
    store.close()
    conn = sqlite3.connect(path)
    counts = [row[0] for row in conn.execute(
        "SELECT json_extract(data, '$.commit_count') FROM events ORDER BY id"
    )]
    conn.close()
    assert counts == list(range(1, 101))
