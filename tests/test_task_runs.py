"""The `task_runs` table: keyed by (started_at, id), used by both readers and retention."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from greenhouse.messages import TaskRun, TaskRunRetention
from greenhouse.schema import MIGRATIONS
from greenhouse.store import Store
from greenhouse.task_runs import recent_task_runs, register_task_run_writers

START = 1_800_000_000.0


def run(execution_id: str, task: str, started: float, took: float = 2.0) -> TaskRun:
    return TaskRun(execution_id=execution_id, task_id=task, trigger="schedule",
                   status="succeeded", started_at=started, finished_at=started + took,
                   duration=took)


def indexes(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'task_runs'"
    )}


def plan(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> str:
    return " ".join(str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


def test_a_new_garden_keys_runs_by_start_and_every_query_walks_that_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "garden.db")
    conn = store.conn
    assert indexes(conn) == set()  # the table is its only b-tree
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'task_runs'").fetchone()
    assert "PRIMARY KEY (started_at, id)" in sql and "WITHOUT ROWID" in sql
    by_task = "SELECT id FROM task_runs WHERE task = ? ORDER BY started_at DESC LIMIT ?"
    newest = "SELECT id FROM task_runs ORDER BY started_at DESC LIMIT ?"
    prune = "DELETE FROM task_runs WHERE started_at < ? AND finished_at < ?"
    for query, params in ((by_task, ("a", 10)), (newest, (10,))):
        assert "TEMP B-TREE" not in plan(conn, query, params)  # read in key order, no sort
    assert "SEARCH task_runs USING PRIMARY KEY (started_at<?)" in plan(conn, prune, (1.0, 1.0))
    store.close()


def test_an_older_garden_keeps_its_rows_in_the_new_table(tmp_path: Path) -> None:
    path = tmp_path / "garden.db"
    before = [m for m in MIGRATIONS if not m.name.startswith(("scheduler_0002", "scheduler_0003"))]
    old = Store(path, migrations=before)
    register_task_run_writers(old)
    rows = [run("x1", "mood", START), run("x2", "health", START + 60)]
    failed = TaskRun(execution_id="x3", task_id="sync", trigger="manual", status="failed",
                     started_at=START + 120, finished_at=START + 150, duration=30.0, attempts=3,
                     error="HTTP 503")
    old.write_batch([*rows, failed], START)
    assert indexes(old.conn) == {"task_runs_task", "task_runs_finished", "sqlite_autoindex_task_runs_1"}
    before_rows = recent_task_runs(old.conn)
    old.close()

    store = Store(path)
    assert indexes(store.conn) == set()
    assert recent_task_runs(store.conn) == before_rows
    assert [r["id"] for r in before_rows] == ["x3", "x2", "x1"]
    assert before_rows[0]["error"] == "HTTP 503" and before_rows[0]["attempts"] == 3
    store.close()


def test_a_run_written_again_replaces_itself(tmp_path: Path) -> None:
    store = Store(tmp_path / "garden.db")
    register_task_run_writers(store)
    store.write_batch([run("a", "mood", START)], START)
    store.write_batch([run("a", "mood", START, took=5.0)], START)
    rows = recent_task_runs(store.conn)
    assert [(r["id"], r["duration"]) for r in rows] == [("a", 5.0)]
    store.close()


def test_readers_and_retention_give_the_same_rows_as_without_an_index(tmp_path: Path) -> None:
    store = Store(tmp_path / "garden.db")
    register_task_run_writers(store)
    # Finished out of start order (a long run ends after later short ones), over three days.
    runs = [run(f"r{i}", ("mood", "health", "sync")[i % 3], START + i * 3600.0,
                took=7200.0 if i % 5 == 0 else 2.0) for i in range(72)]
    store.write_batch(sorted(runs, key=lambda r: r.finished_at), START)
    by_start = sorted(runs, key=lambda r: r.started_at, reverse=True)
    assert [r["id"] for r in recent_task_runs(store.conn, limit=10)] == [
        r.execution_id for r in by_start[:10]
    ]
    assert [r["id"] for r in recent_task_runs(store.conn, "health", limit=5)] == [
        r.execution_id for r in by_start if r.task_id == "health"
    ][:5]
    cutoff = START + 30 * 3600.0 + 1.0  # r30 started before it but finishes after: it stays
    store.write_batch([TaskRunRetention(cutoff=cutoff)], START)
    kept = {r["id"] for r in recent_task_runs(store.conn, limit=1000)}
    assert kept == {r.execution_id for r in runs if r.finished_at >= cutoff}
    assert "r30" in kept and "r29" not in kept
    store.close()
