"""The scheduler's pure parts: next-run times, coalescing, cron in a zone, retries, ordering."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.config import settings_from_mapping
from greenhouse.scheduling import (
    CronSchedule,
    IntervalSchedule,
    PendingRun,
    TaskDefinition,
    TaskPriority,
    advance_cron,
    advance_interval,
    cron_next,
    default_tasks,
    dependency_cycle,
    dispatch_order,
    jitter_offset,
    load_timezone,
    retry_delay,
)

BERLIN = ZoneInfo("Europe/Berlin")


def epoch(*args: int, tz: ZoneInfo | None = None) -> float:
    return datetime(*args, tzinfo=tz or UTC).timestamp()


async def _noop() -> None:
    return None


def test_interval_on_time_moves_one_period() -> None:
    assert advance_interval(1000.0, 1000.0, 180.0) == (1180.0, 0)
    assert advance_interval(1000.0, 1179.0, 180.0) == (1180.0, 0)


def test_interval_after_six_hour_jump_coalesces_and_keeps_phase() -> None:
    due = 1000.0
    now = due + 6 * 3600 + 50
    following, skipped = advance_interval(due, now, 180.0)
    assert following > now
    assert (following - due) % 180.0 == 0
    assert skipped == 120  # 121 occurrences were due; one runs, 120 are coalesced


@given(
    due=st.floats(0, 1e9, allow_nan=False),
    late=st.floats(0, 1e7, allow_nan=False),
    interval=st.floats(1, 1e5, allow_nan=False),
)
def test_interval_advance_invariants(due: float, late: float, interval: float) -> None:
    now = due + late
    following, skipped = advance_interval(due, now, interval)
    assert following > now
    assert following - now <= interval * (1 + 1e-9) + 1e-6
    steps = (following - due) / interval
    assert math.isclose(steps, skipped + 1, rel_tol=1e-6, abs_tol=1e-6)


def test_cron_two_oclock_in_berlin() -> None:
    # 2026-11-26 00:00 UTC is 01:00 in Berlin (CET, UTC+1): the next 02:00 is 01:00 UTC.
    start = epoch(2026, 11, 26)
    assert cron_next("0 2 * * *", start, BERLIN) == epoch(2026, 11, 26, 1)
    assert cron_next("0 2 * * *", start, ZoneInfo("UTC")) == epoch(2026, 11, 26, 2)
    # In summer Berlin is UTC+2.
    assert cron_next("0 2 * * *", epoch(2026, 6, 30, 12), BERLIN) == epoch(2026, 7, 1, 0)


def test_cron_runs_once_in_the_repeated_autumn_hour() -> None:
    # 2026-10-25: clocks go back from 03:00 CEST to 02:00 CET, so 02:30 happens twice.
    first = cron_next("30 2 * * *", epoch(2026, 10, 24, 12), BERLIN)
    assert first == epoch(2026, 10, 25, 2, 30, tz=BERLIN)
    second = cron_next("30 2 * * *", first, BERLIN)
    assert datetime.fromtimestamp(second, BERLIN).date().isoformat() == "2026-10-26"


def test_cron_in_the_skipped_spring_hour_still_runs_that_day() -> None:
    # 2026-03-29: 02:00-03:00 does not exist in Berlin; the daily job runs at 03:00 instead.
    fire = cron_next("30 2 * * *", epoch(2026, 3, 28, 12), BERLIN)
    assert datetime.fromtimestamp(fire, BERLIN).date().isoformat() == "2026-03-29"


def test_cron_coalesces_missed_days() -> None:
    due = epoch(2026, 11, 26, 2)
    now = due + 3 * 86400 + 60  # a Pi that slept three days
    following, skipped = advance_cron("0 2 * * *", ZoneInfo("UTC"), due, now)
    assert following == epoch(2026, 11, 30, 2)
    assert skipped == 3


def test_cron_schedule_rejects_bad_expression() -> None:
    with pytest.raises(ValueError, match="invalid cron expression"):
        CronSchedule("every day at two")


def test_cron_first_waits_for_its_time() -> None:
    schedule = CronSchedule("0 3 * * *", ZoneInfo("UTC"))
    assert schedule.first(epoch(2026, 11, 26, 4)) == epoch(2026, 11, 27, 3)
    assert schedule.period == 86400


def test_unknown_timezone_is_one_clear_line() -> None:
    with pytest.raises(ValueError, match="GREENHOUSE_TIMEZONE: unknown time zone 'Mars/Base'"):
        load_timezone("Mars/Base")


def test_retry_delay_doubles_up_to_cap() -> None:
    assert [retry_delay(n, 30.0) for n in (1, 2, 3, 4)] == [30.0, 60.0, 120.0, 240.0]
    assert retry_delay(20, 30.0, cap=600.0) == 600.0
    with pytest.raises(ValueError):
        retry_delay(0, 30.0)


def test_jitter_is_bounded_by_half_the_period() -> None:
    rng = random.Random(7)
    values = [jitter_offset(rng, 100.0, 60.0) for _ in range(500)]
    assert all(0.0 <= v <= 30.0 for v in values)
    assert max(values) > 25.0  # it does spread
    assert jitter_offset(rng, 0.0, 60.0) == 0.0


def test_dependency_cycle_found_and_absent() -> None:
    assert dependency_cycle({"growth": ["github"], "github": []}) is None
    cycle = dependency_cycle({"a": ["b"], "b": ["c"], "c": ["a"]})
    assert cycle is not None and set(cycle) == {"a", "b", "c"} and cycle[0] == cycle[-1]


def test_dispatch_order_priority_then_age() -> None:
    runs = [
        PendingRun("low", "1", TaskPriority.LOW, due=0.0),
        PendingRun("critical", "2", TaskPriority.CRITICAL, due=5.0),
        PendingRun("normal", "3", TaskPriority.NORMAL, due=1.0),
        PendingRun("high", "4", TaskPriority.HIGH, due=2.0),
    ]
    assert [r.task_id for r in dispatch_order(runs, now=5.0)] == [
        "critical", "high", "normal", "low"
    ]
    # After waiting three aging periods the low task has caught up with a fresh critical one
    # and wins on age: it is late under load but never starved.
    aged = [PendingRun("low", "1", TaskPriority.LOW, due=0.0),
            PendingRun("critical", "2", TaskPriority.CRITICAL, due=180.0)]
    assert [r.task_id for r in dispatch_order(aged, now=180.0, aging=60.0)] == [
        "low", "critical"
    ]


def test_task_definition_validates() -> None:
    with pytest.raises(ValueError, match="timeout"):
        TaskDefinition("x", _noop, timeout=0)
    with pytest.raises(ValueError, match="depend on itself"):
        TaskDefinition("x", _noop, dependencies=("x",))
    with pytest.raises(ValueError, match="max_retries"):
        TaskDefinition("x", _noop, max_retries=-1)
    assert TaskDefinition("x", _noop, priority=1).priority is TaskPriority.HIGH
    with pytest.raises(ValueError):
        IntervalSchedule(0)


def test_default_tasks_follow_settings() -> None:
    tasks = {t.task_id: t for t in default_tasks(settings_from_mapping({}))}
    intervals = {tid: t.schedule.seconds for tid, t in tasks.items()
                 if isinstance(t.schedule, IntervalSchedule)}
    assert intervals == {
        "mood_synthesis": 180.0, "health_checks": 300.0, "weather_sync": 900.0,
        "github_sync": 1800.0, "wakatime_sync": 1800.0, "growth_calculation": 3600.0,
        "analytics_processing": 3600.0, "spotify_sync": 30.0, "social_sync": 3600.0,
        "github_events": 60.0,  # at most; GitHub's X-Poll-Interval (retry_after) stretches it
    }
    assert tasks["cache_maintenance"].schedule == CronSchedule("0 2 * * *", ZoneInfo("UTC"))
    assert tasks["data_cleanup"].schedule == CronSchedule("0 3 * * *", ZoneInfo("UTC"))
    assert tasks["growth_calculation"].dependencies == ("github_sync", "wakatime_sync")

    custom = settings_from_mapping({
        "MOOD_SYNTHESIS_INTERVAL": "60", "GREENHOUSE_TIMEZONE": "Europe/Berlin",
        "CACHE_MAINTENANCE_CRON": "15 4 * * *", "GITHUB_SYNC_INTERVAL": "600",
    })
    tasks = {t.task_id: t for t in default_tasks(custom)}
    assert tasks["mood_synthesis"].schedule == IntervalSchedule(60.0)
    assert tasks["github_sync"].schedule == IntervalSchedule(600.0)
    assert tasks["cache_maintenance"].schedule == CronSchedule("15 4 * * *", BERLIN)
