"""Productivity metrics from WakaTime summaries and durations (greenhouse/productivity.py)."""

from __future__ import annotations

from pathlib import Path

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.models import CodingDay, WakaDuration, WakaDurations, WakaSummaries
from greenhouse.productivity import (
    ACTIVE_DAY_SECONDS,
    coding_days,
    focus_sessions,
    hourly_seconds,
    productivity_metrics,
    project_times,
    streaks,
)

FIXTURES = Path(__file__).parent / "fixtures" / "wakatime"


def load_summaries() -> WakaSummaries:
    return msgspec.json.decode(
        (FIXTURES / "summaries.3days.derived.json").read_bytes(), type=WakaSummaries
    )


def load_durations() -> WakaDurations:
    return msgspec.json.decode(
        (FIXTURES / "durations.2023-01-29.docs-shape.json").read_bytes(), type=WakaDurations
    )


def test_coding_days_from_real_summary_shape() -> None:
    days = coding_days(load_summaries().data)
    assert [d.date for d in days] == ["2023-01-27", "2023-01-28", "2023-01-29"]
    assert days[2].total_seconds == 8256.598234
    assert days[2].projects == {"wakatime-cli": 7424.621273, "Terminal": 182.934009}
    assert days[1].projects == {}
    assert days[2].languages["Go"] == 7009.317188


def test_project_times_rank_and_share() -> None:
    times = project_times(coding_days(load_summaries().data))
    assert [p.name for p in times] == ["wakatime-cli", "Terminal"]
    assert times[0].seconds == round(7424.621273 * 1.5, 3)
    assert abs(sum(p.percent for p in times) - 100.0) < 0.05


def test_focus_sessions_join_short_breaks_only() -> None:
    sessions = focus_sessions(load_durations().data)
    # 13:00-13:20, 13:22-13:37, 13:40-14:05 join (gaps of 2 and 3 min); 18:00 is 3 min, too
    # short; 22:00 is 30 min alone: a session of its own.
    assert len(sessions) == 2
    assert sessions[0].seconds == 1200.0 + 900.0 + 1500.5
    assert sessions[0].project == "wakatime-cli"
    assert sessions[1].seconds == 1800.0


def test_hourly_seconds_split_across_hour_boundary() -> None:
    # 13:40 + 1500.5 s runs to 14:05:00.5: 20 min in hour 13, 5 min in hour 14.
    hours = hourly_seconds(load_durations().data)
    assert abs(hours[13] - (1200 + 900 + 1200)) < 1e-6
    assert abs(hours[14] - 300.5) < 1e-6
    assert hours[22] == 1800.0
    local = hourly_seconds(load_durations().data, "America/Sao_Paulo")  # UTC-3 in 2023
    assert abs(local[10] - hours[13]) < 1e-6


def test_streaks_current_and_longest() -> None:
    def day(label: str, seconds: float) -> CodingDay:
        return CodingDay(date=label, total_seconds=seconds)

    days = [
        day("2024-01-01", 3600), day("2024-01-02", 3600), day("2024-01-03", 3600),
        day("2024-01-04", 60),  # too little to count
        day("2024-01-05", 3600), day("2024-01-06", 3600),
        day("2024-01-07", 0),  # today, not coded yet: the streak is not broken
    ]
    assert streaks(days) == (2, 3)
    assert streaks(days[:4]) == (3, 3)  # today (the 4th) barely coded; yesterday still counts
    assert streaks([*days[:3], day("2024-01-05", 0)]) == (0, 3)  # two days off: broken
    assert streaks([]) == (0, 0)


def test_metrics_from_fixtures() -> None:
    metrics = productivity_metrics(
        coding_days(load_summaries().data), load_durations().data, timezone="UTC"
    )
    assert metrics.days == 3
    assert metrics.active_days == 2
    assert metrics.current_streak == 1  # 28th is a day off
    assert metrics.focus_sessions == 2
    assert metrics.most_productive_hours[0] == 13
    assert 0 < metrics.intensity < 1
    assert metrics.top_projects[0].name == "wakatime-cli"


def test_metrics_empty_state() -> None:
    metrics = productivity_metrics([])
    assert metrics.total_seconds == 0 and metrics.daily_average_seconds == 0
    assert metrics.most_productive_hours == () and metrics.intensity == 0.0


durations_st = st.lists(
    st.builds(
        WakaDuration,
        time=st.floats(1.6e9, 1.6e9 + 5 * 86400, allow_nan=False),
        duration=st.floats(0, 4 * 3600, allow_nan=False),
        project=st.sampled_from(["a", "b", "c"]),
    ),
    max_size=30,
)


@given(durations_st)
def test_hourly_buckets_conserve_time(durations: list[WakaDuration]) -> None:
    buckets = hourly_seconds(durations)
    assert len(buckets) == 24 and min(buckets) >= 0
    assert abs(sum(buckets) - sum(d.duration for d in durations)) < 1e-3


@given(durations_st)
def test_focus_sessions_are_disjoint_long_enough_and_bounded(durations: list[WakaDuration]) -> None:
    sessions = focus_sessions(durations)
    for s in sessions:
        assert s.seconds >= 25 * 60
        assert s.end >= s.start
    for a, b in zip(sessions, sessions[1:], strict=False):
        assert b.start > a.end
    assert sum(s.seconds for s in sessions) <= sum(d.duration for d in durations) + 1e-6


@given(st.lists(st.floats(0, 12 * 3600, allow_nan=False), min_size=1, max_size=40))
def test_streak_and_intensity_invariants(totals: list[float]) -> None:
    days = [
        CodingDay(date=f"2024-{1 + i // 28:02d}-{1 + i % 28:02d}", total_seconds=t)
        for i, t in enumerate(totals)
    ]
    metrics = productivity_metrics(days)
    assert 0 <= metrics.current_streak <= metrics.longest_streak <= metrics.active_days
    assert metrics.active_days == sum(1 for t in totals if t >= ACTIVE_DAY_SECONDS)
    assert 0.0 <= metrics.intensity <= 1.0


def test_languages_and_today() -> None:
    metrics = productivity_metrics(coding_days(load_summaries().data))
    assert metrics.top_languages[0].name == "Go"
    assert metrics.today_seconds == 8256.598
