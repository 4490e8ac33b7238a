"""WebSocket fan-out: the garden's actor against a bare trio-websocket loop and websockets.broadcast.

Each server runs in its own process; the viewers are raw WebSocket clients spread over several
client processes (`--clients`; by default one bare epoll loop each, `--client-impl asyncio` for
the first version's asyncio protocols, which spent more CPU per frame than the servers). The
clients are told what to expect and answer before the server starts. For each server:

* burst: the server publishes `--burst` events as fast as it can; delivered messages per second
  (viewers x events / time until the last viewer has them all; "to kernel": until the server's
  own buffers are empty), the server's CPU microseconds per delivered message (process CPU time
  over the burst), the clients' CPU per message and frames per socket read.
* steady: `--rate` events per second for `--seconds`; p50/p99 publish-to-receive latency over
  every delivery (wall clock, same machine).

Servers:
* garden: the real `WebSocketActor` fed `EventStored` messages on its bus mailbox, one
  `publish` each (the fan-out only: storage is bench/store.py's subject). Events that arrive
  while it works go out together, one write per viewer.
* garden-unbatched: the same with `max_batch_events=1` (each event written on its own).
* bare: trio-websocket with a memory channel and a send task per viewer, `send_message` each.
* websockets: the `websockets` library (asyncio) with `broadcast()` per event, compression off.

The servers run in interleaved rounds (`--rounds`, best of each figure; the machine is shared).

    python bench/fanout.py [--quick] [--viewers 1000] [--clients 4] [--burst 200] [--rate 20]
                           [--seconds 10] [--rounds 3] [--servers garden,websockets]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAD = "x" * 120  # an envelope of about 250 bytes, like a commit_pushed event


def envelope(event_id: int, sent: float) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": "commit_pushed",
            "data": {"t": sent, "repository": "digital-greenhouse", "commit_count": 3, "pad": PAD},
            "timestamp": "2026-11-26T10:00:00Z",
            "source": "bench",
        },
        separators=(",", ":"),
    ).encode()


# -- servers ---------------------------------------------------------------------------------------


def _commands():  # type: ignore[no-untyped-def]
    for line in sys.stdin:
        yield line.split()


def _say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def _trio_driver(publish, drained, port: int, stats=dict) -> None:  # type: ignore[no-untyped-def]
    import trio

    _say(ready=port)
    next_id = 1
    while True:
        command = await trio.to_thread.run_sync(sys.stdin.readline)
        parts = command.split()
        if not parts or parts[0] == "quit":
            return
        if parts[0] == "burst":
            count = int(parts[1])
            cpu = time.process_time()
            started = time.time()
            for _ in range(count):
                await publish(next_id, envelope(next_id, time.time()))
                next_id += 1
            while not drained():  # noqa: ASYNC110 (polled: every frame handed to the kernel)
                await trio.sleep(0.001)
            _say(
                published=count,
                started=started,
                drained=time.time(),
                drain_cpu=time.process_time() - cpu,
            )
            await trio.to_thread.run_sync(sys.stdin.readline)  # "done" once viewers have it all
            _say(cpu=time.process_time() - cpu)
        elif parts[0] == "steady":
            rate, seconds = float(parts[1]), float(parts[2])
            cpu = time.process_time()
            start = trio.current_time()
            for n in range(int(rate * seconds)):
                await trio.sleep_until(start + n / rate)
                await publish(next_id, envelope(next_id, time.time()))
                next_id += 1
            _say(published=int(rate * seconds), cpu=time.process_time() - cpu, stats=stats())


async def serve_garden(port: int, batch: bool = True) -> None:
    import trio

    from actors.websocket import ViewerLimits, WebSocketActor
    from greenhouse.messages import CommitPushed, EventStored
    from greenhouse.runtime import Bus
    from greenhouse.store import Store

    bus = Bus()
    with tempfile.TemporaryDirectory() as directory:
        store = Store(Path(directory) / "bench.db")
        box = bus.subscribe("websocket", (EventStored,), capacity=4096)
        limits = ViewerLimits(max_viewers=100_000, ping_interval=3600, queue_capacity=1024)
        if not batch:  # every event on its own, as it comes: what the batching saves
            limits = dataclasses.replace(limits, max_batch_events=1)
        actor = WebSocketActor(box, bus, store, port=port, limits=limits)
        event = CommitPushed(repository="r", commit_count=1, author="a", impact_score=0.1)

        async def publish(event_id: int, frame: bytes) -> None:
            await bus.publish(
                EventStored(id=event_id, type="commit_pushed", frame=frame, event=event)
            )

        def drained() -> bool:
            return len(box) == 0 and all(
                not v.outbox.items and v.outbox.partial is None and not v.sending
                for v in actor.viewers.values()
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor.run)
            await actor.addresses.wait("websocket")
            await _trio_driver(publish, drained, port, actor.get_connection_stats)
            nursery.cancel_scope.cancel()
        store.close()


async def serve_bare(port: int) -> None:
    import trio
    from trio_websocket import ConnectionClosed, serve_websocket

    viewers: set[trio.MemorySendChannel[str]] = set()
    busy = [0]  # send tasks between taking a message and finishing its send

    async def handler(request):  # type: ignore[no-untyped-def]
        conn = await request.accept()
        send, receive = trio.open_memory_channel[str](1024)
        viewers.add(send)
        try:
            async for message in receive:
                busy[0] += 1
                try:
                    await conn.send_message(message)
                finally:
                    busy[0] -= 1
        except ConnectionClosed:
            pass
        finally:
            viewers.discard(send)

    async def publish(event_id: int, frame: bytes) -> None:
        text = frame.decode()
        for channel in list(viewers):
            try:
                channel.send_nowait(text)
            except trio.WouldBlock:
                viewers.discard(channel)
        await trio.lowlevel.checkpoint()

    def drained() -> bool:
        return busy[0] == 0 and all(c.statistics().current_buffer_used == 0 for c in viewers)

    async with trio.open_nursery() as nursery:
        await nursery.start(serve_websocket, handler, "127.0.0.1", port, None)
        await _trio_driver(publish, drained, port)
        nursery.cancel_scope.cancel()


async def serve_websockets(port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    connections: set[Any] = set()

    async def handler(conn: Any) -> None:
        connections.add(conn)
        try:
            await conn.wait_closed()
        finally:
            connections.discard(conn)

    lines: asyncio.Queue[list[str]] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.split())
        loop.call_soon_threadsafe(lines.put_nowait, ["quit"])

    threading.Thread(target=read_stdin, daemon=True).start()
    async with serve(
        handler, "127.0.0.1", port, compression=None, ping_interval=None, max_size=4096
    ):
        _say(ready=port)
        next_id = 1
        while True:
            parts = await lines.get()
            if not parts or parts[0] == "quit":
                return
            if parts[0] == "burst":
                count = int(parts[1])
                cpu = time.process_time()
                started = time.time()
                for _ in range(count):
                    broadcast(connections, envelope(next_id, time.time()).decode())
                    next_id += 1
                    await asyncio.sleep(0)
                while any(c.transport.get_write_buffer_size() for c in connections):  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
                _say(
                    published=count,
                    started=started,
                    drained=time.time(),
                    drain_cpu=time.process_time() - cpu,
                )
                await lines.get()
                _say(cpu=time.process_time() - cpu)
            elif parts[0] == "steady":
                rate, seconds = float(parts[1]), float(parts[2])
                cpu = time.process_time()
                start = loop.time()
                for n in range(int(rate * seconds)):
                    delay = start + n / rate - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    broadcast(connections, envelope(next_id, time.time()).decode())
                    next_id += 1
                _say(published=int(rate * seconds), cpu=time.process_time() - cpu)


# -- clients ---------------------------------------------------------------------------------------


class Viewer(asyncio.Protocol):
    """A raw WebSocket client: handshake, then count text frames (and time them when asked)."""

    def __init__(self, owner: ClientProcess) -> None:
        self.owner = owner
        self.buffer = bytearray()
        self.handshaken = asyncio.get_running_loop().create_future()
        self.frames = 0
        self.expect_first = owner.skip_first

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        transport.write(
            (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        self.owner.reads += 1
        buf = self.buffer
        buf += data
        if not self.handshaken.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            del buf[: end + 4]
            self.handshaken.set_result(True)
        pos, size = 0, len(buf)
        timing = self.owner.timing
        while size - pos >= 2:
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if size - pos < head + length:
                break
            if buf[pos] != 0x81:  # not a final text frame: a corrupt stream would show here
                self.owner.bad += 1
            if buf[pos] & 0x0F == 1:
                if self.expect_first:
                    self.expect_first = False  # the garden's snapshot
                    self.owner.snapshots += 1
                else:
                    self.frames += 1
                    self.owner.delivered += 1
                    if timing:
                        start = pos + head
                        t_at = buf.find(b'"t":', start, start + length)
                        end = buf.find(b",", t_at)
                        self.owner.latencies.append(
                            time.time() - float(buf[t_at + 4 : end].decode())
                        )
            pos += head + length
        del buf[:pos]
        self.owner.check()


class ClientProcess:
    """Opens `conns` viewers and reports on stdout as commands arrive on stdin."""

    def __init__(self, port: int, conns: int, skip_first: bool) -> None:
        self.port = port
        self.conns = conns
        self.skip_first = skip_first
        self.delivered = 0
        self.bad = 0
        self.reads = 0
        self.snapshots = 0
        self.target = 0
        self.timing = False
        self.latencies: list[float] = []
        self.last = 0.0
        self.done: asyncio.Future[None] | None = None

    def check(self) -> None:
        self.last = time.time()
        if self.done is not None and not self.done.done() and self.delivered >= self.target:
            self.done.set_result(None)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        viewers = []
        for _ in range(self.conns):
            _, viewer = await loop.create_connection(lambda: Viewer(self), "127.0.0.1", self.port)
            await viewer.handshaken
            viewers.append(viewer)
        while self.skip_first and self.snapshots < self.conns:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        _say(ready=self.conns)
        lines: asyncio.Queue[list[str]] = asyncio.Queue()

        def read_stdin() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line.split())
            loop.call_soon_threadsafe(lines.put_nowait, ["quit"])

        threading.Thread(target=read_stdin, daemon=True).start()
        while True:
            parts = await lines.get()
            if parts[0] == "quit":
                return
            if parts[0] == "burst":
                self.delivered, self.target, self.reads = 0, int(parts[1]) * self.conns, 0
                cpu = time.process_time()
                self.done = loop.create_future()
                _say(armed=True)  # the coordinator starts the server only once every client is
                # websockets.broadcast skips a viewer whose buffer is full: those never come, so
                # stop waiting once nothing arrived for a while (`last` is the last arrival).
                await self._until_done_or_idle(float(parts[2]))
                _say(
                    delivered=self.delivered,
                    last=self.last,
                    bad=self.bad,
                    cpu=time.process_time() - cpu,
                    reads=self.reads,
                )
            elif parts[0] == "steady":
                self.delivered, self.target, self.timing = 0, int(parts[1]) * self.conns, True
                cpu = time.process_time()
                self.latencies = []
                self.done = loop.create_future()
                _say(armed=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.done, float(parts[2]))
                self.timing = False
                _say(
                    delivered=self.delivered,
                    latencies=self.latencies,
                    cpu=time.process_time() - cpu,
                )

    async def _until_done_or_idle(self, idle: float) -> None:
        assert self.done is not None
        self.last = time.time()
        while not self.done.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.done), idle / 4)
            if time.time() - self.last > idle:
                return


class LeanClient:
    """The viewers of one client process on a bare epoll loop: same protocol, less client CPU.

    The asyncio clients spent 25-35 us of CPU per received frame (more than any server), and
    four of them share the 2 cores with the server under test, so they measured mostly
    themselves. This loop reads each socket with one `recv` and walks the frame headers.
    """

    def __init__(self, port: int, conns: int, skip_first: bool) -> None:
        self.port = port
        self.conns = conns
        self.skip_first = skip_first
        self.delivered = self.bad = self.reads = 0
        self.last = 0.0
        self.timing = False
        self.latencies: list[float] = []

    def _connect(self) -> tuple[Any, bytearray]:
        import socket

        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        buf = bytearray()
        while (end := buf.find(b"\r\n\r\n")) < 0:
            buf += sock.recv(65536)
        del buf[: end + 4]
        sock.setblocking(False)
        return sock, buf

    def _frames(self, buf: bytearray, now: float) -> int:
        """Count the complete frames at the head of `buf` (and time them); drop them."""
        pos, size, count = 0, len(buf), 0
        timing = self.timing
        while size - pos >= 2:
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if size - pos < head + length:
                break
            if buf[pos] != 0x81:  # not a final text frame: a corrupt stream would show here
                self.bad += 1
            if timing:
                t_at = buf.find(b'"t":', pos + head, pos + head + length)
                end = buf.find(b",", t_at)
                self.latencies.append(now - float(buf[t_at + 4 : end]))
            count += 1
            pos += head + length
        del buf[:pos]
        return count

    def run(self) -> None:
        import selectors

        selector = selectors.EpollSelector()
        buffers: dict[int, bytearray] = {}
        socks = []
        first: dict[int, bool] = {}
        for _ in range(self.conns):
            sock, buf = self._connect()
            socks.append(sock)
            buffers[sock.fileno()] = buf
            first[sock.fileno()] = self.skip_first
            selector.register(sock, selectors.EVENT_READ, sock)
        selector.register(sys.stdin, selectors.EVENT_READ, None)
        snapshots = 0
        for fd, buf in buffers.items():  # a snapshot may have come with the handshake
            if first[fd] and self._frames_one(buf):
                first[fd] = False
                snapshots += 1
        pending = b""
        mode, target, until, idle, cpu = "", 0, 0.0, 0.0, 0.0
        if snapshots == (self.conns if self.skip_first else 0):
            _say(ready=self.conns)
        while True:
            events = selector.select(0.05)
            now = time.time()
            for key, _ in events:
                sock = key.data
                if sock is None:  # a command
                    chunk = os.read(0, 4096)
                    if not chunk:
                        return
                    pending += chunk
                    while b"\n" in pending:
                        line, pending = pending.split(b"\n", 1)
                        parts = line.decode().split()
                        if not parts or parts[0] == "quit":
                            return
                        mode, target = parts[0], int(parts[1]) * self.conns
                        self.delivered = self.reads = 0
                        self.latencies = []
                        self.timing = mode == "steady"
                        cpu = time.process_time()
                        idle = float(parts[2])
                        until = now + idle
                        self.last = now
                        _say(armed=True)
                    continue
                data = sock.recv(262144)
                if not data:
                    selector.unregister(sock)
                    continue
                self.reads += 1
                buf = buffers[sock.fileno()]
                buf += data
                # The garden's snapshot comes first: it is not timed or counted.
                if first[sock.fileno()] and self._frames_one(buf):
                    first[sock.fileno()] = False
                    snapshots += 1
                    if snapshots == self.conns:
                        _say(ready=self.conns)
                self.delivered += self._frames(buf, now)
                self.last = now
            if mode == "burst" and (self.delivered >= target or now - self.last > idle):
                _say(
                    delivered=self.delivered,
                    last=self.last,
                    bad=self.bad,
                    cpu=time.process_time() - cpu,
                    reads=self.reads,
                )
                mode = ""
            elif mode == "steady" and (self.delivered >= target or now > until):
                self.timing = False
                _say(
                    delivered=self.delivered,
                    latencies=self.latencies,
                    cpu=time.process_time() - cpu,
                )
                mode = ""

    def _frames_one(self, buf: bytearray) -> bool:
        """Drop the first complete frame of `buf` if it is there."""
        if len(buf) < 2:
            return False
        length, head = buf[1] & 0x7F, 2
        if length == 126:
            if len(buf) < 4:
                return False
            length, head = (buf[2] << 8) | buf[3], 4
        elif length == 127:
            if len(buf) < 10:
                return False
            length, head = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < head + length:
            return False
        del buf[: head + length]
        return True


# -- the coordinator -------------------------------------------------------------------------------


class Proc:
    def __init__(self, args: list[str]) -> None:
        self.p = subprocess.Popen(
            [sys.executable, __file__, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def send(self, line: str) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"process {self.p.args} ended")
        return json.loads(line)

    def stop(self) -> None:
        try:
            self.send("quit")
            self.p.wait(10)
        except Exception:
            self.p.kill()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    port = _free_port()
    server = Proc(["--serve", kind, "--port", str(port)])
    server.read()  # ready
    per = args.viewers // args.clients
    clients = [
        Proc(
            ["--client", "--port", str(port), "--conns", str(per)]
            + (["--skip-first"] if kind.startswith("garden") else [])
            + ["--client-impl", args.client_impl]
        )
        for _ in range(args.clients)
    ]
    try:
        for client in clients:
            client.read()
        viewers = per * args.clients
        # burst
        for client in clients:
            client.send(f"burst {args.burst} {args.idle}")
        for client in clients:
            client.read()  # armed: counting from zero before the first frame can arrive
        server.send(f"burst {args.burst}")
        published = server.read()
        reports = [client.read() for client in clients]
        server.send("done")
        cpu = server.read()["cpu"]
        delivered = sum(r["delivered"] for r in reports)
        elapsed = max(r["last"] for r in reports) - published["started"]
        handed = args.burst * viewers
        drain_seconds = published["drained"] - published["started"]
        # steady
        count = int(args.rate * args.seconds)
        for client in clients:
            client.send(f"steady {count} {2 * args.seconds + 5}")
        for client in clients:
            client.read()  # armed
        server.send(f"steady {args.rate} {args.seconds}")
        steady_server = server.read()
        steady = [client.read() for client in clients]
        latencies = sorted(x for r in steady for x in r["latencies"])

        def pct(q: float) -> float:
            return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

        return {
            "server": kind,
            "viewers": viewers,
            "burst_events": args.burst,
            "burst_delivered": delivered,
            "burst_expected": args.burst * viewers,
            "burst_bad_frames": sum(r["bad"] for r in reports),
            "burst_msgs_per_s": delivered / elapsed,
            "burst_server_msgs_per_s": handed / drain_seconds,
            "burst_server_cpu_us_per_msg": published["drain_cpu"] / handed * 1e6,
            "burst_cpu_us_per_msg": cpu / delivered * 1e6,
            # The viewers' side: client CPU per delivery and frames per socket read (a server
            # that coalesces frames makes the clients wake less often).
            "burst_client_cpu_us_per_msg": sum(r["cpu"] for r in reports) / delivered * 1e6,
            "burst_frames_per_read": delivered / max(1, sum(r["reads"] for r in reports)),
            "steady_delivered": sum(r["delivered"] for r in steady),
            "steady_expected": count * viewers,
            "steady_p50_ms": pct(0.50),
            "steady_p99_ms": pct(0.99),
            "steady_server_cpu_s": steady_server["cpu"],
            "steady_client_cpu_s": sum(r["cpu"] for r in steady),
            "server_stats": steady_server.get("stats", {}),
        }
    finally:
        for client in clients:
            client.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--servers", default="garden,garden-unbatched,bare,websockets")
    parser.add_argument(
        "--idle", type=float, default=3.0, help="burst: stop waiting after this long with no frame"
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds, best of (default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="a short run: --burst 100 --seconds 4 --rounds 1"
    )
    parser.add_argument("--serve")
    parser.add_argument("--client", action="store_true")
    parser.add_argument(
        "--client-impl",
        choices=("lean", "asyncio"),
        default="lean",
        help="viewer processes: one epoll loop (lean) or asyncio protocols (the first version)",
    )
    parser.add_argument("--port", type=int)
    parser.add_argument("--conns", type=int)
    parser.add_argument("--skip-first", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.burst, args.seconds = 100, 4.0
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.serve:
        if args.serve == "websockets":
            asyncio.run(serve_websockets(args.port))
        else:
            import trio

            servers = {
                "garden": serve_garden,
                "garden-unbatched": functools.partial(serve_garden, batch=False),
                "bare": serve_bare,
            }
            trio.run(servers[args.serve], args.port)
        return
    if args.client:
        if args.client_impl == "lean":
            LeanClient(args.port, args.conns, args.skip_first).run()
        else:
            asyncio.run(ClientProcess(args.port, args.conns, args.skip_first).run())
        return

    from bench._report import report

    # Interleaved rounds (the machine is shared): each server once per round, the best of each
    # figure over the rounds is reported, and every run is kept in the JSON.
    kinds = args.servers.split(",")
    runs: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for kind in kinds:
            runs.append(measure(kind, args))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    results = [_best([r for r in runs if r["server"] == kind]) for kind in kinds]
    by = {r["server"]: r for r in results}
    columns = [
        "server",
        "viewers",
        "to kernel msgs/s",
        "received msgs/s",
        "CPU us/msg",
        "client CPU us/msg",
        "frames/read",
        "burst delivered",
        "steady p50 ms",
        "steady p99 ms",
        "steady delivered",
    ]
    rows = [
        [
            r["server"],
            r["viewers"],
            r["burst_server_msgs_per_s"],
            r["burst_msgs_per_s"],
            r["burst_cpu_us_per_msg"],
            r["burst_client_cpu_us_per_msg"],
            r["burst_frames_per_read"],
            f"{r['burst_delivered']}/{r['burst_expected']}",
            r["steady_p50_ms"],
            r["steady_p99_ms"],
            f"{r['steady_delivered']}/{r['steady_expected']}",
        ]
        for r in results
    ]
    ratios = {}
    for mine in ("garden", "garden-unbatched"):
        for other in ("bare", "websockets"):
            if mine not in by or other not in by:
                continue
            a, b = by[mine], by[other]
            ratios[f"{mine}/{other} throughput (to kernel)"] = (
                a["burst_server_msgs_per_s"] / b["burst_server_msgs_per_s"]
            )
            ratios[f"{mine}/{other} throughput (received)"] = (
                a["burst_msgs_per_s"] / b["burst_msgs_per_s"]
            )
            ratios[f"{mine}/{other} CPU per msg"] = (
                a["burst_cpu_us_per_msg"] / b["burst_cpu_us_per_msg"]
            )
            ratios[f"{mine}/{other} steady p99"] = a["steady_p99_ms"] / b["steady_p99_ms"]
    load = os.getloadavg()
    report(
        "fanout",
        columns,
        rows,
        {"results": results, "ratios": ratios, "runs": runs, "load": load, "args": vars(args)},
    )
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    print(f"best of {args.rounds} interleaved rounds; load average at the end: {load}")


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One server's best figures over the rounds (each figure on its own)."""
    best = dict(max(runs, key=lambda r: r["burst_msgs_per_s"]))
    # A steady run that did not deliver everything has no honest p99: prefer complete ones.
    complete = [r for r in runs if r["steady_delivered"] == r["steady_expected"]]
    steady = min(complete or runs, key=lambda r: r["steady_p99_ms"])
    for key in steady:
        if key.startswith("steady_"):
            best[key] = steady[key]
    best["rounds"] = len(runs)
    return best


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
