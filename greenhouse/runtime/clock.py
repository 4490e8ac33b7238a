"""The runtime's clock: monotonic time and wall time from trio, so MockClock drives both.

Every actor asks the injected `Clock` for time instead of calling `time.time()`; under
`trio.testing.MockClock` a month of garden life then runs in seconds, deterministically.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from .alarms import Alarm, TrioAlarm

if TYPE_CHECKING:
    from .alarms import VirtualTimers

__all__ = ["Clock"]

T = TypeVar("T")


class Clock:
    """Monotonic seconds (`monotonic`) and epoch seconds (`time`) tied to trio's clock.

    `time()` is `start_epoch + scale * (trio.current_time() - origin)`, where `origin` is trio's
    time at the first reading and `start_epoch` defaults to the real wall time at that moment.
    `scale` > 1 makes the garden's time run faster than trio's (the demo runs at 60x: a poll
    every 30 garden minutes happens every 30 real seconds) while sockets and server timeouts,
    which use trio's clock directly, stay real. Actors must therefore wait with `sleep` /
    `sleep_until` and read `monotonic` / `time` from here, never from trio or `time` directly.
    `jump(seconds)` moves wall time only, the way an RTC-less Raspberry Pi's clock jumps when
    NTP syncs after boot.
    """

    def __init__(
        self,
        start_epoch: float | None = None,
        *,
        scale: float = 1.0,
        threads: bool | None = None,
        timers: VirtualTimers | None = None,
    ) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        # Whether blocking work may leave the trio thread (`run_sync`). None decides per call:
        # not under `trio.testing.MockClock`, where virtual time would jump ahead while a worker
        # thread runs (and a simulation's results would depend on how fast the disk was).
        self.threads = threads
        # Under a MockClock, `VirtualTimers` (installed in the run as a trio instrument) keep
        # `sleep` and `alarm` waits without trio's cancel scopes: see `greenhouse.runtime.alarms`.
        self.timers = timers
        self._start_epoch = start_epoch
        self.scale = scale
        self._origin: float | None = None
        self._jumped = 0.0
        self._jump_listeners: list[Callable[[], None]] = []

    def _elapsed(self) -> float:
        now = trio.current_time()
        if self._origin is None:
            self._origin = now
            if self._start_epoch is None:
                self._start_epoch = time.time()
        return (now - self._origin) * self.scale

    def monotonic(self) -> float:
        """Seconds since the clock's first reading, in garden time (never jumps)."""
        return self._elapsed()

    def time(self) -> float:
        """Epoch seconds as the garden sees them."""
        elapsed = self._elapsed()
        assert self._start_epoch is not None
        return self._start_epoch + elapsed + self._jumped

    def now(self) -> datetime:
        """`time()` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def jump(self, seconds: float) -> None:
        """Move wall time by `seconds` without moving monotonic time (a clock jump)."""
        self._jumped += seconds
        for listener in list(self._jump_listeners):
            listener()

    def on_jump(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener()` after every `jump`; returns the function that stops it.

        Wall time moves only through `jump`, so whoever waits for a wall-clock time (the
        scheduler) can sleep until it instead of waking up now and then to look.
        """
        self._jump_listeners.append(listener)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._jump_listeners.remove(listener)

        return stop

    def to_trio(self, seconds: float) -> float:
        """A garden-time duration in trio seconds (for `trio.move_on_after` and friends)."""
        return seconds / self.scale

    def uses_threads(self) -> bool:
        """Whether `run_sync` sends work to a worker thread now (False under a MockClock)."""
        if self.threads is not None:
            return self.threads
        # trio.testing is only looked up, never imported here: it pulls in pytest (about
        # 10 MB), and a MockClock cannot exist unless someone imported it already.
        testing = sys.modules.get("trio.testing")
        return testing is None or not isinstance(trio.lowlevel.current_clock(), testing.MockClock)

    async def run_sync(
        self, fn: Callable[..., T], *args: Any, limiter: trio.CapacityLimiter | None = None
    ) -> T:
        """Run blocking `fn(*args)` in a worker thread, or inline when threads are off.

        Inline under a MockClock (and with `threads=False`): a worker thread does not hold
        virtual time, which would jump (and fire timeouts) while the call runs.
        """
        if self.uses_threads():
            return await trio.to_thread.run_sync(fn, *args, limiter=limiter)
        await trio.lowlevel.checkpoint()
        return fn(*args)

    def alarm(self) -> Alarm:
        """A wait that ends at a deadline (trio time) or on `ring()`: see `Alarm`."""
        return self.timers.alarm() if self.timers is not None else TrioAlarm()

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of garden time."""
        if self.timers is None:
            await trio.sleep(max(0.0, seconds) / self.scale)
            return
        alarm = self.timers.alarm()
        alarm.deadline = trio.current_time() + max(0.0, seconds) / self.scale
        await alarm.wait()

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until `monotonic()` reaches `deadline`."""
        await self.sleep(deadline - self.monotonic())
