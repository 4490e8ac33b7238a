"""Durability: the real `python run.py` under webhook load and its own polling, killed with
SIGKILL at random moments again and again, restarted each time.

Afterwards the database passes `PRAGMA integrity_check`, every delivery answered 202 is in the
event log exactly once (redeliveries after a crash are answered as duplicates), event ids only
ever grow (none reused after a crash), and a final SIGTERM flushes and exits 0 within 5 s.
Bounded to about a minute of wall time.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from greenhouse.services.github_webhooks import sign

ROOT = Path(__file__).resolve().parent.parent.parent
PUSH = (ROOT / "tests" / "fixtures" / "github" / "webhooks" / "push.new-branch.json").read_bytes()
DEMO_SECRET = "demo-webhook-secret"  # the demo world's webhook secret (demo_environment())
KILLS = 20
SENDERS = 3
HTTP_LINE = re.compile(r"HTTP API: (http://\S+)")


@dataclass
class Ledger:
    """What the senders were told, shared by the sender threads."""

    accepted: dict[str, list[int]] = field(default_factory=dict)  # delivery id -> event ids
    rounds: list[list[int]] = field(default_factory=list)  # event ids accepted per round
    duplicates: int = 0
    unanswered: int = 0
    other: list[int | str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def start(tmp: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "GREENHOUSE_HTTP_PORT": "0",
        "GREENHOUSE_WS_PORT": "0",
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "--env-file", str(tmp / "none"),
             "--db", str(tmp / "garden.db")],
            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=out,
        )


def wait_for_url(proc: subprocess.Popen[bytes], log: Path, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = HTTP_LINE.search(log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if proc.poll() is not None:
            raise AssertionError("run.py exited:\n" + log.read_text(errors="replace"))
        time.sleep(0.02)
    raise AssertionError("no HTTP address logged:\n" + log.read_text(errors="replace"))


def deliver(client: httpx.Client, delivery_id: str) -> httpx.Response:
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": sign(DEMO_SECRET, PUSH),
        "Content-Type": "application/json",
    }
    return client.post("/webhooks/github", content=PUSH, headers=headers)


def send_until_stopped(url: str, ledger: Ledger, stop: threading.Event, ids: list[int]) -> None:
    """Post deliveries back to back; every 5th re-sends one accepted before (a redelivery)."""
    rng = random.Random()
    with httpx.Client(base_url=url, timeout=5.0) as client:
        n = 0
        while not stop.is_set():
            n += 1
            with ledger.lock:
                old = list(ledger.accepted)
            redelivery = n % 5 == 0 and bool(old)
            delivery_id = rng.choice(old) if redelivery else str(uuid.uuid4())
            try:
                response = deliver(client, delivery_id)
            except httpx.HTTPError:
                ledger.unanswered += 1
                return  # the process is gone
            with ledger.lock:
                if response.status_code == 202 and redelivery:
                    ledger.other.append(f"redelivery {delivery_id} accepted twice")
                elif response.status_code == 202:
                    event_ids = response.json()["event_ids"]
                    ledger.accepted[delivery_id] = event_ids
                    ids.extend(event_ids)
                elif response.status_code == 200 and response.json()["status"] == "duplicate":
                    ledger.duplicates += 1
                else:
                    ledger.other.append(response.status_code)


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path):
    rng = random.Random(1234)
    ledger = Ledger()
    for round_no in range(KILLS):
        log = tmp_path / f"run-{round_no}.log"
        proc = start(tmp_path, log)
        round_ids: list[int] = []
        try:
            if round_no % 5 == 4:
                # Some kills land during start-up: migrations, snapshot rebuild, first polls.
                time.sleep(rng.uniform(0.05, 0.8))
            else:
                url = wait_for_url(proc, log)
                stop = threading.Event()
                senders = [
                    threading.Thread(target=send_until_stopped, args=(url, ledger, stop, round_ids))
                    for _ in range(SENDERS)
                ]
                for sender in senders:
                    sender.start()
                time.sleep(rng.uniform(0.05, 1.0))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        if round_no % 5 != 4:
            stop.set()
            for sender in senders:
                sender.join(timeout=10)
        ledger.rounds.append(sorted(round_ids))

    # One clean run at the end: SIGTERM flushes and exits 0 within 5 s.
    log = tmp_path / "final.log"
    proc = start(tmp_path, log)
    try:
        wait_for_url(proc, log)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - sent
    finally:
        proc.kill()
    text = log.read_text(errors="replace")
    assert code == 0, text[-3000:]
    assert elapsed < 5.0
    assert "stopped cleanly" in text
    assert "Traceback" not in text

    assert len(ledger.accepted) >= 50, "the load never got going"
    assert ledger.other == [], f"unexpected answers: {ledger.other}"
    conn = sqlite3.connect(tmp_path / "garden.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute(
            "SELECT id, json_extract(data, '$.delivery_id') FROM events"
            " WHERE type = 'commit_pushed' AND json_extract(data, '$.delivery_id') IS NOT NULL"
        ).fetchall()
        all_ids = [r[0] for r in conn.execute("SELECT id FROM events ORDER BY rowid")]
    finally:
        conn.close()
    stored: dict[str, list[int]] = {}
    for event_id, delivery_id in rows:
        stored.setdefault(delivery_id, []).append(event_id)
    # Every accepted delivery is there exactly once, under the id it was answered with.
    for delivery_id, event_ids in ledger.accepted.items():
        assert stored.get(delivery_id) == event_ids, delivery_id
    # No delivery (accepted or cut off by the kill) is there twice.
    assert all(len(ids) == 1 for ids in stored.values())
    # Ids strictly increasing in insertion order, no duplicates, none reused across crashes.
    assert all_ids == sorted(set(all_ids))
    previous = 0
    for round_ids in ledger.rounds:
        if round_ids:
            assert round_ids[0] > previous
            previous = round_ids[-1]
