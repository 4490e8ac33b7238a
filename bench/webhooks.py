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


def serve() -> None:
    import trio

    from actors.tree import build_garden, run_garden
    from greenhouse.config import GitHubConfig, IntegrationSettings, Secret, WebConfig

    async def main() -> None:
        settings = IntegrationSettings(
            github=GitHubConfig(webhook_secret=Secret(SECRET)),
            web=WebConfig(http_port=0, ws_port=0),
        )
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

    trio.run(main)


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
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    from bench._report import report

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, cwd=ROOT,
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
    report(
        "webhooks",
        ["connections", "deliveries", "per second", "p50 ms", "p99 ms", "max ms", "statuses",
         "deliveries per commit"],
        [[args.connections, result["deliveries"], result["per_second"], result["p50_ms"],
          result["p99_ms"], result["max_ms"], json.dumps(result["statuses"]),
          result["deliveries_per_commit"]]],
        {"result": result, "args": vars(args)},
    )


if __name__ == "__main__":
    main()
