"""`python run.py` on a fresh machine (no .env, no keys) runs the demo garden, live over WebSocket."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import trio
from trio_websocket import open_websocket_url

ROOT = Path(__file__).resolve().parent.parent


async def read_url(proc: subprocess.Popen[str], lines: list[str]) -> str:
    assert proc.stderr is not None
    while True:
        line = await trio.to_thread.run_sync(proc.stderr.readline)
        if not line:
            raise AssertionError("run.py exited:\n" + "".join(lines))
        lines.append(line)
        found = re.search(r"viewers: (ws://\S+)", line)
        if found:
            return found.group(1)


async def test_fresh_run_py_serves_the_demo_and_streams_live_events(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "GREENHOUSE_HTTP_PORT": "0",
        "GREENHOUSE_WS_PORT": "0",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 - the test owns this child for its whole life
        [sys.executable, str(ROOT / "run.py")],  # exactly what a user types, in an empty folder
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    lines: list[str] = []
    try:
        with trio.fail_after(60):
            url = await read_url(proc, lines)
            assert any("DEMO MODE" in line for line in lines)
            async with open_websocket_url(url) as ws:
                first = json.loads(await ws.get_message())
                assert first["type"] == "snapshot"
                live = []
                while not live:
                    event = json.loads(await ws.get_message())
                    if event["type"] != "snapshot":
                        live.append(event)
        assert {"id", "type", "data", "timestamp", "source"} <= set(live[0])
        assert live[0]["id"] > 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=10)
        finally:
            proc.kill()
    assert code == 0
    assert (tmp_path / "greenhouse.db").exists()
