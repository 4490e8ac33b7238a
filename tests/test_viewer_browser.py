"""The garden viewer in a real headless Chromium, against the real runtime.

Needs Debian's `chromium` (installed by `.ci/run`) and Playwright for Python, which drives it
through `executable_path`; nothing is downloaded at run time. Skipped with a reason when either
is missing. The screenshot goes to `artifacts/garden.png`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
SECRET = "demo-webhook-secret"  # the demo world's webhook secret

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Garden:
    """`python run.py` in demo mode on fixed ports, restartable on the same database."""

    def __init__(self, folder: Path, db: Path) -> None:
        self.folder, self.db = folder, db
        self.http_port, self.ws_port = free_port(), free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.http_url = ""

    def start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.folder),
            "GREENHOUSE_HTTP_PORT": str(self.http_port),
            "GREENHOUSE_WS_PORT": str(self.ws_port),
            "PYTHONUNBUFFERED": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "--db", str(self.db)],
            cwd=self.folder, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
            text=True,
        )
        ready = {"http": "", "ws": ""}
        deadline = time.monotonic() + 60
        assert self.proc.stderr is not None
        while time.monotonic() < deadline and not (ready["http"] and ready["ws"]):
            line = self.proc.stderr.readline()
            if not line:
                raise AssertionError("run.py exited early")
            if m := re.search(r"HTTP API: (http://\S+)", line):
                ready["http"] = m.group(1)
            if re.search(r"viewers: ws://", line):
                ready["ws"] = "yes"
        assert ready["http"], "the HTTP address was never logged"
        self.http_url = ready["http"].rstrip("/")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            finally:
                self.proc.kill()
            self.proc = None

    def push(self, repository: str) -> httpx.Response:
        body = (ROOT / "tests" / "fixtures" / "github" / "push.new-branch.json").read_bytes()
        body = body.replace(b'"Hello-World"', f'"{repository}"'.encode())
        body = body.replace(b'/Hello-World"', f'/{repository}"'.encode())
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        return httpx.post(
            f"{self.http_url}/webhooks/github",
            content=body,
            headers={
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": signature,
                "Content-Type": "application/json",
            },
            timeout=10,
        )


@pytest.fixture
def grown_db(tmp_path: Path) -> Path:
    """A database with plants already in it (two simulated days)."""
    from actors.simulation import simulate

    db = tmp_path / "garden.db"
    simulate(2, 5, db, progress=None, fault_rate=0.0)
    return db


def test_viewer_draws_the_garden_reacts_to_a_push_and_catches_up_after_a_restart(
    tmp_path, grown_db
):
    garden = Garden(tmp_path, grown_db)
    garden.start()
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                      "--disable-background-networking", "--disable-component-update",
                      "--no-first-run", "--disable-sync", "--disable-quic"],
            )
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(garden.http_url + "/")
            # The plants of the snapshot are drawn, and listed for screen readers.
            page.wait_for_selector("#connection.online", timeout=15_000)
            page.wait_for_function("document.querySelectorAll('#plants .plant').length >= 3")
            drawn = page.eval_on_selector_all("#plants .plant", "ns => ns.map(n => n.dataset.repository)")
            listed = page.inner_text("#plant-list")
            assert all(name in listed for name in drawn)

            # A signed push makes that repository's plant react and the ticker show it.
            target = drawn[0]
            assert garden.push(target).status_code == 202
            page.wait_for_selector(
                f'#plants .plant[data-repository="{target}"][data-pulsed]', timeout=2_000
            )
            page.wait_for_function(
                f"[...document.querySelectorAll('#ticker li')].some(li => li.textContent.includes('{target}'))",
                timeout=2_000,
            )
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "garden.png"))

            # Kill the server: the page says it is offline, then reconnects and catches up on
            # what happened while it was away (resume with `since`).
            garden.stop()
            page.wait_for_selector("#connection.offline", timeout=5_000)
            garden.start()
            newcomer = "while-you-were-away"
            assert garden.push(newcomer).status_code == 202
            page.wait_for_selector("#connection.online", timeout=40_000)
            page.wait_for_selector(f'#plants .plant[data-repository="{newcomer}"]', timeout=10_000)
            ticker = page.inner_text("#ticker")
            assert newcomer in ticker
            browser.close()
    finally:
        garden.stop()
