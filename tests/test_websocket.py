"""The WebSocket actor: snapshot, resume without gaps or duplicates, actions, limits, overflow."""

from __future__ import annotations

import json
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel
from hypothesis import given, settings
from hypothesis import strategies as st
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from actors.persistence import PersistenceActor
from actors.websocket import ViewerLimits, WebSocketActor
from greenhouse.messages import (
    CommitPushed,
    EventStored,
    GardenEvent,
    SnapshotRequest,
    WeatherUpdated,
)
from greenhouse.runtime import Bus, ask
from greenhouse.store import Store


@dataclass
class Rig:
    """A store, a bus, the persistence and WebSocket actors, running."""

    bus: Bus
    store: Store
    ws: WebSocketActor
    url: str

    async def commit(self, repository: str = "garden", count: int = 1) -> None:
        await self.bus.publish(
            CommitPushed(repository=repository, commit_count=count, author="dev", impact_score=0.5)
        )


@asynccontextmanager
async def running(
    path: Path, limits: ViewerLimits | None = None, origins: tuple[str, ...] = ()
) -> AsyncIterator[Rig]:
    bus = Bus()
    store = Store(path / "garden.db")
    persistence_box = bus.subscribe("persistence", (GardenEvent,), capacity=4096)
    ws_box = bus.subscribe("websocket", (EventStored,), capacity=4096)
    persistence = PersistenceActor(persistence_box, bus, store)
    ws = WebSocketActor(ws_box, bus, store, port=0, allowed_origins=origins, limits=limits)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(persistence.run)
            nursery.start_soon(ws.run)
            url = await ws.addresses.wait("websocket")
            yield Rig(bus, store, ws, url)
            nursery.cancel_scope.cancel()
    finally:
        store.close()


async def wait_folded(rig: Rig, last_id: int) -> None:
    """Wait until the WebSocket actor has folded event `last_id` (state polled in a test)."""
    with trio.fail_after(5):
        while rig.ws.state.last_event_id < last_id:  # noqa: ASYNC110
            await trio.sleep(0.01)


async def next_frame(conn: Any) -> dict[str, Any]:
    with trio.fail_after(5):
        return json.loads(await conn.get_message())


async def frames_until(conn: Any, last_id: int) -> list[dict[str, Any]]:
    """Read event frames until the one with id `last_id`."""
    seen = []
    while True:
        frame = await next_frame(conn)
        seen.append(frame)
        if frame["id"] == last_id and frame["type"] not in ("snapshot", "resumed"):
            return seen


async def test_first_frame_is_snapshot_then_events_in_order(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        await rig.commit("before", 2)
        await rig.bus.publish(
            WeatherUpdated(
                condition="Rain",
                description="light rain",
                temperature=9.5,
                humidity=80,
                wind_speed=3,
                clouds=90,
            )
        )
        await wait_folded(rig, 2)
        async with open_websocket_url(rig.url) as conn:
            snapshot = await next_frame(conn)
            assert snapshot["type"] == "snapshot"
            assert snapshot["id"] == 2
            data = snapshot["data"]
            assert data["last_event_id"] == 2
            assert data["live_viewers"] == 1
            assert data["plants"][0]["repository"] == "before"
            assert data["plants"][0]["commit_count"] == 2
            assert data["weather"]["condition"] == "Rain"
            for n in range(5):
                await rig.commit(f"repo-{n}")
            frames = await frames_until(conn, 7)
            assert [f["id"] for f in frames] == [3, 4, 5, 6, 7]
            assert {f["type"] for f in frames} == {"commit_pushed"}
            assert frames[0]["data"]["repository"] == "repo-0"
        stats = rig.ws.get_connection_stats()
        assert stats["total_accepted"] == 1
        assert stats["events_by_type"]["commit_pushed"] == 6


async def test_resume_replays_exactly_the_missed_events_while_live_events_flow(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, ViewerLimits(replay_page=7)) as rig:
        for n in range(40):
            await rig.commit(f"r{n}")
        await wait_folded(rig, 40)  # since=5 must be in the log, or the server warns it is ahead
        stop = trio.Event()

        async def keep_publishing() -> None:
            n = 0
            while not stop.is_set():
                await rig.commit(f"live{n}")
                n += 1
                await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(keep_publishing)
            await trio.sleep(0.02)
            async with open_websocket_url(rig.url + "?since=5") as conn:
                first = await next_frame(conn)
                assert first["type"] == "resumed"
                assert first["data"] == {"since": 5}
                ids = []
                while len(ids) < 150:
                    frame = await next_frame(conn)
                    assert frame["type"] == "commit_pushed"
                    ids.append(frame["id"])
            stop.set()
        # Every event after 5, once each, in order: replay (pages of 7) joined live with no seam.
        assert ids == list(range(6, 6 + len(ids)))


async def test_resume_action_restarts_the_stream_after_a_resumed_marker(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        for n in range(10):
            await rig.commit(f"r{n}")
        await wait_folded(rig, 10)
        async with open_websocket_url(rig.url) as conn:
            assert (await next_frame(conn))["type"] == "snapshot"
            await conn.send_message(json.dumps({"action": "resume", "since": 7}))
            marker = await next_frame(conn)
            assert marker["type"] == "resumed"
            assert marker["data"] == {"since": 7}
            await rig.commit("after")
            frames = await frames_until(conn, 11)
            assert [f["id"] for f in frames] == [8, 9, 10, 11]


async def test_subscribe_filters_types_and_ping_gets_pong(tmp_path: Path) -> None:
    async with running(tmp_path) as rig, open_websocket_url(rig.url) as conn:
        assert (await next_frame(conn))["type"] == "snapshot"
        await conn.send_message(json.dumps({"action": "subscribe", "types": ["weather_updated"]}))
        assert (await next_frame(conn))["data"] == {"types": ["weather_updated"]}
        await rig.commit("ignored")
        await rig.bus.publish(
            WeatherUpdated(
                condition="Clear",
                description="clear",
                temperature=20,
                humidity=30,
                wind_speed=1,
                clouds=0,
            )
        )
        frame = await next_frame(conn)
        assert frame["type"] == "weather_updated"
        assert frame["id"] == 2  # the commit (id 1) was filtered out
        await conn.send_message(json.dumps({"action": "ping"}))
        assert (await next_frame(conn))["type"] == "pong"


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("{not json", "bad_json"),
        (json.dumps({"action": "dance"}), "unknown_action"),
        (json.dumps({"no": "action"}), "bad_message"),
        (json.dumps({"action": "resume", "since": "x"}), "bad_message"),
        (json.dumps({"action": "resume"}), "bad_message"),
        (json.dumps({"action": "subscribe", "types": ["nope"]}), "unknown_type"),
        (b"\x00\x01binary", "bad_frame"),
    ],
)
async def test_bad_client_messages_get_error_frames(
    tmp_path: Path, message: str | bytes, error: str
) -> None:
    async with running(tmp_path) as rig, open_websocket_url(rig.url) as conn:
        assert (await next_frame(conn))["type"] == "snapshot"
        await conn.send_message(message)
        frame = await next_frame(conn)
        assert frame["type"] == "error"
        assert frame["data"]["error"] == error
        await conn.send_message(json.dumps({"action": "ping"}))
        assert (await next_frame(conn))["type"] == "pong"


async def test_frame_over_4_kib_closes_with_1009(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        async with open_websocket_url(rig.url) as conn:
            await next_frame(conn)
            await conn.send_message(json.dumps({"action": "ping", "pad": "x" * 5000}))
            with pytest.raises(ConnectionClosed) as closed, trio.fail_after(5):
                while True:
                    await conn.get_message()
            assert closed.value.reason.code == 1009
        async with open_websocket_url(rig.url) as conn:  # the actor lives on
            assert (await next_frame(conn))["type"] == "snapshot"


async def test_message_flood_is_rate_limited_then_closed_1008(tmp_path: Path) -> None:
    limits = ViewerLimits(inbound_rate=1.0, inbound_burst=3, inbound_violations=10)
    async with running(tmp_path, limits) as rig:
        async with open_websocket_url(rig.url) as conn:
            await next_frame(conn)
            for _ in range(30):
                try:
                    await conn.send_message(json.dumps({"action": "ping"}))
                except ConnectionClosed:
                    break
            kinds = []
            with pytest.raises(ConnectionClosed) as closed, trio.fail_after(5):
                while True:
                    kinds.append((await next_frame(conn))["type"])
            assert closed.value.reason.code == 1008
            assert kinds.count("pong") == 3
            assert "error" in kinds
        assert rig.ws.get_connection_stats()["closed_policy"] == 1


async def test_viewer_limit_closes_the_extra_viewer_with_a_reason(tmp_path: Path) -> None:
    async with (
        running(tmp_path, ViewerLimits(max_viewers=2)) as rig,
        open_websocket_url(rig.url) as a,
        open_websocket_url(rig.url) as b,
    ):
        await next_frame(a)
        await next_frame(b)
        async with open_websocket_url(rig.url) as c:
            with pytest.raises(ConnectionClosed) as closed, trio.fail_after(5):
                await c.get_message()
            assert closed.value.reason.code == 1013
            assert "viewer limit" in closed.value.reason.reason
        stats = rig.ws.get_connection_stats()
        assert stats["active"] == 2
        assert stats["rejected_by_reason"]["viewer_limit"] == 1


async def test_origin_allow_list(tmp_path: Path) -> None:
    async with running(tmp_path, origins=("https://garden.example",)) as rig:
        with pytest.raises(ConnectionRejected) as rejected:
            async with open_websocket_url(
                rig.url, extra_headers=[(b"Origin", b"https://evil.example")]
            ):
                pass
        assert rejected.value.status_code == 403
        assert b"origin_not_allowed" in rejected.value.body
        async with open_websocket_url(
            rig.url, extra_headers=[(b"Origin", b"https://garden.example")]
        ) as conn:
            assert (await next_frame(conn))["type"] == "snapshot"
        async with open_websocket_url(rig.url) as conn:  # no Origin: not a browser
            assert (await next_frame(conn))["type"] == "snapshot"
        assert rig.ws.get_connection_stats()["rejected_by_reason"]["origin"] == 1


async def test_bad_path_and_since_are_rejected(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        base = rig.url.removesuffix("/ws")
        for url, status in (
            (base + "/other", 404),
            (rig.url + "?since=-3", 400),
            (rig.url + "?since=abc", 400),
        ):
            with pytest.raises(ConnectionRejected) as rejected:
                async with open_websocket_url(url):
                    pass
            assert rejected.value.status_code == status


class StalledViewer:
    """A raw client that completes the handshake and then does not read (tiny receive buffer)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock = trio.socket.socket()

    async def connect(self) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await self.sock.connect(("127.0.0.1", self.port))
        await self.sock.send(self.ws.send(Request(host="127.0.0.1", target="/ws")))
        while True:
            self.ws.receive_data(await self.sock.recv(4096))
            if any(isinstance(e, AcceptConnection) for e in self.ws.events()):
                return

    async def read_to_close(self) -> tuple[list[int], int | None]:
        """Start reading at last: event ids received and the close code (None: no close frame)."""
        ids: list[int] = []
        parts: list[str] = []
        with trio.fail_after(20):
            while True:
                data = await self.sock.recv(65536)
                if not data:
                    return ids, None
                self.ws.receive_data(data)
                for event in self.ws.events():
                    if isinstance(event, TextMessage):
                        parts.append(event.data)
                        if event.message_finished:
                            frame = json.loads("".join(parts))
                            parts = []
                            if frame["type"] == "commit_pushed":
                                ids.append(frame["id"])
                    elif isinstance(event, CloseConnection):
                        return ids, event.code


async def test_a_stalled_viewer_is_closed_1013_and_never_delays_the_others(
    tmp_path: Path,
) -> None:
    # The original broadcast awaited each viewer in turn, so one viewer that stopped reading
    # halted everyone once its socket buffers (~4 MB on loopback) filled. Shrink the server's
    # send buffer so that point comes after a few KB instead.
    limits = ViewerLimits(queue_capacity=32, send_buffer_bytes=4096, close_timeout=30.0)
    events = 400
    pad = "x" * 400  # ~0.5 KB frames: 200 KB in all, far past the shrunken buffers
    async with running(tmp_path, limits) as rig:
        port = int(rig.url.rsplit(":", 1)[1].split("/")[0])
        stalled = StalledViewer(port)
        await stalled.connect()
        async with open_websocket_url(rig.url) as a, open_websocket_url(rig.url) as b:
            await next_frame(a)
            await next_frame(b)
            received: dict[str, list[int]] = {"a": [], "b": []}

            async def read(name: str, conn: Any) -> None:
                while len(received[name]) < events:
                    frame = await next_frame(conn)
                    received[name].append(frame["id"])

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read, "a", a)
                nursery.start_soon(read, "b", b)
                # Published in chunks as fast as the readers take them (they run in this
                # process and share the shrunken buffers, so an unpaced publisher would
                # outrun them too): they keep up, while the stalled viewer falls behind for good.
                chunk = 8
                for n in range(events):
                    await rig.commit(f"{pad}{n}")
                    if n % chunk == chunk - 1:
                        with trio.fail_after(10):
                            while min(map(len, received.values())) <= n:  # noqa: ASYNC110
                                await trio.sleep(0.001)
            expected = list(range(1, events + 1))
            assert received["a"] == expected
            assert received["b"] == expected
            stats = rig.ws.get_connection_stats()
            assert stats["closed_overflow"] == 1
            assert stats["active"] == 3  # the stalled one is closing, waiting on its last write
        # Now the stalled viewer reads: a gap-free prefix of the events, then close 1013.
        ids, code = await stalled.read_to_close()
        assert code == 1013
        assert ids == list(range(1, len(ids) + 1))
        assert len(ids) < events
        stalled.sock.close()


@settings(max_examples=25)
@given(
    st.lists(
        st.one_of(st.text(max_size=300), st.binary(max_size=300), st.just("{}"), st.just("[]")),
        max_size=12,
    )
)
async def test_garbage_frames_never_crash_the_actor(frames: list[str | bytes]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        async with running(Path(directory)) as rig, open_websocket_url(rig.url) as conn:
            await next_frame(conn)
            for frame in frames:
                await conn.send_message(frame)
            await conn.send_message(json.dumps({"action": "ping"}))
            while (await next_frame(conn))["type"] != "pong":
                pass
            await rig.commit("still-alive")
            while (await next_frame(conn))["type"] != "commit_pushed":
                pass


async def test_a_port_in_use_is_reported_and_retried_not_fatal(tmp_path: Path) -> None:
    blocker = trio.socket.socket()
    await blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    bus = Bus()
    store = Store(tmp_path / "g.db")
    ws = WebSocketActor(bus.subscribe("websocket", (EventStored,)), bus, store, port=port)
    ws.listen_retry = 0.05
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ws.run)
        with trio.fail_after(5):
            while ws.listen_error is None:  # noqa: ASYNC110
                await trio.sleep(0.01)
        assert "cannot listen" in ws.get_connection_stats()["listen_error"]
        blocker.close()
        assert await ws.addresses.wait("websocket") == f"ws://127.0.0.1:{port}/ws"
        assert ws.listen_error is None
        nursery.cancel_scope.cancel()
    store.close()


async def test_fan_out_never_writes_to_a_closed_viewers_reused_fd(tmp_path: Path) -> None:
    async with running(tmp_path) as rig, open_websocket_url(rig.url) as conn:
        await next_frame(conn)
        (viewer,) = rig.ws.viewers.values()
        old_fd = viewer.sock.fileno()
        viewer.sock.close()  # as trio-websocket does when the peer goes away
        a, b = socket.socketpair()  # the kernel hands out the lowest free number: old_fd
        try:
            frame = b'{"id":1,"type":"commit_pushed","data":{},"timestamp":"t","source":"s"}'
            event = CommitPushed(repository="r", commit_count=1, author="a", impact_score=0.1)
            rig.ws.fan_out(EventStored(id=1, type="commit_pushed", frame=frame, event=event))
            if a.fileno() == old_fd or b.fileno() == old_fd:
                for end in (a, b):
                    end.setblocking(False)
                    with pytest.raises(BlockingIOError):
                        end.recv(100)
            assert len(viewer.outbox) == 1  # queued for the send task, which finds it closed
        finally:
            a.close()
            b.close()


async def test_one_connection_failing_never_crashes_the_server(monkeypatch, caplog):
    """A protocol error inside one viewer's connection is contained and logged."""
    import logging

    from trio_websocket import WebSocketServer

    from actors.websocket import IsolatingWebSocketServer

    async def broken(self, stream):
        raise RuntimeError("LocalProtocolError: Event Ping not allowed in state CLOSED")

    monkeypatch.setattr(WebSocketServer, "_handle_connection", broken)

    class Stream:
        closed = False

        async def aclose(self):
            Stream.closed = True

    server = IsolatingWebSocketServer.__new__(IsolatingWebSocketServer)
    logging.getLogger("greenhouse").propagate = True
    with caplog.at_level(logging.WARNING, logger="greenhouse.websocket"):
        await server._handle_connection(Stream())  # returns instead of raising
    assert Stream.closed
    assert "connection failed" in caplog.text


def stored_event(event_id: int, event_type: str = "commit_pushed") -> EventStored:
    """An `EventStored` as the persistence actor publishes it (the envelope bytes it stored)."""
    frame = json.dumps(
        {"id": event_id, "type": event_type, "data": {}, "timestamp": "t", "source": "test"}
    ).encode()
    event = CommitPushed(repository="r", commit_count=1, author="a", impact_score=0.1)
    return EventStored(id=event_id, type=event_type, frame=frame, event=event)


async def test_events_arriving_together_go_to_each_viewer_in_one_write(tmp_path: Path) -> None:
    async with (
        running(tmp_path) as rig,
        open_websocket_url(rig.url) as everything,
        open_websocket_url(rig.url) as weather_only,
        open_websocket_url(rig.url) as behind,
    ):
        for conn in (everything, weather_only, behind):
            await next_frame(conn)  # snapshot
        await weather_only.send_message(
            json.dumps({"action": "subscribe", "types": ["weather_updated"]})
        )
        assert (await next_frame(weather_only))["type"] == "subscribed"
        # As after a replay that read the log ahead of the fan-out: already has 1 and 2.
        list(rig.ws.viewers.values())[2].last_sent = 2  # viewers are kept in connection order
        before = rig.ws.get_connection_stats()
        types = ["commit_pushed", "weather_updated", "commit_pushed", "weather_updated"]
        # Published together, as the persistence actor publishes a group commit.
        await rig.bus.publish_many(stored_event(n, kind) for n, kind in enumerate(types, start=1))
        got_all = [f["id"] for f in await frames_until(everything, 4)]
        got_weather = [(f["id"], f["type"]) for f in await frames_until(weather_only, 4)]
        got_behind = [f["id"] for f in await frames_until(behind, 4)]
        assert got_all == [1, 2, 3, 4]
        assert got_weather == [(2, "weather_updated"), (4, "weather_updated")]
        assert got_behind == [3, 4]  # nothing twice
        after = rig.ws.get_connection_stats()
        assert after["direct_writes"] - before["direct_writes"] == 3  # one write per viewer
        assert after["messages_sent"] - before["messages_sent"] == 4 + 2 + 2
        assert after["events_by_type"] == {"commit_pushed": 2, "weather_updated": 2}


async def test_an_ask_behind_a_batch_of_events_sees_them_folded(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        box = rig.ws.inbox
        assert box is not None
        for n in range(1, 6):
            assert box.put_nowait(stored_event(n))
        snapshot = await ask(box, SnapshotRequest(), timeout=5.0)
        assert snapshot["last_event_id"] == 5
        await rig.bus.publish(stored_event(6))  # and the actor goes on folding
        await wait_folded(rig, 6)


async def test_a_lone_event_is_not_held_back_for_a_batch(tmp_path: Path) -> None:
    async with running(tmp_path) as rig, open_websocket_url(rig.url) as conn:
        await next_frame(conn)
        for n in range(1, 4):
            await rig.bus.publish(stored_event(n))
            # Delivered before anything else is published: a batch waits for nothing.
            assert (await next_frame(conn))["id"] == n
