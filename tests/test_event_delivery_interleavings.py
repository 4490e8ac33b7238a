"""Every stored event reaches every live viewer once, in id order, across the risky interleavings.

Written while hunting a one-off "live viewers never caught up" from the stateful event-flow
test (the cause was a worker thread under the MockClock: see test_websocket_virtual_time.py).
These pin the delivery seams the batching changes touched, deterministically:

* a viewer joining or resuming between the commit of events and their `EventStored`: the
  snapshot is older than the log, or the replay reads the log ahead of the live feed;
* the WebSocket actor gathering a fan-out batch (one scheduler pass at a time) while a
  viewer's replay finishes, swept over where the batch lands in the replay;
* the persistence pipeline: batch N+1 claimed and written while batch N is announced, and
  still every `EventStored` after its commit, in id order, batch N before batch N+1.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
import trio.testing
from trio_websocket import open_websocket_url

from actors.persistence import PersistenceActor
from actors.websocket import ViewerLimits, WebSocketActor
from greenhouse.messages import CommitPushed, EventStored
from greenhouse.runtime import Bus, Clock
from greenhouse.store import PreparedBatch, Store


def _push(n: int) -> CommitPushed:
    return CommitPushed(repository=f"repo-{n}", commit_count=1, author="dev", impact_score=0.5)


def _commit_unannounced(store: Store, count: int) -> list[EventStored]:
    """Commit `count` events as the persistence actor does; return their unpublished notices."""
    batch = store.prepare([_push(n) for n in range(count)], time.time())
    store.commit(batch)
    return [
        EventStored(id=row[0], type=row[1], frame=frame, event=event)
        for row, frame, event in zip(batch.rows, batch.frames, batch.events, strict=True)
    ]


@dataclass
class Rig:
    bus: Bus
    store: Store
    ws: WebSocketActor
    url: str


@asynccontextmanager
async def websocket_only(path: Path, limits: ViewerLimits | None = None) -> AsyncIterator[Rig]:
    """A WebSocket actor over an empty store; the test plays the persistence actor."""
    bus = Bus()
    store = Store(path / "garden.db")
    ws = WebSocketActor(
        bus.subscribe("websocket", (EventStored,), capacity=4096), bus, store,
        clock=Clock(), port=0, limits=limits,
    )
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.run)
            url = await ws.addresses.wait("websocket")
            yield Rig(bus, store, ws, url)
            nursery.cancel_scope.cancel()
    finally:
        store.close()


async def _event_ids(conn: Any, until: int) -> tuple[str, list[int]]:
    """The first frame's type, then the ids of event frames up to `until`."""
    first = json.loads(await conn.get_message())["type"]
    ids: list[int] = []
    while not ids or ids[-1] < until:
        frame = json.loads(await conn.get_message())
        assert frame["type"] == "commit_pushed", frame
        ids.append(frame["id"])
    return first, ids


async def test_viewers_arriving_between_commit_and_announcement_get_each_event_once(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with websocket_only(tmp_path) as rig:
        pending = _commit_unannounced(rig.store, 3)  # in the log, not yet announced
        async with (
            open_websocket_url(rig.url) as joined,
            open_websocket_url(rig.url + "?since=0") as resumed,
        ):
            with trio.fail_after(10):
                # The resumed viewer's replay reads 1..3 from the log before their notices.
                while not any(v.last_sent == 3 for v in rig.ws.viewers.values()):  # noqa: ASYNC110
                    await trio.sleep(0.01)
                await rig.bus.publish_many(pending)
                await rig.bus.publish_many(_commit_unannounced(rig.store, 2))
                got_joined = await _event_ids(joined, 5)
                got_resumed = await _event_ids(resumed, 5)
    assert got_joined == ("snapshot", [1, 2, 3, 4, 5])  # the snapshot (id 0) had none of them
    assert got_resumed == ("resumed", [1, 2, 3, 4, 5])  # replayed 1..3, never twice


async def test_a_fan_out_batch_landing_anywhere_in_a_replay_delivers_each_event_once(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # A viewer resumes from 3 and its replay reads the log (events 1..12, committed, not yet
    # announced) in pages of 2: several writes, several scheduler passes. After `delay` passes
    # the notices of 1..12 and then 4 newer events are announced, so the fan-out batch lands
    # before the replay began, inside it, and after it.
    landed = set()
    for delay in range(0, 60, 3):
        path = tmp_path / str(delay)
        path.mkdir()
        async with websocket_only(path, ViewerLimits(replay_page=2)) as rig:
            pending = _commit_unannounced(rig.store, 12)
            fan_out = rig.ws.fan_out_batch

            def recording(batch: list[EventStored], rig: Rig = rig, fan_out: Any = fan_out) -> None:
                if batch[0].id == 1:  # where the replay stood when the notices arrived
                    sent = [v.last_sent for v in rig.ws.viewers.values()]
                    landed.add("before" if not sent or sent[0] <= 3 else
                               "inside" if sent[0] < 12 else "after")
                fan_out(batch)

            rig.ws.fan_out_batch = recording  # type: ignore[method-assign]

            async def announce(
                pending: list[EventStored] = pending, rig: Rig = rig, delay: int = delay
            ) -> None:
                for _ in range(delay):
                    await trio.lowlevel.checkpoint()
                await rig.bus.publish_many(pending)
                await rig.bus.publish_many(_commit_unannounced(rig.store, 4))

            with trio.fail_after(10):
                async with (
                    open_websocket_url(rig.url + "?since=3") as conn,
                    trio.open_nursery() as nursery,
                ):
                    nursery.start_soon(announce)
                    first, ids = await _event_ids(conn, 16)
        assert (first, ids) == ("resumed", list(range(4, 17))), delay
    assert landed == {"before", "inside", "after"}  # the sweep covered every position


class _AnnouncingBus(Bus):
    """A bus that remembers the highest `EventStored` id published so far."""

    announced_upto = 0

    async def publish_many(self, messages: Any) -> int:
        batch = list(messages)
        for message in batch:
            if isinstance(message, EventStored):
                assert message.id == self.announced_upto + 1, "announced out of id order"
                self.announced_upto = message.id
        return await super().publish_many(batch)


class _SlowCommits(Store):
    """A store whose commits take real time, recording what was committed when."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.committed_upto = 0

    def commit(self, batch: PreparedBatch, entering: Any = None) -> None:
        time.sleep(0.002)  # a slow disk: what queues up meanwhile makes the next batch
        super().commit(batch, entering)
        self.committed_upto = batch.next_id - 1


async def test_pipelined_batches_are_announced_after_their_commit_in_id_order(
    tmp_path: Path,
) -> None:
    bus = _AnnouncingBus()
    store = _SlowCommits(tmp_path / "garden.db")
    inbox = bus.subscribe("persistence", (CommitPushed,), capacity=4096)
    watcher = bus.subscribe("watcher", (EventStored,), capacity=4096)
    actor = PersistenceActor(inbox, bus, store, max_batch=40)  # real threads: the pipeline
    seen: list[int] = []
    overlaps = 0  # announcements made while the next batch was already in the worker
    announce = actor._announce

    async def announcing(*args: Any) -> None:
        nonlocal overlaps
        if actor._in_flight is not None:
            overlaps += 1
        await announce(*args)

    actor._announce = announcing  # type: ignore[method-assign]

    def take(notice: EventStored) -> None:
        # Announced only once its own batch is committed.
        assert notice.id <= store.committed_upto, (notice.id, store.committed_upto)
        seen.append(notice.id)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor.run)
            with trio.fail_after(30):
                for start in range(0, 1200, 30):
                    await bus.publish_many([_push(n) for n in range(start, start + 30)])
                    while len(watcher):
                        take(watcher.get_nowait())
                while len(seen) < 1200:
                    take(await watcher.get())
            nursery.cancel_scope.cancel()
    finally:
        store.close()
    assert seen == list(range(1, 1201))
    assert actor.commits < 1200 // 10  # batched
    assert overlaps > 0  # batch N+1 went to the worker before batch N was announced
