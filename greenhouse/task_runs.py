"""The `task_runs` table: one row per scheduler execution, with retention.

Rows are written by the persistence actor (table writers registered by the scheduler's tree
adder), never by the scheduler itself. Times are epoch seconds (REAL), so retention is one
range of the table's key (started_at, id), where new rows land on the last pages;
`datetime(started_at, 'unixepoch')` shows them readably in any SQLite tool.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import sqlite_utils

from .messages import TaskRun, TaskRunRetention
from .store import Migration, Store

__all__ = [
    "TASK_RUNS_MIGRATIONS",
    "prune_task_runs",
    "recent_task_runs",
    "register_task_run_writers",
    "write_task_runs",
]


# The columns after `id`, in their order (the first table and its rebuild keyed by start).
_RUN_COLUMNS = """
    task TEXT NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    duration REAL NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT"""


def _create_task_runs(db: sqlite_utils.Database) -> None:
    db.execute(f"CREATE TABLE IF NOT EXISTS task_runs (id TEXT PRIMARY KEY,{_RUN_COLUMNS})")
    db.execute("CREATE INDEX IF NOT EXISTS task_runs_task ON task_runs(task, started_at)")
    db.execute("CREATE INDEX IF NOT EXISTS task_runs_finished ON task_runs(finished_at)")


def _started_index(db: sqlite_utils.Database) -> None:
    # Every commit of history rows touched a leaf page of `task_runs_task` per task in the batch
    # (rows cluster by task, each task's newest at the end of its own run) and one of
    # `task_runs_finished`: about a third of all WAL pages the garden wrote. One index on
    # `started_at` takes new rows on its last page and serves `recent_task_runs` (newest
    # first, walked backwards; for one task it reads back until it has `limit` of that task's
    # runs: a few days of all runs for a daily task, which only the API and tests ask) and
    # retention's range.
    db.execute("DROP INDEX IF EXISTS task_runs_task")
    db.execute("DROP INDEX IF EXISTS task_runs_finished")
    db.execute("CREATE INDEX IF NOT EXISTS task_runs_started ON task_runs(started_at)")


_NAMES = ("id", "task", "trigger", "status", "started_at", "finished_at", "duration", "attempts",
          "error")
_COLUMNS = ", ".join(_NAMES)


def _keyed_by_start(db: sqlite_utils.Database) -> None:
    # The random text key `id` put every new row on a random page of its own index: with the
    # `started_at` index, two of the three pages each row dirtied, and after that change still
    # a quarter of all the garden's WAL pages. Keyed by (started_at, id) WITHOUT ROWID the
    # table is the only b-tree and new rows land on its last pages. A run written again (same
    # start, same id) still replaces itself; the columns and their order are unchanged.
    db.execute(
        f"CREATE TABLE task_runs_by_start (id TEXT NOT NULL,{_RUN_COLUMNS},"
        " PRIMARY KEY (started_at, id)) WITHOUT ROWID"
    )
    db.execute(
        f"INSERT OR REPLACE INTO task_runs_by_start({_COLUMNS}) SELECT {_COLUMNS} FROM task_runs"
    )
    db.execute("DROP TABLE task_runs")
    db.execute("ALTER TABLE task_runs_by_start RENAME TO task_runs")


TASK_RUNS_MIGRATIONS: list[Migration] = [
    Migration("scheduler_0001_task_runs", _create_task_runs),
    Migration("scheduler_0002_task_runs_started", _started_index),
    Migration("scheduler_0003_task_runs_by_start", _keyed_by_start),
]


def write_task_runs(db: sqlite_utils.Database, runs: Sequence[TaskRun]) -> None:
    """Table writer for `TaskRun` (runs inside persistence's batch transaction)."""
    db.conn.executemany(
        f"INSERT OR REPLACE INTO task_runs({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (r.execution_id, r.task_id, r.trigger, r.status, r.started_at, r.finished_at,
             r.duration, r.attempts, r.error)
            for r in runs
        ],
    )


def prune_task_runs(db: sqlite_utils.Database, requests: Sequence[TaskRunRetention]) -> None:
    """Table writer for `TaskRunRetention`: delete rows that finished before the cutoff."""
    cutoff = max(r.cutoff for r in requests)
    # A run finishes after it starts, so `started_at < cutoff` drops no row the finish time
    # keeps; it lets SQLite walk the table's key (started_at first) instead of every row.
    db.conn.execute(
        "DELETE FROM task_runs WHERE started_at < ? AND finished_at < ?", (cutoff, cutoff)
    )


def register_task_run_writers(store: Store) -> None:
    """Route `TaskRun` and `TaskRunRetention` in persistence batches to this table."""
    store.register_writer(TaskRun, write_task_runs)
    store.register_writer(TaskRunRetention, prune_task_runs)


def recent_task_runs(
    conn: sqlite3.Connection, task_id: str | None = None, limit: int = 100
) -> list[dict[str, object]]:
    """The newest runs (optionally of one task), newest first, from a reader connection."""
    query = f"SELECT {_COLUMNS} FROM task_runs"
    params: list[object] = []
    if task_id is not None:
        query += " WHERE task = ?"
        params.append(task_id)
    query += " ORDER BY started_at DESC LIMIT ?"
    params.append(limit)
    return [dict(zip(_NAMES, row, strict=True)) for row in conn.execute(query, params)]
