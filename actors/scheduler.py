"""The scheduler actor: decides when every sync, synthesis and maintenance job runs.

It owns the task table and the next-run times. A task's target is either the mailbox of the
actor that owns the work, which is `ask`ed `RunTask(task_id, execution_id)` with the task's
timeout, or a plain async function.

Convention for owners (see `greenhouse.messages`, section "Scheduler"): handle `RunTask` and
return `TaskFinished(ok=...)` or None (None, like True, means the run went well; False means it
failed); raising means it failed. The owner does not retry or time out: the scheduler does. An
owner that sees a `RunTask` for another task id should return None (it is not its task).

Rules it keeps (the pure parts live in `greenhouse.scheduling`):

* No overlap: a run that falls due while the previous execution (including its retries) is in
  flight is skipped and counted in `skipped_overlaps`.
* Dependencies: a scheduled run waits until each dependency has succeeded since the dependent's
  previous run started (its "cycle"); dependencies that are not registered or not scheduled are
  ignored, so a garden without WakaTime still grows. Manual runs do not wait for dependencies.
* Coalescing: after a long sleep or a wall-clock jump, missed occurrences become one run.
* Timeouts cancel the run (for an actor target the scheduler stops waiting and the late answer is
  dropped); failures retry after `retry_backoff * 2**(n-1)` seconds, up to `max_retries`.
* Not before: an owner's `TaskFinished.retry_after` (a server's `Retry-After`, a rate limit's
  reset) holds the task: no retry and no scheduled or manual run starts before it (it waits,
  `waiting_for=("retry_after",)`, and is counted in `deferred`). A retry that would have to wait
  a whole period is dropped: the next scheduled run comes after the hold anyway. Holds are kept
  on the monotonic clock (a wall-clock jump neither shortens nor stretches them) in a dict the
  tree passes to every incarnation, so neither a restarted owner (whose new client forgot the
  server's answer) nor a restarted scheduler sends a request inside the window.
* At most `max_concurrent` executions at once; when more are due, higher priority starts first
  (with aging, so low priority is late under load but never starved). Jitter spreads tasks
  that share an interval.
* Wall time (`clock.time()`, which only `Clock.jump` moves) decides what is due; a jump wakes
  the loop at once (`Clock.on_jump`), so it sleeps until the next due task and no longer wakes
  every minute to look.

How it stays cheap (it runs ~1500 executions a day, on a Raspberry Pi too): next occurrences
are a heap, so a wake-up looks only at what is due. The loop wakes for an occurrence, a timeout,
a retry, the end of a hold on a queued run, or a poke (a jump, a new or manual task, a finished
run that a waiting run needs); a held task with a queued run "parks", and its occurrences inside
the hold, which could only be coalesced, are counted when the hold ends (or stats are read). An
attempt on an owner's mailbox is sent by the loop itself and the owner's answer is recorded
where it is given (`_RunReply`), so an execution costs the scheduler one task step (the wake-up
that starts it) and no task of its own; function targets (and a full owner mailbox) get an
attempt task.
  Every wait and timeout is in garden time (`clock.sleep`, `clock.to_trio`), so the demo's
  scaled clock runs the whole schedule faster, and durations are `clock.monotonic()` deltas.

Every finished execution is published as a `TaskRun` (persistence writes the `task_runs` table);
once a day it publishes `TaskRunRetention` to drop rows older than the retention period.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import trio

from greenhouse.config import IntegrationSettings
from greenhouse.messages import (
    ExecuteTaskNow,
    RunTask,
    SchedulerStats,
    SchedulerStatsRequest,
    TaskExecutionStatus,
    TaskFinished,
    TaskRun,
    TaskRunRetention,
    TaskStats,
    TaskStatusRequest,
)
from greenhouse.runtime import (
    Actor,
    AskError,
    AskRequest,
    AskTimeout,
    Bus,
    Clock,
    Mailbox,
    MailboxClosed,
    Reply,
    ask,
)
from greenhouse.scheduling import (
    CronSchedule,
    IntervalSchedule,
    PendingRun,
    Schedule,
    TaskDefinition,
    TaskFunction,
    default_tasks,
    dependency_cycle,
    dispatch_order,
    jitter_offset,
    load_timezone,
    retry_delay,
)

__all__ = ["SchedulerActor", "UnknownTask", "resolve_owner"]

log = logging.getLogger("greenhouse.scheduler")

DAY = 86400.0
# Float rounding between wall and monotonic time: "due at t" must not miss by a nanosecond.
_EPSILON = 1e-6
# A forward drift of wall against monotonic time beyond this is logged as a clock jump.
_JUMP_NOTICE = 60.0
# Mailbox names tried for an owner "x", so `github` finds a poller registered as `github_poller`.
_OWNER_SUFFIXES = ("", "_poller", ".poller", "_engine", ".engine", "_actor")


class UnknownTask(LookupError):
    """No task is registered under that id."""


def resolve_owner(owner: str, mailboxes: Mapping[str, Mailbox]) -> Mailbox | None:
    """The mailbox of `owner` in the tree (trying the usual suffixes), or None."""
    for suffix in _OWNER_SUFFIXES:
        box = mailboxes.get(owner + suffix)
        if box is not None:
            return box
    return None


@dataclass(slots=True)
class _Execution:
    """One execution's state, readable through `get_task_status`."""

    execution_id: str
    task_id: str
    trigger: str
    queued_at: float
    status: str = "queued"
    attempts: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    duration: float | None = None
    error: str | None = None
    waiting_for: tuple[str, ...] = ()
    held: bool = False  # counted once in `deferred` while a retry_after holds it

    def snapshot(self) -> TaskExecutionStatus:
        return TaskExecutionStatus(
            execution_id=self.execution_id,
            task_id=self.task_id,
            trigger=self.trigger,
            status=self.status,
            attempts=self.attempts,
            queued_at=self.queued_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            duration=self.duration,
            error=self.error,
            waiting_for=self.waiting_for,
        )


@dataclass
class _TaskState:
    """A registered task: its definition, schedule, what is in flight, and its counters."""

    definition: TaskDefinition
    schedule: Schedule | None = None
    due: float | None = None  # wall time of the next occurrence (before jitter)
    offset: float = 0.0  # jitter of that occurrence
    running: _Execution | None = None
    pending: PendingRun | None = None
    heap_seq: int = -1  # the sequence number of its live entry in the scheduler's heap (-1: none)
    cycle_start: float | None = None  # monotonic start of the previous execution
    last_success: float | None = None  # monotonic end of the last successful execution
    runs: int = 0
    successes: int = 0
    failures: int = 0
    timeouts: int = 0
    retries: int = 0
    skipped_overlaps: int = 0
    coalesced: int = 0
    deferred: int = 0
    last_run: float | None = None
    last_status: str | None = None
    attempts_timed: int = 0
    total_duration: float = 0.0
    max_duration: float = 0.0

    def note_duration(self, seconds: float) -> None:
        self.attempts_timed += 1
        self.total_duration += seconds
        self.max_duration = max(self.max_duration, seconds)


@dataclass(slots=True)
class _Run:
    """An execution in flight: its attempt, and what the loop waits for (answer or retry)."""

    state: _TaskState
    execution: _Execution
    definition: TaskDefinition  # as it was when the execution started, for all its attempts
    attempt: int = 0
    started: float = 0.0  # monotonic start of the current attempt
    ended: float = 0.0  # monotonic end of the last attempt
    duration: float = 0.0  # of the last attempt
    deadline: float | None = None  # monotonic timeout of an attempt sent by the loop
    retry_at: float | None = None  # monotonic time of the next attempt
    reply: _RunReply | None = None  # the answer slot of an attempt sent by the loop


class _RunReply(Reply):
    """The answer slot of a `RunTask` the loop sent: the owner's answer is recorded at once.

    Nobody waits on it (the loop's timer keeps the timeout), so it has no event to set.
    """

    __slots__ = ("_run", "_scheduler")

    def __init__(self, scheduler: SchedulerActor, run: _Run) -> None:  # no super(): no event
        self._scheduler, self._run = scheduler, run
        self._outcome = None
        self._gone = False

    def send_nowait(self, outcome: tuple[bool, Any]) -> None:
        if self._gone:
            raise trio.BrokenResourceError("the scheduler stopped waiting")
        if self._outcome is not None:
            raise trio.WouldBlock
        self._outcome = outcome

    def close(self) -> None:
        self._scheduler._answered(self._run, self, self._outcome)  # noqa: SLF001

    async def receive(self) -> tuple[bool, Any]:
        raise RuntimeError("the scheduler's answer slot is not awaited")


def _verdict(reply: Any) -> tuple[str, str | None, float | None]:
    """An owner's answer as (status, error, retry_after): None and True went well."""
    retry_after = reply.retry_after if isinstance(reply, TaskFinished) else None
    if isinstance(reply, TaskFinished) and not reply.ok:
        return "failed", reply.error or "the owner reported a failure", retry_after
    if reply is False:
        return "failed", "the owner reported a failure", None
    return "succeeded", None, retry_after


class SchedulerActor(Actor):
    """Runs registered tasks on intervals or cron, with the rules in the module docstring."""

    def __init__(
        self,
        inbox: Mailbox | None = None,
        bus: Bus | None = None,
        *,
        clock: Clock | None = None,
        timezone: str = "UTC",
        max_concurrent: int = 4,
        aging: float = 60.0,
        retention_days: float = 14.0,
        history_size: int = 1024,
        seed: int | None = None,
        not_before: dict[str, float] | None = None,
        name: str = "scheduler",
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.zone = load_timezone(timezone)
        self.max_concurrent = max_concurrent
        self.aging = aging
        self.retention_days = retention_days
        self.history_size = history_size
        # Without a seed, draw one from the global generator: `run.py simulate` seeds that, so
        # jitter and execution ids are reproducible there and random everywhere else.
        self._rng = random.Random(seed if seed is not None else random.getrandbits(64))
        self._tasks: dict[str, _TaskState] = {}
        # Next occurrences as a heap of (wall time, sequence, state); an entry is live while its
        # sequence is the state's `heap_seq` (a new schedule or a jump just pushes a new one).
        self._heap: list[tuple[float, int, _TaskState]] = []
        self._sequence = itertools.count()
        self._fresh: dict[str, _TaskState] = {}  # scheduled, first occurrence not computed yet
        self._pending: dict[str, _TaskState] = {}  # the tasks whose `pending` is set
        # Tasks that wait for a `retry_after` with a run already queued: every occurrence until
        # the hold ends would only be coalesced into that run, so none of them wakes the loop;
        # they are counted when the loop wakes anyway (at the latest when the hold ends).
        self._parked: dict[str, _TaskState] = {}
        self._history: OrderedDict[str, _Execution] = OrderedDict()
        self._running = 0
        self._inflight: dict[str, _Run] = {}  # task id -> its execution in flight
        self._unpublished: list[TaskRun] = []  # rows that did not fit the mailboxes at once
        self._nursery: trio.Nursery | None = None
        self._alarm = self.clock.alarm()  # the loop's wait: its next due time, or a poke
        self._sleeping = False
        self._sleep_target = math.inf  # the monotonic time the loop waits for
        self._last_wall: float | None = None
        self._last_mono: float | None = None
        self._last_prune: float | None = None
        # task id -> monotonic time before which it must not run (owners' `retry_after`). Passed
        # in by the tree so it outlives a restart of this actor.
        self._not_before = not_before if not_before is not None else {}

    # -- the public face -------------------------------------------------------------------------

    def register_task(self, definition: TaskDefinition) -> None:
        """Add (or replace) a task; refuses a definition that closes a dependency cycle."""
        graph = {tid: s.definition.dependencies for tid, s in self._tasks.items()}
        graph[definition.task_id] = definition.dependencies
        cycle = dependency_cycle(graph)
        if cycle is not None:
            raise ValueError(f"dependency cycle: {' -> '.join(cycle)}")
        previous = self._tasks.get(definition.task_id)
        if previous is not None:
            previous.definition = definition
        else:
            self._tasks[definition.task_id] = _TaskState(definition)
        self._poke()

    def schedule_task(
        self,
        task_id: str,
        *,
        interval_seconds: float | None = None,
        cron_expression: str | None = None,
    ) -> None:
        """Run a registered task every `interval_seconds`, or at `cron_expression` (local zone)."""
        if (interval_seconds is None) == (cron_expression is None):
            raise ValueError("give exactly one of interval_seconds and cron_expression")
        if interval_seconds is not None:
            schedule: Schedule = IntervalSchedule(float(interval_seconds))
        else:
            assert cron_expression is not None
            schedule = CronSchedule(cron_expression, self.zone)
        self.set_schedule(task_id, schedule)

    def set_schedule(self, task_id: str, schedule: Schedule | None) -> None:
        """Attach a schedule object (None: manual runs only); the next run is computed anew."""
        state = self._state(task_id)
        state.schedule = schedule
        state.due = None
        state.heap_seq = -1
        self._parked.pop(task_id, None)
        if schedule is not None:
            self._fresh[task_id] = state
        else:
            self._fresh.pop(task_id, None)
        self._poke()

    def execute_task_now(self, task_id: str) -> str:
        """Queue a run now; returns its execution id (a waiting run is reused, never doubled)."""
        state = self._state(task_id)
        if state.pending is not None:
            # Asking for a run that is already waiting folds into it and lifts the wait for
            # dependencies: the user wants it now.
            state.pending.trigger = "manual"
            execution_id = state.pending.execution_id
        else:
            execution_id = self._queue(state, "manual").execution_id
        self._poke()
        return execution_id

    def get_task_status(self, execution_id: str) -> TaskExecutionStatus | None:
        """Status of one of the last `history_size` executions, or None if unknown."""
        execution = self._history.get(execution_id)
        return execution.snapshot() if execution is not None else None

    def get_scheduler_stats(self) -> SchedulerStats:
        """Counters for every task and the scheduler as a whole."""
        if self._parked:
            # Occurrences of a parked task are counted lazily; count the ones due by now.
            now = self.clock.time()
            for state in self._parked.values():
                if self._is_due(state, now):
                    self._occur(state, now, self.clock.monotonic())
        return SchedulerStats(
            timezone=self.zone.key,
            max_concurrent=self.max_concurrent,
            running=self._running,
            pending=len(self._pending),
            tasks=tuple(self._task_stats(s) for s in self._tasks.values()),
        )

    def schedule_default_tasks(
        self,
        settings: IntegrationSettings,
        targets: Mapping[str, Mailbox | TaskFunction],
    ) -> list[str]:
        """Register and schedule the built-in tasks whose owner is in `targets`; returns them.

        `targets` maps owner names (mailbox names such as `github`, `mood`) to mailboxes or
        functions. Owners that are not there are skipped with a debug log: that part of the
        garden is not running.
        """
        registered = []
        for task in default_tasks(settings):
            target = targets.get(task.owner)
            if target is None:
                boxes = {k: v for k, v in targets.items() if isinstance(v, Mailbox)}
                target = resolve_owner(task.owner, boxes)
            if target is None:
                log.debug("no %s actor in the tree; %s not scheduled", task.owner, task.task_id)
                continue
            self.register_task(task.definition(target))
            self.set_schedule(task.task_id, task.schedule)
            registered.append(task.task_id)
        return registered

    @property
    def task_ids(self) -> list[str]:
        """Registered task ids, in registration order."""
        return list(self._tasks)

    # -- the actor -------------------------------------------------------------------------------

    async def handle(self, message: Any) -> Any:
        if isinstance(message, ExecuteTaskNow):
            return self.execute_task_now(message.task_id)
        if isinstance(message, TaskStatusRequest):
            return self.get_task_status(message.execution_id)
        if isinstance(message, SchedulerStatsRequest):
            return self.get_scheduler_stats()
        raise TypeError(f"scheduler does not handle {type(message).__name__}")

    async def dispatch(self, message: Any) -> None:
        if not isinstance(message, AskRequest) and not isinstance(
            message, ExecuteTaskNow | TaskStatusRequest | SchedulerStatsRequest
        ):
            # A stray message must not crash the actor (and lose its counters); asks still get
            # the TypeError back.
            log.warning("scheduler ignored a %s", type(message).__name__)
            return
        await super().dispatch(message)

    async def run(self) -> None:
        stop_listening = self.clock.on_jump(self._poke)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._loop)
                await super().run()
                nursery.cancel_scope.cancel()
        finally:
            stop_listening()
            self._nursery = None
            self._cancel_all()

    async def _loop(self) -> None:
        clock = self.clock
        while True:
            now = self._tick()
            if self._last_prune is None or not 0 <= now - self._last_prune < DAY:
                await self._prune(now)
            if self._unpublished and self.bus is not None:
                rows, self._unpublished = self._unpublished, []
                await self.bus.publish_many(rows)
            mono = clock.monotonic()
            delay = self._sleep_for(now, mono)
            self._sleep_target = mono + delay
            self._alarm.deadline = trio.current_time() + clock.to_trio(delay)
            self._sleeping = True
            try:
                await self._alarm.wait()
            finally:
                self._sleeping = False

    def _poke(self) -> None:
        self._alarm.ring()

    # -- one step: find what is due, start what may start ----------------------------------------

    def _tick(self) -> float:
        """Queue what is due and start what may start; returns the wall time it used."""
        now, mono = self.clock.time(), self.clock.monotonic()
        self._notice_jumps(now, mono)
        if self._fresh:
            for state in self._fresh.values():
                assert state.schedule is not None
                # The first occurrence is not jittered: a freshly started garden syncs at once.
                state.due, state.offset = state.schedule.first(now), 0.0
                self._push(state)
            self._fresh.clear()
        heap, limit = self._heap, now + _EPSILON
        while heap and heap[0][0] <= limit:
            _, sequence, state = heapq.heappop(heap)
            if sequence != state.heap_seq:
                continue  # superseded (a new schedule, a backward jump)
            state.heap_seq = -1
            self._occur(state, now, mono)
            self._arm(state, mono)
        if self._parked:
            for state in list(self._parked.values()):
                if not self._parks(state, mono):  # its hold ended: count what it slept through
                    del self._parked[state.definition.task_id]
                    if self._is_due(state, now):
                        self._occur(state, now, mono)
                    self._arm(state, mono)
        if self._inflight:
            self._expire(mono)
        self._dispatch(now, mono)
        return now

    @staticmethod
    def _is_due(state: _TaskState, now: float) -> bool:
        return state.due is not None and now + _EPSILON >= state.due + state.offset

    def _occur(self, state: _TaskState, now: float, mono: float) -> None:
        """The occurrence at `state.due` (and any missed since) falls due at `now`."""
        schedule = state.schedule
        assert schedule is not None and state.due is not None
        state.due, skipped = schedule.advance(state.due, now)
        if skipped:
            state.coalesced += skipped
            log.info("%s: %d missed runs coalesced into one", state.definition.task_id, skipped)
        state.offset = jitter_offset(self._rng, state.definition.jitter, schedule.period)
        self._fall_due(state, now, mono)

    def _parks(self, state: _TaskState, mono: float) -> bool:
        """Whether the task's occurrences can wait unseen: a queued run is held, none runs."""
        return (state.pending is not None and state.running is None
                and self._hold_left(state.definition.task_id, mono) > 0)

    def _arm(self, state: _TaskState, mono: float) -> None:
        """Put the task's next occurrence in the heap, or park it while a hold covers it."""
        if self._parks(state, mono):
            self._parked[state.definition.task_id] = state
        else:
            self._push(state)

    def _push(self, state: _TaskState) -> None:
        assert state.due is not None
        sequence = next(self._sequence)
        state.heap_seq = sequence
        heapq.heappush(self._heap, (state.due + state.offset, sequence, state))

    def _notice_jumps(self, now: float, mono: float) -> None:
        if self._last_wall is not None and self._last_mono is not None:
            drift = (now - self._last_wall) - (mono - self._last_mono)
            if drift < -1.0:
                # The wall clock went back: keep each interval's remaining wait (shift its due
                # time with the clock) and recompute cron times, so nothing stalls for hours.
                log.warning("wall clock went back %.0fs; rescheduling", -drift)
                task_id: str
                for task_id, state in self._tasks.items():
                    if isinstance(state.schedule, IntervalSchedule) and state.due is not None:
                        state.due += drift
                        if state.heap_seq != -1:
                            self._push(state)  # the old entry is superseded
                    elif state.schedule is not None and task_id not in self._fresh:
                        state.due, state.heap_seq = None, -1
                        self._parked.pop(task_id, None)
                        self._fresh[task_id] = state
            elif drift > _JUMP_NOTICE:
                log.info("wall clock moved forward %.0fs; missed runs will coalesce", drift)
        self._last_wall, self._last_mono = now, mono

    def _fall_due(self, state: _TaskState, now: float, mono: float) -> None:
        if state.running is not None:
            state.skipped_overlaps += 1
            log.debug("%s still running; this run is skipped", state.definition.task_id)
        elif state.pending is not None:
            state.coalesced += 1  # already waiting (for a slot or a dependency): one run will do
        else:
            self._queue(state, "schedule", now, mono)

    def _queue(
        self, state: _TaskState, trigger: str, now: float | None = None, mono: float | None = None
    ) -> _Execution:
        task_id = state.definition.task_id
        execution_id = f"{self._rng.getrandbits(64):016x}"
        now = self.clock.time() if now is None else now
        mono = self.clock.monotonic() if mono is None else mono
        execution = _Execution(execution_id, task_id, trigger, now)
        state.pending = PendingRun(task_id, execution_id, state.definition.priority, mono, trigger)
        self._pending[task_id] = state
        self._remember(execution)
        return execution

    def _remember(self, execution: _Execution) -> None:
        self._history[execution.execution_id] = execution
        while len(self._history) > self.history_size:
            self._history.popitem(last=False)

    def _dispatch(self, now: float, mono: float) -> None:
        if not self._pending:
            return
        # A parked run that was seen held stays so until the loop unparks it; one with
        # dependencies is looked at still, to keep its `waiting_for` current.
        parked = self._parked
        pending = [s.pending for tid, s in self._pending.items() if s.pending is not None
                   and (tid not in parked or not s.pending.held or s.definition.dependencies)]
        for run in dispatch_order(pending, mono, self.aging) if len(pending) > 1 else pending:
            state = self._tasks[run.task_id]
            if state.running is not None:
                continue  # a manual run waits for the current one: never overlap
            execution = self._history.get(run.execution_id) or _Execution(
                run.execution_id, run.task_id, run.trigger, now
            )
            waiting = self._unmet(state) if run.trigger == "schedule" else ()
            if self._hold_left(run.task_id, mono) > 0:
                waiting += ("retry_after",)
                run.held = True
                if not execution.held:
                    execution.held = True
                    state.deferred += 1
            execution.waiting_for = waiting
            if waiting:
                execution.status = "waiting"
                continue
            if self._running >= self.max_concurrent or self._nursery is None:
                continue
            state.pending = None
            del self._pending[run.task_id]
            state.running = execution
            execution.trigger = run.trigger
            self._running += 1
            self._start(state, execution, now, mono)

    def _unmet(self, state: _TaskState) -> tuple[str, ...]:
        if not state.definition.dependencies:
            return ()
        unmet = []
        for dep in state.definition.dependencies:
            dep_state = self._tasks.get(dep)
            if dep_state is None or dep_state.schedule is None:
                continue
            done = dep_state.last_success
            if done is None or (state.cycle_start is not None and done <= state.cycle_start):
                unmet.append(dep)
        return tuple(unmet)

    def _sleep_for(self, now: float, mono: float) -> float:
        """Seconds until the next occurrence in the heap or the end of a queued run's hold."""
        if self._fresh:
            return 0.0
        heap = self._heap
        while heap and heap[0][1] != heap[0][2].heap_seq:
            heapq.heappop(heap)  # superseded entries go when they reach the top
        delay = heap[0][0] - now if heap else math.inf
        for task_id in self._pending:
            hold = self._hold_left(task_id, mono)
            if hold > 0:
                delay = min(delay, hold)
        for run in self._inflight.values():
            if run.deadline is not None:
                delay = min(delay, run.deadline - mono)
            if run.retry_at is not None:
                delay = min(delay, run.retry_at - mono)
        return max(0.0, delay)

    def _hold_left(self, task_id: str, mono: float) -> float:
        """Seconds until the owner's last `retry_after` for `task_id` ends (0: not held)."""
        until = self._not_before.get(task_id)
        return until - mono if until is not None and until > mono else 0.0

    def _hold(self, task_id: str, retry_after: float | None, mono: float) -> None:
        """Remember an owner's `retry_after` (the later of it and any hold already running)."""
        if retry_after is None or not retry_after > 0:
            return
        until = mono + retry_after
        self._not_before[task_id] = max(self._not_before.get(task_id, until), until)

    # -- one execution ---------------------------------------------------------------------------
    #
    # An execution is a `_Run` driven by the loop: an attempt on an owner's mailbox is sent from
    # the loop (`put_nowait` of the ask) and its answer is taken where the owner gives it
    # (`_RunReply.close`), so a run costs the scheduler no task of its own. The loop's timer
    # covers the timeout and the wait before a retry. A function target (or a mailbox that is
    # full or closed) gets an attempt task that `await`s it as `ask` would.

    def _start(self, state: _TaskState, execution: _Execution, now: float, mono: float) -> None:
        execution.started_at = now
        state.cycle_start = mono
        state.runs += 1
        state.last_run = execution.started_at
        run = _Run(state, execution, state.definition)
        self._inflight[state.definition.task_id] = run
        self._begin_attempt(run, mono)

    def _begin_attempt(self, run: _Run, mono: float) -> None:
        definition, execution = run.definition, run.execution
        run.attempt += 1
        execution.attempts = run.attempt
        execution.status = "running"
        run.started = mono
        target = definition.target
        if isinstance(target, Mailbox) and target.fits(1):
            reply = _RunReply(self, run)
            request = RunTask(task_id=definition.task_id, execution_id=execution.execution_id)
            target.put_nowait(AskRequest(request, reply))
            run.reply, run.deadline = reply, mono + definition.timeout
        else:
            assert self._nursery is not None
            self._nursery.start_soon(self._attempt_task, run)

    async def _attempt_task(self, run: _Run) -> None:
        verdict = await self._attempt(run.definition, run.execution)
        self._attempt_done(run, *verdict, self.clock.monotonic())

    def _answered(self, run: _Run, reply: _RunReply, outcome: tuple[bool, Any] | None) -> None:
        """The owner answered an attempt sent by the loop (runs in the owner's task)."""
        if run.reply is not reply:
            return  # timed out (or the scheduler stopped) before the answer: it is dropped
        try:
            verdict: tuple[str, str | None, float | None]
            if outcome is None:
                verdict = ("failed", "the owner closed the request unanswered", None)
            elif outcome[0]:
                verdict = _verdict(outcome[1])
            else:
                cause = outcome[1]
                verdict = ("failed", f"{type(cause).__name__}: {cause}", None)
            self._attempt_done(run, *verdict, self.clock.monotonic())
        except Exception:  # the owner must never see the scheduler's trouble
            log.exception("scheduler failed to record %s", run.definition.task_id)

    def _expire(self, mono: float) -> None:
        """Time out attempts the owners did not answer in time; send retries that are due."""
        for run in list(self._inflight.values()):
            if run.deadline is not None and mono + _EPSILON >= run.deadline:
                assert run.reply is not None
                run.reply.abandon()  # a late answer is dropped
                timeout = run.definition.timeout
                self._attempt_done(run, "timed_out", f"timed out after {timeout:g}s", None, mono)
            elif run.retry_at is not None and mono + _EPSILON >= run.retry_at:
                run.retry_at = None
                self._begin_attempt(run, mono)

    def _attempt_done(
        self, run: _Run, status: str, error: str | None, retry_after: float | None, ended: float
    ) -> None:
        """Account one attempt; then retry later (the loop's timer) or finish the execution."""
        state, execution, definition = run.state, run.execution, run.definition
        deadline, run.reply, run.deadline = run.deadline, None, None
        self._hold(definition.task_id, retry_after, ended)
        run.ended, run.duration = ended, ended - run.started
        state.note_duration(run.duration)
        if status == "timed_out":
            state.timeouts += 1
        if status == "succeeded" or run.attempt > definition.max_retries:
            if not self._finish(run, status, error) and deadline is not None:
                self._sleep_on(deadline, ended)
            return
        delay = retry_delay(run.attempt, definition.retry_backoff)
        hold = self._hold_left(definition.task_id, ended)
        if hold > delay:
            state.deferred += 1
            if state.schedule is not None and hold >= state.schedule.period:
                log.info("%s: the service asked for %.0fs; no retry before the next "
                         "scheduled run", definition.task_id, hold)
                if not self._finish(run, status, error) and deadline is not None:
                    self._sleep_on(deadline, ended)
                return
            delay = hold
        state.retries += 1
        execution.status, execution.error = "retrying", error
        log.info("%s attempt %d %s (%s); retrying in %gs", definition.task_id, run.attempt,
                 status, error, delay)
        run.retry_at = ended + delay
        self._poke()  # the loop sleeps until the retry

    def _sleep_on(self, deadline: float, mono: float) -> None:
        """An attempt ended before its timeout: if the loop waits for that, it sleeps on."""
        if not self._sleeping or deadline > self._sleep_target + _EPSILON:
            return  # the loop wakes earlier anyway
        delay = self._sleep_for(self.clock.time(), mono)
        self._sleep_target = mono + delay
        self._alarm.deadline = trio.current_time() + self.clock.to_trio(delay)

    def _finish(
        self, run: _Run, status: str, error: str | None, *, publish: bool = True
    ) -> bool:
        """Close the execution (and publish its row); returns whether it woke the loop."""
        state, execution, definition = run.state, run.execution, run.definition
        self._inflight.pop(definition.task_id, None)
        self._running -= 1
        state.running = None
        execution.finished_at = self.clock.time()
        execution.duration = run.duration
        execution.error = error
        execution.status = status
        state.last_status = status
        if status == "succeeded":
            state.successes += 1
            state.last_success = run.ended
        elif status != "cancelled":
            state.failures += 1
            log.warning("%s %s after %d attempt(s): %s", definition.task_id, status,
                        execution.attempts, error)
        if publish:
            assert execution.started_at is not None
            row = TaskRun(
                execution_id=execution.execution_id,
                task_id=definition.task_id,
                trigger=execution.trigger,
                status=status,
                started_at=execution.started_at,
                finished_at=execution.finished_at,
                duration=run.duration,
                attempts=execution.attempts,
                error=error,
            )
            if self.bus is not None and not self.bus.offer(row):
                self._unpublished.append(row)  # the loop publishes it, waiting for room
                self._poke()
                return True
        # A finished run frees a slot and may satisfy a dependency; only waiting runs care,
        # and of those a held one only when it is this task (its hold may have changed):
        # the others wake the loop when their hold ends.
        if self._pending and any(
            s is state or self._hold_left(tid, run.ended) <= 0 for tid, s in self._pending.items()
        ):
            self._poke()
            return True
        return False

    def _cancel_all(self) -> None:
        """The scheduler stops: what is in flight ends as cancelled (late answers are dropped)."""
        for run in list(self._inflight.values()):
            if run.reply is not None:
                run.reply.abandon()
                run.reply = None
            self._finish(run, "cancelled", "the scheduler stopped during the run", publish=False)

    async def _attempt(
        self, definition: TaskDefinition, execution: _Execution
    ) -> tuple[str, str | None, float | None]:
        """One attempt: its status, error, and the owner's `retry_after` (None: none given)."""
        target = definition.target
        try:
            if isinstance(target, Mailbox):
                request = RunTask(task_id=definition.task_id, execution_id=execution.execution_id)
                reply = await ask(target, request, timeout=self.clock.to_trio(definition.timeout))
            else:
                with trio.fail_after(self.clock.to_trio(definition.timeout)):
                    reply = await target()
        except (AskTimeout, trio.TooSlowError):
            return "timed_out", f"timed out after {definition.timeout:g}s", None
        except AskError as error:
            cause = error.__cause__
            return "failed", f"{type(cause).__name__}: {cause}" if cause else str(error), None
        except MailboxClosed:
            return "failed", f"the owner's mailbox ({definition.task_id}) is closed", None
        except Exception as error:  # a failing task must never take the scheduler down
            return "failed", f"{type(error).__name__}: {error}", None
        return _verdict(reply)

    # -- retention and stats ---------------------------------------------------------------------

    async def _prune(self, now: float) -> None:
        self._last_prune = now
        await self.publish(TaskRunRetention(cutoff=now - self.retention_days * DAY))

    def _task_stats(self, state: _TaskState) -> TaskStats:
        count = state.attempts_timed
        next_run = None
        if state.schedule is not None and state.due is not None:
            next_run = state.due + state.offset
        task_id = state.definition.task_id
        # Read the clock only for a held task (stats are also read after the run, in tests).
        hold = self._hold_left(task_id, self.clock.monotonic()) if task_id in self._not_before else 0
        waiting: tuple[str, ...] = ()
        if state.pending is not None:
            execution = self._history.get(state.pending.execution_id)
            waiting = execution.waiting_for if execution is not None else ()
        return TaskStats(
            task_id=state.definition.task_id,
            priority=state.definition.priority.name.lower(),
            schedule=state.schedule.describe() if state.schedule is not None else None,
            runs=state.runs,
            successes=state.successes,
            failures=state.failures,
            timeouts=state.timeouts,
            retries=state.retries,
            skipped_overlaps=state.skipped_overlaps,
            coalesced=state.coalesced,
            last_run=state.last_run,
            last_status=state.last_status,
            next_run=next_run,
            mean_duration=state.total_duration / count if count else None,
            max_duration=state.max_duration if count else None,
            running=state.running is not None,
            pending=state.pending is not None,
            waiting_for=waiting,
            not_before=self.clock.time() + hold if hold > 0 else None,
            deferred=state.deferred,
        )

    def _state(self, task_id: str) -> _TaskState:
        state = self._tasks.get(task_id)
        if state is None:
            raise UnknownTask(f"no task registered as {task_id!r}")
        return state
