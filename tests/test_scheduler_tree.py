"""The scheduler in the garden's tree: owners from `garden.mailboxes`, `task_runs` in SQLite."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.health import StatusRequest
from actors.scheduler import resolve_owner
from actors.tree import build_garden, run_garden
from greenhouse.config import ConfigError, IntegrationSettings, settings_from_mapping
from greenhouse.messages import SchedulerStats, SchedulerStatsRequest, TaskRun, TaskRunRetention
from greenhouse.runtime import Clock, ask
from greenhouse.scheduling import default_tasks
from greenhouse.store import Store
from greenhouse.task_runs import recent_task_runs, register_task_run_writers

START = datetime(2026, 11, 26, tzinfo=UTC).timestamp()
DAY = 86400.0


def old_run(execution_id: str, days_ago: float) -> TaskRun:
    finished = START - days_ago * DAY
    return TaskRun(execution_id=execution_id, task_id="health_checks", trigger="schedule",
                   status="succeeded", started_at=finished - 1, finished_at=finished,
                   duration=1.0)


async def test_the_tree_schedules_present_owners_and_records_runs(
    autojump_clock: Any, tmp_path: Path
) -> None:
    settings = IntegrationSettings()
    store = Store(tmp_path / "garden.db")
    register_task_run_writers(store)
    # Rows from earlier runs: one past the 14-day retention, one inside it.
    store.write_batch([old_run("ancient", 30), old_run("recent", 2)], START)
    garden = build_garden(settings, clock=Clock(START), store=store)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        await trio.sleep(11 * 60)
        stats = await ask(garden.mailbox("scheduler"), SchedulerStatsRequest())
        status = await ask(garden.mailbox("health"), StatusRequest())
        nursery.cancel_scope.cancel()

    # The heartbeat is the health_checks runs: it shows the scheduler and the health actor turn.
    assert (status["heartbeat"], status["heartbeat_at"]) == (3, START + 600)
    assert isinstance(stats, SchedulerStats)
    present = {t.task_id for t in default_tasks(settings)
               if resolve_owner(t.owner, garden.mailboxes) is not None}
    assert "health_checks" in present
    assert {t.task_id for t in stats.tasks} == present  # absent owners are skipped
    health = next(t for t in stats.tasks if t.task_id == "health_checks")
    assert (health.runs, health.successes) == (3, 3)  # at 0, 300 and 600 s

    conn = sqlite3.connect(tmp_path / "garden.db")
    rows = recent_task_runs(conn, "health_checks")
    conn.close()
    ids = {row["id"] for row in rows}
    assert "ancient" not in ids and "recent" in ids  # retention ran at start
    fresh = sorted((r for r in rows if r["id"] != "recent"), key=lambda r: r["started_at"])
    assert [r["started_at"] - START for r in fresh] == [0, 300, 600]
    assert all(r["status"] == "succeeded" and r["trigger"] == "schedule" for r in fresh)


def test_retention_deletes_only_old_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / "garden.db")
    register_task_run_writers(store)
    store.write_batch([old_run("a", 20), old_run("b", 15), old_run("c", 1)], START)
    store.write_batch([TaskRunRetention(cutoff=START - 14 * DAY)], START)
    rows = recent_task_runs(store.conn)
    store.close()
    assert [r["id"] for r in rows] == ["c"]


def test_an_unknown_timezone_stops_start_up_with_one_line(tmp_path: Path) -> None:
    settings = settings_from_mapping({"GREENHOUSE_TIMEZONE": "Mars/Olympus_Mons"})
    with pytest.raises(ConfigError, match="GREENHOUSE_TIMEZONE: unknown time zone"):
        build_garden(settings, db_path=str(tmp_path / "garden.db"))


def test_the_scheduler_can_be_left_out_for_tests_that_drive_tasks(tmp_path: Path) -> None:
    garden = build_garden(IntegrationSettings(), db_path=str(tmp_path / "garden.db"),
                          extras={"scheduler": False})
    assert "scheduler" not in {s.name for s in garden.root.specs}
    assert "scheduler" not in garden.mailboxes
    garden.store.close()
