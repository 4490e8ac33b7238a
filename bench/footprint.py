"""Footprint on small hardware: the real `python run.py` in demo mode, measured from outside.

* start-up: process spawn to the first viewer-ready moment (the `snapshot` frame received on a
  WebSocket), on a fresh database and again on the database the first run left;
* idle RSS and CPU over `--idle` seconds (default 60), at the demo's default speed (60x: every
  poll 60 times as often as configured) and at speed 1 (the default schedule in real time);
* commits and fsyncs per minute at idle, counted with `strace -f` (commits = bursts of writes to
  the `-wal` file), plus bytes written from /proc/<pid>/io;
* RSS with 500 viewers connected (the clients run in a separate process);
* database growth per simulated day (`actors.simulation.simulate`, virtual time).

    python bench/footprint.py [--idle 60] [--viewers 500] [--days 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
WS_LINE = re.compile(r"viewers: (ws://\S+)")
TARGETS = {"idle_rss_mb": 80.0, "idle_cpu_percent": 1.0, "startup_s": 2.0}

FIRST_FRAME = textwrap.dedent(
    """
    import sys, trio
    from trio_websocket import open_websocket_url
    async def main():
        async with open_websocket_url(sys.argv[1]) as ws:
            await ws.get_message()
    trio.run(main)
    """
)

VIEWERS = textwrap.dedent(
    """
    import sys, trio
    from trio_websocket import open_websocket_url
    url, count = sys.argv[1], int(sys.argv[2])
    async def viewer(ready):
        async with open_websocket_url(url) as ws:
            await ws.get_message()  # the snapshot
            ready.append(1)
            while True:
                await ws.get_message()
    async def main():
        ready = []
        async with trio.open_nursery() as nursery:
            for _ in range(count):
                nursery.start_soon(viewer, ready)
                await trio.sleep(0.002)
            while len(ready) < count:
                await trio.sleep(0.05)
            print("connected", len(ready), flush=True)
            await trio.sleep_forever()
    trio.run(main)
    """
)


class Garden:
    """`python run.py` in demo mode on ephemeral ports, with its stderr in a file."""

    def __init__(self, tmp: Path, db: Path, speed: float | None = None) -> None:
        self.log = tmp / f"run-{time.monotonic_ns()}.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp),
            "GREENHOUSE_HTTP_PORT": "0",
            "GREENHOUSE_WS_PORT": "0",
            "PYTHONUNBUFFERED": "1",
        }
        if speed is not None:
            env["GREENHOUSE_DEMO_SPEED"] = str(speed)
        self.started = time.perf_counter()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "run.py"), "--env-file", str(tmp / "none"),
                 "--db", str(db)],
                cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=out,
            )
        self.pid = self.proc.pid

    def ws_url(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = WS_LINE.search(self.log.read_text(errors="replace"))
            if found:
                return found.group(1)
            if self.proc.poll() is not None:
                raise RuntimeError("run.py exited:\n" + self.log.read_text(errors="replace"))
            time.sleep(0.005)
        raise RuntimeError("no viewer address logged")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime

    def rss_mb(self) -> float:
        return int(Path(f"/proc/{self.pid}/statm").read_text().split()[1]) * PAGE / 2**20

    def write_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        finally:
            self.proc.kill()


def first_frame_seconds(garden: Garden) -> float:
    """Spawn to the first frame (the snapshot) received by a viewer."""
    url = garden.ws_url()
    subprocess.run([sys.executable, "-c", FIRST_FRAME, url], check=True, timeout=30)
    # The viewer process's own start-up (~0.15 s of imports) is not the garden's: subtract it.
    return time.perf_counter() - garden.started


def viewer_process_overhead() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import trio, trio_websocket"], check=True, timeout=30
    )
    return time.perf_counter() - started


def measure_startup(tmp: Path, runs: int = 3) -> dict[str, float]:
    overhead = statistics.median(viewer_process_overhead() for _ in range(3))
    fresh, warm = [], []
    for n in range(runs):
        db = tmp / f"startup-{n}.db"
        for samples in (fresh, warm):  # a new database, then the one just left
            garden = Garden(tmp, db)
            samples.append(first_frame_seconds(garden) - overhead)
            garden.stop()
    return {"fresh_db_s": statistics.median(fresh), "existing_db_s": statistics.median(warm)}


def measure_idle(garden: Garden, seconds: float) -> dict[str, float]:
    garden.ws_url()
    time.sleep(5)  # past start-up: migrations, snapshot rebuild, first polls
    cpu0, wrote0, t0 = garden.cpu_seconds(), garden.write_bytes(), time.perf_counter()
    rss = []
    while time.perf_counter() - t0 < seconds:
        time.sleep(1)
        rss.append(garden.rss_mb())
    elapsed = time.perf_counter() - t0
    cpu = garden.cpu_seconds() - cpu0
    return {
        "rss_mb": statistics.median(rss),
        "rss_max_mb": max(rss),
        "cpu_percent": 100 * cpu / elapsed,
        "write_kb_per_min": (garden.write_bytes() - wrote0) / 1024 / elapsed * 60,
    }


def measure_syncs(garden: Garden, seconds: float) -> dict[str, float] | None:
    """fsyncs and WAL commit bursts per minute, from strace (None when strace is missing)."""
    if shutil.which("strace") is None:
        return None
    out = Path(garden.log).with_suffix(".strace")
    tracer = subprocess.Popen(
        ["strace", "-f", "-tt", "-y", "-e", "trace=fsync,fdatasync,pwrite64,write",
         "-o", str(out), "-p", str(garden.pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(seconds)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(timeout=10)
    fsyncs = 0
    bursts = 0
    last = -1.0
    for line in out.read_text(errors="replace").splitlines():
        if re.search(r"\b(fsync|fdatasync)\(", line):
            fsyncs += 1
        if "pwrite64(" in line and "-wal>" in line:
            clock = line.split()[1]
            h, m, s = clock.split(":")
            at = int(h) * 3600 + int(m) * 60 + float(s)
            if at - last > 0.01:  # one commit's frames are written back to back
                bursts += 1
            last = at
    return {"fsyncs_per_min": fsyncs / seconds * 60, "commits_per_min": bursts / seconds * 60}


def measure_viewers(garden: Garden, count: int) -> dict[str, float]:
    url = garden.ws_url()
    time.sleep(3)
    before = garden.rss_mb()
    clients = subprocess.Popen(
        [sys.executable, "-c", VIEWERS, url, str(count)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert clients.stdout is not None
        line = clients.stdout.readline()
        if not line.startswith("connected"):
            raise RuntimeError(f"viewers did not connect: {line!r}")
        time.sleep(10)  # events flow to every viewer meanwhile
        during = garden.rss_mb()
        cpu0, t0 = garden.cpu_seconds(), time.perf_counter()
        time.sleep(10)
        cpu = 100 * (garden.cpu_seconds() - cpu0) / (time.perf_counter() - t0)
    finally:
        clients.kill()
        clients.wait()
    return {"rss_before_mb": before, "rss_mb": during, "cpu_percent": cpu,
            "kb_per_viewer": (during - before) * 1024 / count}


def measure_growth(tmp: Path, days: int) -> dict[str, float]:
    from actors.simulation import simulate

    path = tmp / "growth.db"
    summary = simulate(days, 7, path, progress=None)
    size = path.stat().st_size
    events = sum(summary.events_by_type.values())
    return {"days": days, "kb_per_day": size / 1024 / days, "events_per_day": events / days}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=60.0, help="idle window in seconds")
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        results["startup"] = measure_startup(tmp)
        for label, speed in (("demo_60x", None), ("demo_1x", 1.0)):
            garden = Garden(tmp, tmp / f"idle-{label}.db", speed=speed)
            try:
                results[f"idle_{label}"] = measure_idle(garden, args.idle)
                results[f"syncs_{label}"] = measure_syncs(garden, args.idle)
                if speed is None:
                    results["viewers"] = measure_viewers(garden, args.viewers)
            finally:
                results[f"exit_code_{label}"] = garden.stop()
        results["growth"] = measure_growth(tmp, args.days)

    s, i60, i1 = results["startup"], results["idle_demo_60x"], results["idle_demo_1x"]
    y60, y1 = results["syncs_demo_60x"] or {}, results["syncs_demo_1x"] or {}
    v, g = results["viewers"], results["growth"]

    def verdict(value: float, target: float) -> str:
        return "ok" if value < target else "MISSED"

    rows = [
        ["start-up to first snapshot, fresh db (s)", s["fresh_db_s"], "< 2", verdict(s["fresh_db_s"], 2)],
        ["start-up to first snapshot, existing db (s)", s["existing_db_s"], "< 2",
         verdict(s["existing_db_s"], 2)],
        ["idle RSS, demo 60x (MB)", i60["rss_mb"], "< 80", verdict(i60["rss_max_mb"], 80)],
        ["idle CPU, demo 60x (% of a core)", i60["cpu_percent"], "< 1",
         verdict(i60["cpu_percent"], 1)],
        ["idle RSS, default schedule 1x (MB)", i1["rss_mb"], "< 80", verdict(i1["rss_max_mb"], 80)],
        ["idle CPU, default schedule 1x (% of a core)", i1["cpu_percent"], "< 1",
         verdict(i1["cpu_percent"], 1)],
        ["commits per minute, demo 60x", y60.get("commits_per_min", "n/a"), "", ""],
        ["fsyncs per minute, demo 60x", y60.get("fsyncs_per_min", "n/a"), "", ""],
        ["commits per minute, 1x", y1.get("commits_per_min", "n/a"), "", ""],
        ["fsyncs per minute, 1x", y1.get("fsyncs_per_min", "n/a"), "", ""],
        ["disk writes, demo 60x (KiB/min)", i60["write_kb_per_min"], "", ""],
        ["disk writes, 1x (KiB/min)", i1["write_kb_per_min"], "", ""],
        [f"RSS with {args.viewers} viewers (MB)", v["rss_mb"], "", ""],
        ["  per viewer (KiB)", v["kb_per_viewer"], "", ""],
        [f"CPU with {args.viewers} viewers, demo 60x (%)", v["cpu_percent"], "", ""],
        ["database growth per simulated day (KiB)", g["kb_per_day"], "", ""],
        ["events per simulated day", g["events_per_day"], "", ""],
    ]
    report("footprint", ["measure", "value", "target", "verdict"], rows, {"results": results})
    print(json.dumps({k: results[k] for k in results if k.startswith("exit_code")}))


if __name__ == "__main__":
    main()
