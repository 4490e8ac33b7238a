"""The scheduler's pure parts: task definitions, schedules, next-run times, retries, ordering.

Nothing here touches trio or the clock: every function takes `now` (epoch seconds from the
runtime clock) so it can be tested directly and under hypothesis. `actors/scheduler.py` is the
thin loop around it.

Time rules (a Raspberry Pi sleeps, boots with a wrong clock, and then jumps when NTP syncs):

* Due times are wall-clock epoch seconds (`Clock.time()`), because cron times are wall times
  and a user expects "every 30 min" to mean real minutes after a suspend too.
* Missed occurrences are coalesced: however many periods passed (a long sleep, a forward clock
  jump), the task runs once and the next run keeps its phase (`advance_interval`, `advance_cron`).
* Durations are measured on the monotonic clock, so a jump never makes a run look hours long.
"""

from __future__ import annotations

import enum
import graphlib
import math
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

if TYPE_CHECKING:
    from .config import IntegrationSettings
    from .runtime import Mailbox

__all__ = [
    "CronSchedule",
    "DefaultTask",
    "IntervalSchedule",
    "PendingRun",
    "Schedule",
    "TaskDefinition",
    "TaskFunction",
    "TaskPriority",
    "advance_cron",
    "advance_interval",
    "cron_next",
    "default_tasks",
    "dependency_cycle",
    "dispatch_order",
    "jitter_offset",
    "load_timezone",
    "retry_delay",
]

# A plain async function target: returns None (ok), or a `TaskFinished`, or raises (failed).
TaskFunction = Callable[[], Awaitable[Any]]


class TaskPriority(enum.IntEnum):
    """When several tasks are due, lower values start first."""

    CRITICAL = 0
    HIGH = 1
    NORMAL = 2
    LOW = 3


@dataclass(frozen=True)
class TaskDefinition:
    """What to run and how: the target, its priority, timeout, retries, dependencies, jitter.

    `target` is either the owner's `Mailbox` (the scheduler `ask`s it `RunTask`) or a plain async
    function. `retry_backoff` is the first retry's delay in seconds; each further retry doubles it.
    `jitter` is the most a run may be delayed past its due time, to spread tasks that share an
    interval (it is capped at half the interval so runs never swap order).
    """

    task_id: str
    target: Mailbox | TaskFunction
    priority: TaskPriority = TaskPriority.NORMAL
    timeout: float = 300.0
    max_retries: int = 0
    retry_backoff: float = 30.0
    dependencies: tuple[str, ...] = ()
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not self.task_id:
            raise ValueError("task_id must not be empty")
        if not self.timeout > 0:
            raise ValueError(f"{self.task_id}: timeout must be positive, got {self.timeout}")
        if self.max_retries < 0:
            raise ValueError(f"{self.task_id}: max_retries must be >= 0, got {self.max_retries}")
        if self.retry_backoff < 0 or self.jitter < 0:
            raise ValueError(f"{self.task_id}: retry_backoff and jitter must be >= 0")
        if self.task_id in self.dependencies:
            raise ValueError(f"{self.task_id}: a task cannot depend on itself")
        object.__setattr__(self, "priority", TaskPriority(self.priority))
        object.__setattr__(self, "dependencies", tuple(self.dependencies))


# --------------------------------------------------------------------------------------------
# Schedules.


def load_timezone(name: str) -> ZoneInfo:
    """The IANA zone `name` (e.g. `Europe/Berlin`), or a one-line `ValueError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"GREENHOUSE_TIMEZONE: unknown time zone {name!r} (use an IANA name such as "
            "'Europe/Berlin' or 'UTC')"
        ) from None


def cron_next(expression: str, after: float, zone: ZoneInfo) -> float:
    """The first fire time of `expression` strictly after `after`, read as wall time in `zone`.

    On the autumn DST change a local time such as 02:30 happens twice; croniter returns both,
    but a daily job should run once, so a fire time whose local wall time is not later than
    `after`'s is skipped.
    """
    start = datetime.fromtimestamp(after, tz=zone)
    it = croniter(expression, start)
    previous_local = start.replace(tzinfo=None, microsecond=0)
    candidate = after
    for _ in range(4):
        candidate = float(it.get_next(float))
        local = datetime.fromtimestamp(candidate, tz=zone).replace(tzinfo=None)
        # Local wall time only goes backwards inside the repeated autumn hour.
        if local > previous_local:
            return candidate
    return candidate


@dataclass(frozen=True)
class IntervalSchedule:
    """Every `seconds` seconds, the first run as soon as the task is scheduled."""

    seconds: float

    def __post_init__(self) -> None:
        if not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ValueError(f"interval must be a positive number of seconds, got {self.seconds}")

    def first(self, now: float) -> float:
        """The first due time (now: a freshly started garden syncs at once)."""
        return now

    def advance(self, due: float, now: float) -> tuple[float, int]:
        """Next due time after running the occurrence `due` at `now`, and how many were skipped."""
        return advance_interval(due, now, self.seconds)

    @property
    def period(self) -> float:
        """Typical seconds between runs (for jitter caps and starvation bounds)."""
        return self.seconds

    def describe(self) -> str:
        return f"every {self.seconds:g}s"


@dataclass(frozen=True)
class CronSchedule:
    """A five-field cron expression evaluated in a time zone (croniter does the parsing)."""

    expression: str
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def __post_init__(self) -> None:
        if not croniter.is_valid(self.expression):
            raise ValueError(f"invalid cron expression {self.expression!r}")

    def first(self, now: float) -> float:
        # Cron tasks wait for their time: cache maintenance at 02:00 should not run at boot.
        return cron_next(self.expression, now, self.zone)

    def advance(self, due: float, now: float) -> tuple[float, int]:
        return advance_cron(self.expression, self.zone, due, now)

    @property
    def period(self) -> float:
        first = cron_next(self.expression, 0.0, self.zone)
        return cron_next(self.expression, first, self.zone) - first

    def describe(self) -> str:
        return f"cron {self.expression!r} ({self.zone.key})"


Schedule = IntervalSchedule | CronSchedule


def advance_interval(due: float, now: float, interval: float) -> tuple[float, int]:
    """Coalesce: the first occurrence `due + n*interval` after `now` (n >= 1), and n - 1 skipped.

    Keeping the phase (instead of `now + interval`) means a late run does not drift the schedule,
    and a six-hour jump costs one run, not 120.
    """
    following = due + interval
    if now < following:
        return following, 0  # on time (the usual case): no division
    steps = math.floor((now - due) / interval) + 1
    while due + steps * interval <= now:  # float rounding in the division
        steps += 1
    return due + steps * interval, steps - 1


def advance_cron(
    expression: str, zone: ZoneInfo, due: float, now: float, limit: int = 1000
) -> tuple[float, int]:
    """Coalesce for cron: the first fire time after `now`, and how many fire times were skipped.

    Counting stops at `limit` (a minutely cron after a year-long jump would otherwise loop).
    """
    skipped = 0
    following = cron_next(expression, due, zone)
    while following <= now and skipped < limit:
        skipped += 1
        following = cron_next(expression, following, zone)
    if following <= now:
        following = cron_next(expression, now, zone)
    return following, skipped


def jitter_offset(rng: random.Random, jitter: float, period: float) -> float:
    """A delay in [0, jitter) for one occurrence, capped at half the period."""
    bound = min(jitter, period / 2)
    return rng.uniform(0.0, bound) if bound > 0 else 0.0


def retry_delay(attempt: int, base: float, cap: float = 3600.0) -> float:
    """Delay before retry number `attempt` (1-based): base, 2*base, 4*base ... at most `cap`."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    return min(cap, base * 2 ** (attempt - 1))


# --------------------------------------------------------------------------------------------
# Dependencies and dispatch order.


def dependency_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A dependency cycle (as a list of task ids, first == last) or None (graphlib finds it)."""
    sorter = graphlib.TopologicalSorter({task: tuple(deps) for task, deps in graph.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


@dataclass
class PendingRun:
    """A run that is due (or asked for) and waits for a free slot or its dependencies."""

    task_id: str
    execution_id: str
    priority: TaskPriority
    due: float  # monotonic seconds when it became due
    trigger: str = "schedule"  # schedule or manual
    held: bool = False  # seen waiting for an owner's retry_after


def dispatch_order(
    pending: Sequence[PendingRun], now: float, aging: float = 60.0
) -> list[PendingRun]:
    """Start order: priority first, then longest waiting, then task id.

    A run gains one priority level per `aging` seconds of waiting, so a low-priority task is
    late under load but never starved.
    """

    def key(run: PendingRun) -> tuple[float, float, str]:
        waited = max(0.0, now - run.due)
        boost = math.floor(waited / aging) if aging > 0 else 0
        return (int(run.priority) - boost, run.due, run.task_id)

    return sorted(pending, key=key)


# --------------------------------------------------------------------------------------------
# The built-in schedule.

GITHUB_EVENTS_INTERVAL = 60.0  # GitHub's default X-Poll-Interval for the events feed


@dataclass(frozen=True)
class DefaultTask:
    """One built-in task: its id, the mailbox name of its owner, and how to run it."""

    task_id: str
    owner: str
    schedule: Schedule
    priority: TaskPriority = TaskPriority.NORMAL
    timeout: float = 120.0
    max_retries: int = 1
    retry_backoff: float = 30.0
    dependencies: tuple[str, ...] = ()
    jitter: float = 0.0

    def definition(self, target: Mailbox | TaskFunction) -> TaskDefinition:
        """The `TaskDefinition` for this task with its target resolved."""
        return TaskDefinition(
            self.task_id,
            target,
            priority=self.priority,
            timeout=self.timeout,
            max_retries=self.max_retries,
            retry_backoff=self.retry_backoff,
            dependencies=self.dependencies,
            jitter=self.jitter,
        )


def default_tasks(settings: IntegrationSettings) -> list[DefaultTask]:
    """The original system's schedule, every interval taken from settings.

    Owners are the mailbox names the tree uses (`garden.mailboxes`). Pollers that share an
    interval get jitter so they do not all hit the network in the same second.
    """
    s = settings.scheduler
    zone = load_timezone(s.timezone)
    P = TaskPriority
    return [
        DefaultTask("health_checks", "health", IntervalSchedule(s.health_checks),
                    P.CRITICAL, timeout=30.0, max_retries=0),
        DefaultTask("spotify_sync", "spotify", IntervalSchedule(settings.spotify.poll_interval),
                    P.HIGH, timeout=20.0, max_retries=1, retry_backoff=5.0, jitter=3.0),
        DefaultTask("mood_synthesis", "mood", IntervalSchedule(s.mood_synthesis),
                    P.HIGH, timeout=60.0, max_retries=1, retry_backoff=10.0, jitter=5.0),
        DefaultTask("github_sync", "github", IntervalSchedule(settings.github.sync_interval),
                    P.HIGH, timeout=120.0, max_retries=2, retry_backoff=30.0, jitter=60.0),
        # Every 60 s at most (GitHub's usual X-Poll-Interval); the owner's retry_after holds
        # it to whatever interval GitHub's feed actually asks for.
        DefaultTask("github_events", "github_events", IntervalSchedule(GITHUB_EVENTS_INTERVAL),
                    P.NORMAL, timeout=60.0, max_retries=0),
        DefaultTask("wakatime_sync", "wakatime", IntervalSchedule(settings.wakatime.poll_interval),
                    P.NORMAL, timeout=120.0, max_retries=2, retry_backoff=30.0, jitter=60.0),
        DefaultTask("weather_sync", "weather", IntervalSchedule(settings.weather.poll_interval),
                    P.NORMAL, timeout=60.0, max_retries=2, retry_backoff=30.0, jitter=30.0),
        DefaultTask("social_sync", "social", IntervalSchedule(settings.social.poll_interval),
                    P.LOW, timeout=120.0, max_retries=1, retry_backoff=60.0, jitter=60.0),
        DefaultTask("growth_calculation", "growth", IntervalSchedule(s.growth_calculation),
                    P.NORMAL, timeout=120.0, max_retries=1,
                    dependencies=("github_sync", "wakatime_sync"), jitter=60.0),
        DefaultTask("analytics_processing", "analytics", IntervalSchedule(s.analytics_processing),
                    P.LOW, timeout=300.0, max_retries=1, jitter=60.0),
        DefaultTask("cache_maintenance", "cache", CronSchedule(s.cache_maintenance_cron, zone),
                    P.LOW, timeout=600.0, max_retries=1, retry_backoff=300.0),
        DefaultTask("data_cleanup", "privacy", CronSchedule(s.data_cleanup_cron, zone),
                    P.LOW, timeout=900.0, max_retries=1, retry_backoff=300.0),
    ]
