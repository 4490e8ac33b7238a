"""The runtime's clock: monotonic time and wall time from trio, so MockClock drives both.

Every actor asks the injected `Clock` for time instead of calling `time.time()`; under
`trio.testing.MockClock` a month of garden life then runs in seconds, deterministically.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import trio

__all__ = ["Clock"]


class Clock:
    """Monotonic seconds (`monotonic`) and epoch seconds (`time`) tied to trio's clock.

    `time()` is `start_epoch + (trio.current_time() - start_monotonic)`. With no `start_epoch`
    the real wall clock is used at creation. `jump(seconds)` moves wall time only, the way an
    RTC-less Raspberry Pi's clock jumps when NTP syncs after boot.
    """

    def __init__(self, start_epoch: float | None = None) -> None:
        self._start_epoch = time.time() if start_epoch is None else start_epoch
        self._start_monotonic: float | None = None
        self._jumped = 0.0

    def _origin(self) -> float:
        if self._start_monotonic is None:
            self._start_monotonic = trio.current_time()
        return self._start_monotonic

    def monotonic(self) -> float:
        """Seconds from trio's clock (virtual under MockClock)."""
        return trio.current_time()

    def time(self) -> float:
        """Epoch seconds as the garden sees them."""
        return self._start_epoch + (trio.current_time() - self._origin()) + self._jumped

    def now(self) -> datetime:
        """`time()` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def jump(self, seconds: float) -> None:
        """Move wall time by `seconds` without moving monotonic time (a clock jump)."""
        self._jumped += seconds

    async def sleep(self, seconds: float) -> None:
        """Sleep on trio's clock."""
        await trio.sleep(max(0.0, seconds))

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until the monotonic `deadline`."""
        await trio.sleep_until(deadline)
