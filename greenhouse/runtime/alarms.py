"""Alarms: a task's wait that ends at a deadline or when someone rings, whichever comes first.

The scheduler's loop sleeps until its next due time unless a new task or a finished run wakes it
earlier, and moves its deadline while it sleeps. On trio's own clock that is an `Event` inside a
`CancelScope` with a deadline (`TrioAlarm`); a deadline that passes ends the wait by cancelling
it, i.e. by raising and catching `Cancelled` through the waiting task.

Under `trio.testing.MockClock` (the simulation: a month of virtual time in seconds) most waits
end by their deadline, and the exception is most of what a wait costs (about 30 us of 50 per
wake-up here). `VirtualTimers` keep such waits instead: a trio instrument that, each time the
run loop finds nothing to run, moves the MockClock to the earliest alarm itself (unless a cancel
scope's deadline comes first: then MockClock's autojump takes that one, so `move_on_after` and
friends still fire on time) and reschedules the alarms that are due, which then run in the same
pass of the loop. Virtual time still moves only when the whole tree is idle, as with autojump
(no task runnable, none woken by I/O, none waiting in `wait_all_tasks_blocked`: see
`VirtualTimers.install` for the one case the fallback cannot see), and alarms due at the same
instant are woken in the order they were set, so a run stays deterministic.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import Any, Protocol

import trio
from trio.lowlevel import Abort, Task, current_task, reschedule, wait_task_rescheduled

__all__ = ["Alarm", "TrioAlarm", "VirtualAlarm", "VirtualTimers"]


class Alarm(Protocol):
    """Wait until `deadline` (trio time) or until `ring()`; the deadline may move meanwhile.

    One task waits on an alarm at a time (it belongs to one loop, as the scheduler's does).
    """

    deadline: float

    def ring(self) -> None:
        """End the current wait now, or make the next one return at once."""

    async def wait(self) -> None:
        """Wait for the deadline or a ring (a schedule point; cancellable)."""


class _Deadline:
    """The deadline and ring state both alarms keep; `_moved` hears a deadline change."""

    def __init__(self) -> None:
        self._deadline = math.inf
        self._rung = False

    @property
    def deadline(self) -> float:
        return self._deadline

    @deadline.setter
    def deadline(self, value: float) -> None:
        self._deadline = value
        self._moved()

    def _moved(self) -> None:
        raise NotImplementedError


class TrioAlarm(_Deadline):
    """An `Alarm` on trio's cancel scopes: right on any clock."""

    def __init__(self) -> None:
        super().__init__()
        self._lot = trio.lowlevel.ParkingLot()
        self._scope: trio.CancelScope | None = None

    def _moved(self) -> None:
        if self._scope is not None:
            self._scope.deadline = self._deadline

    def ring(self) -> None:
        self._rung = True
        self._lot.unpark_all()

    async def wait(self) -> None:
        if self._rung:
            self._rung = False
            await trio.lowlevel.checkpoint()
            return
        try:
            with trio.CancelScope(deadline=self._deadline) as self._scope:
                await self._lot.park()
        finally:
            self._scope = None
            self._rung = False


class VirtualAlarm(_Deadline):
    """An `Alarm` kept by `VirtualTimers`: its deadline wakes it without a `Cancelled`."""

    def __init__(self, timers: VirtualTimers) -> None:
        super().__init__()
        self._timers = timers
        self._task: Task | None = None
        self.sequence = -1  # the live heap entry's sequence number (-1: none)

    def _moved(self) -> None:
        if self._task is not None:
            self._timers.arm(self)  # the entry for the old deadline is superseded

    def ring(self) -> None:
        self._rung = True
        self.fire()

    def fire(self) -> None:
        """Wake the waiting task, if any (the timers' call at the deadline)."""
        task, self._task = self._task, None
        self.sequence = -1
        if task is not None:
            reschedule(task)

    async def wait(self) -> None:
        if self._rung or self._deadline <= trio.current_time():
            self._rung = False
            await trio.lowlevel.checkpoint()
            return

        def abort(_: Any) -> Abort:
            self._task, self.sequence = None, -1
            return Abort.SUCCEEDED

        self._task = current_task()
        self._timers.arm(self)
        try:
            await wait_task_rescheduled(abort)
        finally:
            self._rung = False


class VirtualTimers(trio.abc.Instrument):
    """The keeper of `VirtualAlarm`s under a MockClock (see the module docstring).

    A trio instrument: `install()` it in the run (before anything waits on one of its alarms),
    `uninstall()` when done. Each time the run loop finds no task to run after its I/O wait,
    where MockClock's autojump would move the clock, it moves the clock to the earliest alarm
    itself (when no cancel scope's deadline comes first) and reschedules the alarms that are
    due, so their tasks run in that same pass of the loop.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, VirtualAlarm]] = []
        self._sequence = itertools.count()
        self._clock: Any = None
        self._runner: Any = None  # trio's runner, when its private state is readable
        self.jumps = 0  # how often these timers moved the clock

    def alarm(self) -> VirtualAlarm:
        """A new alarm kept by these timers."""
        return VirtualAlarm(self)

    def arm(self, alarm: VirtualAlarm) -> None:
        """(Re)enter a waiting alarm at its deadline."""
        if alarm.deadline == math.inf:
            alarm.sequence = -1
            return
        sequence = alarm.sequence = next(self._sequence)
        heapq.heappush(self._heap, (alarm.deadline, sequence, alarm))

    def _next(self) -> float:
        heap = self._heap
        while heap and heap[0][1] != heap[0][2].sequence:
            heapq.heappop(heap)  # superseded, rung or cancelled
        return heap[0][0] if heap else math.inf

    def install(self, *, private: bool = True) -> None:
        """Start keeping time in the current run (which must use a MockClock).

        Each pass of the run loop asks whether any task is runnable. trio's public answer
        (`current_statistics`) builds a statistics object each time, which costs about as much
        as the timers save; so, as the simulation's `_ordered_timer_ties` does, this reads the
        runner's queue and deadlines directly, and falls back to the public answer if trio
        ever changes them (or with `private=False`). The public answer does not show tasks in
        `trio.testing.wait_all_tasks_blocked`: on that path the timers may move the clock
        before such a task wakes (the garden itself never waits that way).
        """
        from trio.testing import MockClock

        clock = trio.lowlevel.current_clock()
        if not isinstance(clock, MockClock) or clock.autojump_threshold != 0:
            # (with a larger threshold the loop would sleep that long before noticing the
            # alarms it just rescheduled)
            raise RuntimeError("VirtualTimers need trio.testing.MockClock(autojump_threshold=0)")
        self._clock = clock
        context = getattr(trio._core._run, "GLOBAL_RUN_CONTEXT", None)  # noqa: SLF001
        runner: Any = getattr(context, "runner", None)
        needed = ("runq", "waiting_for_idle", "deadlines")
        if (
            private
            and all(hasattr(runner, name) for name in needed)
            and hasattr(runner.deadlines, "next_deadline")
        ):
            self._runner = runner
        trio.lowlevel.add_instrument(self)

    def uninstall(self) -> None:
        """Stop (alarms still waiting then wait for a `ring`)."""
        trio.lowlevel.remove_instrument(self)

    def _idle_until(self) -> float | None:
        """The next cancel scope's deadline when the run is idle; None while it is not.

        Idle: no task is runnable (I/O that arrived has made its tasks runnable by now) and,
        on the private path, no task waits in `wait_all_tasks_blocked`, which trio wakes
        before it moves the clock (the public statistics cannot see those waiters).
        """
        runner = self._runner
        if runner is not None:
            if runner.runq or runner.waiting_for_idle:
                return None
            deadline: float = runner.deadlines.next_deadline()
            return deadline
        statistics = trio.lowlevel.current_statistics()
        if statistics.tasks_runnable:
            return None
        return self._clock.current_time() + statistics.seconds_to_next_deadline

    def after_io_wait(self, timeout: float) -> None:
        # After the I/O wait, where trio itself decides whether to autojump: events that woke a
        # task are in the run queue by now, and trio's deadlines up to the instant jumped to
        # expire right after this, in the same pass.
        theirs = self._idle_until()
        if theirs is None:
            return  # a task is runnable: time does not move
        ours = self._next()
        if ours == math.inf or theirs < ours:
            return  # nothing timed, or a cancel scope's deadline first (autojump takes it)
        now = self._clock.current_time()
        if ours > now:
            self._clock.jump(ours - now)
            self.jumps += 1
        heap = self._heap
        while heap and heap[0][0] <= ours:
            _, sequence, alarm = heapq.heappop(heap)
            if sequence == alarm.sequence:
                alarm.fire()
