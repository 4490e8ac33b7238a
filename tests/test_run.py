"""`python run.py` as a user runs it: starts, logs its tree, stops cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def start(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GREENHOUSE_HTTP_PORT": "0",
        "GREENHOUSE_WS_PORT": "0",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "--env-file", str(tmp_path / "none"),
         "--db", str(tmp_path / "garden.db"), *extra],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} not seen; got:\n{''.join(lines)}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_run_py_starts_logs_its_tree_and_exits_cleanly(tmp_path, signum):
    proc = start(tmp_path)
    try:
        lines = wait_for_line(proc, "garden running")
        text = "".join(lines)
        assert "supervision tree" in text
        assert "persistence [permanent]" in text
        sent = time.monotonic()
        proc.send_signal(signum)
        code = proc.wait(timeout=10)
        elapsed = time.monotonic() - sent
    finally:
        proc.kill()
        rest = proc.stderr.read() if proc.stderr else ""
    assert code == 0, rest
    assert elapsed < 5
    assert "stopped cleanly" in rest
    # Flushed and checkpointed: the WAL was folded into the main file.
    wal = tmp_path / "garden.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    conn = sqlite3.connect(tmp_path / "garden.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_run_py_refuses_a_corrupt_database(tmp_path):
    (tmp_path / "garden.db").write_bytes(b"garbage" * 1000)
    proc = start(tmp_path)
    code = proc.wait(timeout=30)
    err = proc.stderr.read() if proc.stderr else ""
    assert code == 3
    assert "database error" in err and "restore a backup" in err
    assert "Traceback" not in err


def test_backup_makes_a_consistent_copy_while_the_garden_runs(tmp_path):
    proc = start(tmp_path)
    try:
        wait_for_line(proc, "garden running")
        # Meanwhile something writes (the demo garden stores events as it runs).
        result = subprocess.run(
            [sys.executable, str(ROOT / "run.py"), "--env-file", str(tmp_path / "none"),
             "--db", str(tmp_path / "garden.db"), "backup", str(tmp_path / "copy" / "g.db")],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert result.returncode == 0, result.stderr
    assert "backed up" in result.stdout
    conn = sqlite3.connect(tmp_path / "copy" / "g.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] > 0
    conn.close()
    assert not (tmp_path / "copy" / "g.db.partial").exists()


def test_backup_of_a_missing_database_fails_clearly(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--env-file", str(tmp_path / "none"),
         "--db", str(tmp_path / "nope.db"), "backup", str(tmp_path / "b.db")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "does not exist" in result.stderr
