"""The WebSocket actor under a MockClock: its blocking work takes no virtual time.

Found by the stateful event-flow test, which once reported "live viewers never caught up":
the actor ran its replay query and its start-up snapshot rebuild with `trio.to_thread`. Under
`MockClock(autojump_threshold=0)` the run loop sees no runnable task while a worker thread
works, so it jumps virtual time to the next deadline, again and again: on a loaded machine a
resumed viewer's replay (a few milliseconds of real time) outlasted the test's 130 virtual
seconds of settling, and an injected crash during the rebuild surfaced only after the final
checks. Through `Clock.run_sync` the work is inline under a MockClock, as the persistence
actor's is. These tests make the query and the rebuild slow in real time and require that no
virtual time passes while they run; with a worker thread, both fail.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from trio_websocket import open_websocket_url

import actors.websocket as websocket_module
from actors.websocket import WebSocketActor
from greenhouse.messages import CommitPushed, EventStored
from greenhouse.runtime import Bus, Clock
from greenhouse.store import Store

SLOW = 0.2  # real seconds: a loaded machine, a slow SD card


def _push(n: int) -> CommitPushed:
    return CommitPushed(repository=f"repo-{n}", commit_count=1, author="dev", impact_score=0.5)


def _store_with_events(path: Path, count: int) -> Store:
    store = Store(path / "garden.db")
    store.write_batch([_push(n) for n in range(count)], time.time())
    return store


def _slow(fn: Any) -> Any:
    def slow(*args: Any) -> Any:
        time.sleep(SLOW)
        return fn(*args)

    return slow


async def test_a_resumed_viewers_replay_takes_no_virtual_time(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store_with_events(tmp_path, 5)
    bus = Bus()
    ws = WebSocketActor(
        bus.subscribe("websocket", (EventStored,)), bus, store, clock=Clock(), port=0
    )
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ws.run)
            url = await ws.addresses.wait("websocket")
            monkeypatch.setattr(websocket_module, "events_since", _slow(websocket_module.events_since))
            async with open_websocket_url(f"{url}?since=2") as conn:
                start = trio.current_time()
                # One virtual second is plenty: nothing in a replay waits on a timer. With the
                # query in a worker thread the clock jumps to this deadline at once.
                with trio.fail_after(1):
                    frames = [json.loads(await conn.get_message()) for _ in range(4)]
                assert trio.current_time() - start < 1
            assert frames[0]["type"] == "resumed"
            assert [f["id"] for f in frames[1:]] == [3, 4, 5]
            nursery.cancel_scope.cancel()
    finally:
        store.close()


async def test_the_start_up_rebuild_takes_no_virtual_time(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    store = _store_with_events(tmp_path, 3)
    bus = Bus()
    ws = WebSocketActor(
        bus.subscribe("websocket", (EventStored,)), bus, store, clock=Clock(), port=0
    )
    ws._rebuild = _slow(ws._rebuild)  # type: ignore[method-assign]
    try:
        async with trio.open_nursery() as nursery:
            start = trio.current_time()
            nursery.start_soon(ws.run)
            with trio.fail_after(1):
                await ws.addresses.wait("websocket")
            assert trio.current_time() - start < 1
            assert ws.state.last_event_id == 3
            nursery.cancel_scope.cancel()
    finally:
        store.close()
