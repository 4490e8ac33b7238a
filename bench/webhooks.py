"""Sustained signed GitHub deliveries per second, and the time to each 202.

The garden runs in one process (a fresh SQLite file); load comes from another process holding
`--connections` keep-alive HTTP/1.1 connections, each posting the real `push` payload
(tests/fixtures/github/webhooks/push.new-branch.json), signed, with a new delivery id every
time, as fast as the 202s come back. A 202 means the delivery's `commit_pushed` event and its
delivery row are committed (group commit: concurrent deliveries share a transaction).

Servers ("trees"):
* full: `build_garden` + `run_garden`, every actor of this build (the engines react to each commit).
* surface: persistence and the HTTP actor only.
* floor: hypercorn's trio worker serving a bare ASGI app that reads the body and answers 202
  (no verification, no storage): what the HTTP server alone reaches on this machine, in the same
  run, so the garden's figure can be read against it.

Each server's CPU time per delivery is read from /proc; the trees run in interleaved rounds
(`--rounds`, best of; the machine is shared).

    python bench/webhooks.py [--quick] [--connections 8] [--seconds 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-webhook-secret"
BODY = (ROOT / "tests" / "fixtures" / "github" / "webhooks" / "push.new-branch.json").read_bytes()


def serve(tree: str) -> None:
    import trio

    from actors.tree import build_garden, run_garden
    from greenhouse.config import GitHubConfig, IntegrationSettings, Secret, WebConfig

    settings = IntegrationSettings(
        github=GitHubConfig(webhook_secret=Secret(SECRET)),
        web=WebConfig(http_port=0, ws_port=0),
    )

    async def surface() -> None:
        # Only what a delivery needs: persistence and the HTTP actor (no engines reacting).
        from actors.http import HttpActor
        from actors.persistence import PersistenceActor
        from greenhouse.messages import GardenEvent
        from greenhouse.runtime import Bus, Clock
        from greenhouse.store import Store
        from greenhouse.web.addresses import ListenAddresses
        from greenhouse.web.context import ReaderPool, WebContext
        from greenhouse.web.deliveries import WebhookDeliveryRecorded, write_deliveries

        with tempfile.TemporaryDirectory() as directory:
            store = Store(Path(directory) / "bench.db")
            store.register_writer(WebhookDeliveryRecorded, write_deliveries)
            bus, clock = Bus(), Clock()
            box = bus.subscribe("persistence", (GardenEvent,), capacity=4096)
            persistence = PersistenceActor(box, bus, store, clock=clock)
            ctx = WebContext(
                settings=settings,
                clock=clock,
                bus=bus,
                store=store,
                mailboxes={"persistence": box},
                addresses=ListenAddresses(),
                readers=ReaderPool(store),
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(persistence.run)
                nursery.start_soon(HttpActor(ctx, port=0, clock=clock).run)
                print(json.dumps({"url": await ctx.addresses.wait("http")}), flush=True)
                await trio.to_thread.run_sync(sys.stdin.readline)
                print(json.dumps({"commits": persistence.commits}), flush=True)
                nursery.cancel_scope.cancel()
            store.close()

    async def main() -> None:
        with tempfile.TemporaryDirectory() as directory:
            garden = build_garden(settings, db_path=str(Path(directory) / "bench.db"))
            async with trio.open_nursery() as nursery:
                await nursery.start(run_garden, garden)
                url = await garden.extras["addresses"].wait("http")
                print(json.dumps({"url": url}), flush=True)
                await trio.to_thread.run_sync(sys.stdin.readline)
                persistence = garden.root.child("persistence")
                print(json.dumps({"commits": getattr(persistence, "commits", None)}), flush=True)
                nursery.cancel_scope.cancel()

    async def floor() -> None:
        from functools import partial

        from hypercorn.config import Config
        from hypercorn.trio import serve as hypercorn_serve

        async def app(scope, receive, send):  # type: ignore[no-untyped-def]
            if scope["type"] == "lifespan":
                while True:
                    message = await receive()
                    await send({"type": message["type"] + ".complete"})
                    if message["type"] == "lifespan.shutdown":
                        return
            more = True
            while more:
                message = await receive()
                more = message.get("more_body", False)
            body = b'{"status":"accepted"}'
            headers = [(b"content-type", b"application/json"), (b"content-length", b"21")]
            await send({"type": "http.response.start", "status": 202, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(partial(hypercorn_serve, app, config))
            print(json.dumps({"url": binds[0]}), flush=True)
            await trio.to_thread.run_sync(sys.stdin.readline)
            print(json.dumps({"commits": None}), flush=True)
            nursery.cancel_scope.cancel()

    trio.run({"full": main, "surface": surface, "floor": floor}[tree])


async def load(host: str, port: int, connections: int, seconds: float) -> dict[str, object]:
    from greenhouse.services.github_webhooks import sign

    signature = sign(SECRET, BODY)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    reconnects = [0]
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while time.perf_counter() < deadline:
            head = (
                "POST /webhooks/github HTTP/1.1\r\n"
                f"Host: {host}\r\nContent-Type: application/json\r\n"
                "X-GitHub-Event: push\r\n"
                f"X-GitHub-Delivery: {uuid.uuid4()}\r\n"
                f"X-Hub-Signature-256: {signature}\r\n"
                f"Content-Length: {len(BODY)}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(head + BODY)
            status_line = await reader.readline()
            if not status_line:
                # The server closed the connection between requests (hypercorn ends a keep-alive
                # connection after `keep_alive_max_requests`, 1000): reconnect, send again.
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                reconnects[0] += 1
                continue
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(status_line.split()[1])
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "deliveries": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000,
        "statuses": statuses,
        "reconnects": reconnects[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--trees", default="full,surface,floor")
    parser.add_argument("--rounds", type=int, help="interleaved rounds, best of (default 3)")
    parser.add_argument(
        "--quick", action="store_true", help="a short run: --seconds 4 (--rounds 1 unless given)"
    )
    parser.add_argument("--serve")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.quick:
        args.seconds = 4.0
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    from bench._report import report

    trees = args.trees.split(",")
    runs: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for tree in trees:
            runs.append({"tree": tree, **run_one(tree, args)})
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    results = {}
    for tree in trees:
        mine = [r for r in runs if r["tree"] == tree]
        best = dict(max(mine, key=lambda r: r["per_second"]))
        best["best_p99_ms"] = min(r["p99_ms"] for r in mine)
        results[tree] = best
    rows = [
        [
            tree,
            args.connections,
            r["deliveries"],
            r["per_second"],
            r["p50_ms"],
            r["p99_ms"],
            r["best_p99_ms"],
            r["server_cpu_us"],
            r["server_cpu_share"],
            r["client_cpu_us"],
            json.dumps(r["statuses"]),
            r["deliveries_per_commit"],
        ]
        for tree, r in results.items()
    ]
    ratios = {}
    if "floor" in results:
        for tree in trees:
            if tree != "floor":
                ratios[f"{tree}/floor per second"] = (
                    results[tree]["per_second"] / results["floor"]["per_second"]
                )
                ratios[f"{tree}/floor server CPU per request"] = (
                    results[tree]["server_cpu_us"] / results["floor"]["server_cpu_us"]
                )
    load = os.getloadavg()
    report(
        "webhooks",
        [
            "server",
            "connections",
            "deliveries",
            "per second",
            "p50 ms",
            "p99 ms",
            "best p99 ms",
            "server CPU us/req",
            "server CPU share",
            "client CPU us/req",
            "statuses",
            "deliveries per commit",
        ],
        rows,
        {"results": results, "ratios": ratios, "runs": runs, "load": load, "args": vars(args)},
    )
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    print(f"best of {args.rounds} interleaved rounds; load average at the end: {load}")


def _reply(server: subprocess.Popen[str], key: str) -> Any:
    """The server's next JSON line holding `key` (anything else on its stdout is passed on)."""
    assert server.stdout is not None
    while True:
        line = server.stdout.readline()
        if not line:
            raise RuntimeError(f"the bench server ended before saying {key!r}")
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if isinstance(reply, dict) and key in reply:
            return reply[key]
        print(line, end="", file=sys.stderr)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_one(tree: str, args: argparse.Namespace) -> dict[str, object]:
    """Start a server for `tree` ("full": every actor; "surface": persistence + HTTP), load it."""
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", tree],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        url = _reply(server, "url")
        host, port = url.removeprefix("http://").rsplit(":", 1)
        server_cpu, client_cpu, began = _cpu_seconds(server.pid), time.process_time(), time.time()
        result = asyncio.run(load(host, int(port), args.connections, args.seconds))
        server_cpu = _cpu_seconds(server.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        wall = time.time() - began
        done = max(1, int(result["deliveries"]))  # type: ignore[call-overload]
        result["server_cpu_us"] = server_cpu / done * 1e6
        result["server_cpu_share"] = server_cpu / wall
        result["client_cpu_us"] = client_cpu / done * 1e6
        server.stdin.write("stop\n")
        server.stdin.flush()
        commits = _reply(server, "commits")
    finally:
        server.stdin.close()
        server.wait(20)
    result["commits"] = commits
    result["deliveries_per_commit"] = (
        result["deliveries"] / commits if commits else None  # type: ignore[operator]
    )
    return result


if __name__ == "__main__":
    main()
