"""Sustained signed GitHub deliveries per second, and the time to each 202.

The whole garden runs in one process (`build_garden` + `run_garden`, a fresh SQLite file, every
actor of this build); load comes from another process holding `--connections` keep-alive HTTP/1.1
connections, each posting the real `push` payload (tests/fixtures/github/webhooks/
push.new-branch.json), signed, with a new delivery id every time, as fast as the 202s come back.
A 202 means the delivery's `commit_pushed` event and its delivery row are committed (group
commit: concurrent deliveries share a transaction).

    python bench/webhooks.py [--connections 32] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

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

    trio.run(main if tree == "full" else surface)


async def load(host: str, port: int, connections: int, seconds: float) -> dict[str, object]:
    from greenhouse.services.github_webhooks import sign

    signature = sign(SECRET, BODY)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--trees", default="full,surface")
    parser.add_argument("--serve")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    from bench._report import report

    rows, results = [], {}
    for tree in args.trees.split(","):
        result = run_one(tree, args)
        results[tree] = result
        rows.append(
            [
                tree,
                args.connections,
                result["deliveries"],
                result["per_second"],
                result["p50_ms"],
                result["p99_ms"],
                result["max_ms"],
                json.dumps(result["statuses"]),
                result["deliveries_per_commit"],
            ]
        )
    report(
        "webhooks",
        [
            "garden",
            "connections",
            "deliveries",
            "per second",
            "p50 ms",
            "p99 ms",
            "max ms",
            "statuses",
            "deliveries per commit",
        ],
        rows,
        {"results": results, "args": vars(args)},
    )


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
        url = json.loads(server.stdout.readline())["url"]
        host, port = url.removeprefix("http://").rsplit(":", 1)
        result = asyncio.run(load(host, int(port), args.connections, args.seconds))
        server.stdin.write("stop\n")
        server.stdin.flush()
        commits = json.loads(server.stdout.readline())["commits"]
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
