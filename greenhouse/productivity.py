"""Productivity metrics from WakaTime data: pure functions, no I/O.

Daily summaries give per-day and per-project totals; durations (stretches of coding with start
times) give focus sessions and the hours of the day that are most productive. Definitions:

* active day: at least `ACTIVE_DAY_SECONDS` of coding (a minute of editing a config file does not
  keep a streak alive);
* focus session: durations joined while the gaps between them are at most `FOCUS_MAX_GAP`,
  counting only when the coded time inside reaches `FOCUS_MIN_SECONDS` (a Pomodoro);
* current streak: consecutive active days ending today, or yesterday when today has no coding
  yet (the day is not over);
* intensity: today's coding against a `BUSY_DAY_SECONDS` day, clipped to [0, 1].
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from greenhouse.models import (
    CodingDay,
    FocusSession,
    ProductivityMetrics,
    ProjectTime,
    WakaDaySummary,
    WakaDuration,
)

__all__ = [
    "ACTIVE_DAY_SECONDS",
    "BUSY_DAY_SECONDS",
    "FOCUS_MAX_GAP",
    "FOCUS_MIN_SECONDS",
    "coding_days",
    "focus_sessions",
    "hourly_seconds",
    "productivity_metrics",
    "project_times",
    "streaks",
]

ACTIVE_DAY_SECONDS = 15 * 60.0
FOCUS_MAX_GAP = 10 * 60.0
FOCUS_MIN_SECONDS = 25 * 60.0
BUSY_DAY_SECONDS = 4 * 3600.0


def coding_days(summaries: Iterable[WakaDaySummary]) -> list[CodingDay]:
    """One `CodingDay` per summary day, in date order."""
    days = []
    for day in summaries:
        label = day.range.date or day.range.start[:10]
        days.append(
            CodingDay(
                date=label,
                total_seconds=max(0.0, day.grand_total.total_seconds),
                projects={p.name: p.total_seconds for p in day.projects},
                languages={lang.name: lang.total_seconds for lang in day.languages},
            )
        )
    days.sort(key=lambda d: d.date)
    return days


def project_times(days: Iterable[CodingDay], *, by: str = "projects") -> tuple[ProjectTime, ...]:
    """Seconds and share per project (or per language, `by="languages"`), largest first."""
    totals: dict[str, float] = defaultdict(float)
    for day in days:
        for name, seconds in getattr(day, by).items():
            totals[name] += seconds
    grand = sum(totals.values())
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return tuple(
        ProjectTime(
            name=name,
            seconds=round(seconds, 3),
            percent=round(100.0 * seconds / grand, 2) if grand else 0.0,
        )
        for name, seconds in ranked
    )


def focus_sessions(
    durations: Iterable[WakaDuration],
    *,
    max_gap: float = FOCUS_MAX_GAP,
    min_seconds: float = FOCUS_MIN_SECONDS,
) -> list[FocusSession]:
    """Join durations separated by short breaks; keep the joined runs long enough to count."""
    ordered = sorted((d for d in durations if d.duration > 0), key=lambda d: d.time)
    sessions: list[FocusSession] = []
    run: list[WakaDuration] = []

    def close() -> None:
        if not run:
            return
        coded = sum(d.duration for d in run)
        if coded >= min_seconds:
            by_project: dict[str, float] = defaultdict(float)
            for d in run:
                by_project[d.project] += d.duration
            main = max(by_project.items(), key=lambda item: item[1])[0]
            end = max(d.time + d.duration for d in run)
            sessions.append(FocusSession(start=run[0].time, end=end, seconds=coded, project=main))

    for item in ordered:
        if run and item.time - max(d.time + d.duration for d in run) > max_gap:
            close()
            run = []
        run.append(item)
    close()
    return sessions


def _zone(name: str | None) -> tzinfo:
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def hourly_seconds(durations: Iterable[WakaDuration], timezone: str | None = None) -> list[float]:
    """Coding seconds per hour of the day (24 buckets, local to `timezone`, else UTC)."""
    zone = _zone(timezone)
    buckets = [0.0] * 24
    for item in durations:
        start, remaining = item.time, max(0.0, item.duration)
        while remaining > 0:
            moment = datetime.fromtimestamp(start, tz=zone)
            to_next_hour = 3600.0 - (moment.minute * 60 + moment.second + moment.microsecond / 1e6)
            chunk = min(remaining, to_next_hour)
            buckets[moment.hour] += chunk
            start += chunk
            remaining -= chunk
    return buckets


def streaks(days: Sequence[CodingDay], today: date | None = None) -> tuple[int, int]:
    """(current, longest) runs of consecutive active days."""
    active = sorted(
        {date.fromisoformat(d.date) for d in days if d.total_seconds >= ACTIVE_DAY_SECONDS}
    )
    longest = run = 0
    previous: date | None = None
    for day in active:
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    if not active:
        return 0, 0
    last_day = today or date.fromisoformat(max(d.date for d in days))
    if active[-1] not in (last_day, last_day - timedelta(days=1)):
        return 0, longest
    current, cursor = 0, active[-1]
    active_set = set(active)
    while cursor in active_set:
        current += 1
        cursor -= timedelta(days=1)
    return current, longest


def productivity_metrics(
    days: Sequence[CodingDay],
    durations: Iterable[WakaDuration] = (),
    *,
    timezone: str | None = None,
    top_hours: int = 3,
) -> ProductivityMetrics:
    """Daily average, focus sessions, streaks, most productive hours and today's intensity."""
    durations = list(durations)
    total = sum(d.total_seconds for d in days)
    current, longest = streaks(days)
    sessions = focus_sessions(durations)
    hours = hourly_seconds(durations, timezone)
    best = sorted((h for h in range(24) if hours[h] > 0), key=lambda h: (-hours[h], h))
    today = days[-1].total_seconds if days else 0.0
    return ProductivityMetrics(
        days=len(days),
        total_seconds=round(total, 3),
        daily_average_seconds=round(total / len(days), 3) if days else 0.0,
        active_days=sum(1 for d in days if d.total_seconds >= ACTIVE_DAY_SECONDS),
        current_streak=current,
        longest_streak=longest,
        focus_sessions=len(sessions),
        focus_seconds=round(sum(s.seconds for s in sessions), 3),
        hourly_seconds=tuple(round(h, 3) for h in hours),
        most_productive_hours=tuple(best[:top_hours]),
        intensity=round(min(1.0, today / BUSY_DAY_SECONDS), 4),
        top_projects=project_times(days)[:10],
        top_languages=project_times(days, by="languages")[:10],
        today_seconds=round(today, 3),
    )
