"""When the persistence actor commits, in virtual time (inline writes under a MockClock)."""

from __future__ import annotations

import sqlite3

import pytest
import trio
import trio.testing

from actors.persistence import PersistenceActor
from greenhouse.messages import CommitPushed, EventStored, Message
from greenhouse.runtime import Bus, Clock, MailboxClosed, ask
from greenhouse.store import Store


class Note(Message, frozen=True, kw_only=True):
    text: str


def garden(tmp_path, **options):
    store = Store(tmp_path / "g.db")
    store.conn.execute("CREATE TABLE notes (text TEXT)")
    store.register_writer(
        Note, lambda db, notes: db.conn.executemany(
            "INSERT INTO notes VALUES (?)", [(n.text,) for n in notes]
        )
    )
    bus = Bus()
    inbox = bus.subscribe("persistence", (CommitPushed, Note), capacity=64)
    watcher = bus.subscribe("watcher", (EventStored,), capacity=64)
    actor = PersistenceActor(inbox, bus, store, clock=Clock(), **options)
    return store, bus, inbox, watcher, actor


def notes(store: Store) -> list[str]:
    conn = sqlite3.connect(store.path)
    try:
        return [row[0] for row in conn.execute("SELECT text FROM notes ORDER BY rowid")]
    finally:
        conn.close()


def commit(n: int) -> CommitPushed:
    return CommitPushed(repository="r", commit_count=n, author="a", impact_score=0.1)


async def test_background_rows_wait_a_flush_interval_and_an_event_takes_them_at_once(
    tmp_path, autojump_clock
):
    store, bus, _inbox, watcher, actor = garden(tmp_path, flush_interval=60.0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        start = trio.current_time()
        for i in range(30):  # one a second: still within the interval of the first
            await bus.publish(Note(text=f"n{i}"))
            await trio.sleep(1.0)
        assert notes(store) == [] and actor.commits == 0
        await trio.sleep(start + 60.0 - trio.current_time() + 0.001)
        assert notes(store) == [f"n{i}" for i in range(30)]
        assert actor.commits == 1  # all thirty in one transaction
        await bus.publish(Note(text="late"))
        await trio.sleep(5.0)
        published = trio.current_time()
        await bus.publish(commit(1))  # an event: committed at once, with the row before it
        stored = await watcher.get()
        assert trio.current_time() == published  # no virtual time passed
        assert stored.id == 1 and notes(store)[-1] == "late"
        assert actor.commits == 2
        nursery.cancel_scope.cancel()
    store.close()


async def test_a_full_batch_and_an_asked_row_do_not_wait_for_the_interval(tmp_path, autojump_clock):
    store, bus, inbox, _watcher, actor = garden(tmp_path, flush_interval=600.0, max_batch=10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        for i in range(25):
            await bus.publish(Note(text=f"n{i}"))
            await trio.sleep(1.0)
        # Two full batches were written as they filled; the last five wait.
        assert notes(store) == [f"n{i}" for i in range(20)]
        assert actor.commits == 2
        before = trio.current_time()
        await ask(inbox, Note(text="asked"), timeout=5.0)  # a caller waits: written now
        assert trio.current_time() == before
        assert notes(store)[20:] == ["n20", "n21", "n22", "n23", "n24", "asked"]
        nursery.cancel_scope.cancel()
    store.close()


async def test_rows_still_queued_at_shutdown_are_written(tmp_path, autojump_clock):
    store, bus, _inbox, _watcher, actor = garden(tmp_path, flush_interval=600.0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        for i in range(3):
            await bus.publish(Note(text=f"n{i}"))
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert notes(store) == ["n0", "n1", "n2"]
    store.close()


async def test_a_closed_mailbox_ends_the_actor_after_writing_what_was_queued(
    tmp_path, autojump_clock
):
    store, bus, inbox, _watcher, actor = garden(tmp_path, flush_interval=600.0)

    async def run() -> None:
        with pytest.raises(MailboxClosed):
            await actor.run()

    with trio.fail_after(60):  # virtual: a waiter that never sleeps would never get there
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            await bus.publish(Note(text="n0"))
            await trio.sleep(1.0)
            await bus.publish(Note(text="n1"))
            inbox.close()
    assert notes(store) == ["n0", "n1"]
    store.close()
