"""WebSocket fan-out: the garden's actor against a bare trio-websocket loop and websockets.broadcast.

Each server runs in its own process; the viewers are raw WebSocket clients spread over several
client processes (cheap readers: they parse frame headers, not JSON, so they are not the
bottleneck). For each server, in the same run:

* burst: the server publishes `--burst` events as fast as it can; delivered messages per second
  (viewers x events / time until the last viewer has them all) and the server's CPU microseconds
  per delivered message (process CPU time over the burst).
* steady: `--rate` events per second for `--seconds`; p50/p99 publish-to-receive latency over
  every delivery (wall clock, same machine).

Servers:
* garden: the real `WebSocketActor` fed `EventStored` messages on its bus mailbox (the fan-out
  only: storage is bench/store.py's subject).
* bare: trio-websocket with a memory channel and a send task per viewer, `send_message` each.
* websockets: the `websockets` library (asyncio) with `broadcast()`, compression off.

    python bench/fanout.py [--viewers 1000] [--clients 4] [--burst 200] [--rate 20] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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


async def serve_garden(port: int) -> None:
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
            + (["--skip-first"] if kind == "garden" else [])
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
            client.send(f"steady {count} {args.seconds + 5}")
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
    parser.add_argument("--servers", default="garden,bare,websockets")
    parser.add_argument(
        "--idle", type=float, default=3.0, help="burst: stop waiting after this long with no frame"
    )
    parser.add_argument("--quick", action="store_true", help="a short run: --burst 100 --seconds 4")
    parser.add_argument("--serve")
    parser.add_argument("--client", action="store_true")
    parser.add_argument("--port", type=int)
    parser.add_argument("--conns", type=int)
    parser.add_argument("--skip-first", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.burst, args.seconds = 100, 4.0
    if args.serve:
        if args.serve == "websockets":
            asyncio.run(serve_websockets(args.port))
        else:
            import trio

            trio.run(serve_garden if args.serve == "garden" else serve_bare, args.port)
        return
    if args.client:
        asyncio.run(ClientProcess(args.port, args.conns, args.skip_first).run())
        return

    from bench._report import report

    results = []
    for kind in args.servers.split(","):
        results.append(measure(kind, args))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    by = {r["server"]: r for r in results}
    columns = [
        "server",
        "viewers",
        "to kernel msgs/s",
        "received msgs/s",
        "CPU us/msg",
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
            f"{r['burst_delivered']}/{r['burst_expected']}",
            r["steady_p50_ms"],
            r["steady_p99_ms"],
            f"{r['steady_delivered']}/{r['steady_expected']}",
        ]
        for r in results
    ]
    ratios = {}
    if "garden" in by:
        for other in ("bare", "websockets"):
            if other in by:
                ratios[f"garden/{other} throughput (to kernel)"] = (
                    by["garden"]["burst_server_msgs_per_s"] / by[other]["burst_server_msgs_per_s"]
                )
                ratios[f"garden/{other} throughput (received)"] = (
                    by["garden"]["burst_msgs_per_s"] / by[other]["burst_msgs_per_s"]
                )
                ratios[f"garden/{other} CPU per msg"] = (
                    by["garden"]["burst_cpu_us_per_msg"] / by[other]["burst_cpu_us_per_msg"]
                )
    report("fanout", columns, rows, {"results": results, "ratios": ratios, "args": vars(args)})
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
