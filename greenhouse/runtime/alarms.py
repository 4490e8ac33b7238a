"""Alarms: a task's wait that ends at a deadline or when someone rings, whichever comes first.

The scheduler's loop sleeps until its next due time unless a new task or a finished run wakes it
earlier, and moves its deadline while it sleeps. On trio's own clock that is an `Event` inside a
`CancelScope` with a deadline (`TrioAlarm`); a deadline that passes ends the wait by cancelling
it, i.e. by raising and catching `Cancelled` through the waiting task.

Under `trio.testing.MockClock` (the simulation: a month of virtual time in seconds) most waits
end by their deadline, and the exception is most of what a wait costs (about 30 us of 50 per
wake-up here). `VirtualTimers` replaces MockClock's autojump for such waits: one timekeeper task
waits until every other task is blocked (`wait_all_tasks_blocked`, which wakes it without an
exception), moves the MockClock to the earliest deadline (its own alarms' or trio's cancel
scopes', so `move_on_after` and friends still fire on time) and reschedules the alarms that are
due. Virtual time still moves only when the whole tree is idle, exactly as with autojump, and
ties go in the order the alarms were set, so a run stays deterministic.
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
    """Wait until `deadline` (trio time) or until `ring()`; the deadline may move meanwhile."""

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
        """Wake the waiting task, if any (the timekeeper's call at the deadline)."""
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


class VirtualTimers:
    """The timekeeper of `VirtualAlarm`s under a MockClock (see the module docstring).

    Start `run` in a nursery before anything waits on an alarm; it advances the clock itself
    (MockClock's autojump stays off while it waits: trio skips autojump while a task is in
    `wait_all_tasks_blocked`).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, VirtualAlarm]] = []
        self._sequence = itertools.count()
        self._idle = trio.lowlevel.ParkingLot()  # the timekeeper, when nothing is timed at all
        self.jumps = 0

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
        if self._idle:
            self._idle.unpark()

    def _next(self) -> float:
        heap = self._heap
        while heap and heap[0][1] != heap[0][2].sequence:
            heapq.heappop(heap)  # superseded, rung or cancelled
        return heap[0][0] if heap else math.inf

    async def run(self) -> None:
        """Advance the MockClock whenever every other task is blocked, and fire due alarms."""
        from trio.testing import MockClock, wait_all_tasks_blocked

        clock = trio.lowlevel.current_clock()
        if not isinstance(clock, MockClock):
            raise RuntimeError("VirtualTimers needs trio.testing.MockClock")
        heap = self._heap
        while True:
            await wait_all_tasks_blocked()
            now = trio.current_time()
            ours = self._next()
            theirs = now + trio.lowlevel.current_statistics().seconds_to_next_deadline
            target = min(ours, theirs)
            if target == math.inf:
                await self._idle.park()  # nothing timed: wait for an alarm to be set
                continue
            if target > now:
                clock.jump(target - now)
                self.jumps += 1
            while heap and heap[0][0] <= target:
                _, sequence, alarm = heapq.heappop(heap)
                if sequence == alarm.sequence:
                    alarm.fire()
