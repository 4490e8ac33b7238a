"""`PollerActor`: one poller per external source (after Home Assistant's DataUpdateCoordinator).

A poller owns one service client and runs `poll()` on `RunTask(task_id)` from the scheduler,
which decides when every sync runs (in the tree pollers are built with `interval=None`; an
`interval` gives a standalone poller, e.g. in a benchmark, a loop of its own). It keeps a single
request in flight, bounds every sync with a timeout, and turns failures into an *unavailable*
service instead of a crash: it publishes `ServiceStatusChanged(available=False, error=...)` once,
keeps its last good data, and publishes `available=True` when the source answers again. Its
`TaskFinished` carries `retry_after` when the source asked for a wait (`Retry-After`, an
exhausted limit), so the scheduler sends no run before it, even to a restarted poller whose new
client never heard the answer.

Subclasses set `service` (the client) and implement `poll()`, returning None on success or a
one-line error.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import trio

from greenhouse.messages import RunTask, ServiceStatusChanged, TaskFinished
from greenhouse.runtime import Actor, Bus, Clock, Mailbox

__all__ = ["SCHEDULED_RATE_LIMIT_WAIT", "PollerActor"]

# The longest server-imposed wait (`Retry-After`, an exhausted limit) a scheduled poller's client
# sleeps through inside one sync. A longer one fails the sync at once and goes back to the
# scheduler as `retry_after`: an answer that slept past the task's timeout would be dropped, and
# with it the wait, which a restarted poller's new client never heard. It is no longer than the
# shortest retry backoff of a poller task (Spotify's 5 s), so even a wait lost with a poller that
# crashed mid-sleep ends before the scheduler's retry.
SCHEDULED_RATE_LIMIT_WAIT = 5.0


class PolledClient(Protocol):
    """What a poller needs of its service client besides the calls `poll()` makes."""

    def server_wait(self) -> float: ...

    async def aclose(self) -> None: ...


class PollerActor(Actor):
    """Interval and on-demand polling of one source, with availability tracking."""

    service_name: str = "service"
    task_id: str = "service_sync"
    service: PolledClient | None = None  # the client; subclasses set it

    def __init__(
        self,
        name: str,
        inbox: Mailbox | None,
        bus: Bus | None,
        clock: Clock | None = None,
        *,
        interval: float | None = 60.0,
        sync_timeout: float = 120.0,
        availability: dict[str, bool] | None = None,
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        self.interval = interval  # None (the tree): only the scheduler's RunTask drives it
        self.sync_timeout = sync_timeout
        # Service name -> last announced availability. The tree passes one dict to every
        # incarnation of a poller, so a poller restarted during an outage still announces the
        # recovery (a fresh one would start knowing nothing and stay silent).
        self._availability = {} if availability is None else availability
        self.last_error: str | None = None
        self.polls = 0
        self.failures = 0
        self.last_success: float | None = None  # epoch seconds
        self._in_flight = trio.Lock()

    @property
    def available(self) -> bool | None:
        """The last announced availability; None until a first sync finished."""
        return self._availability.get(self.service_name)

    @available.setter
    def available(self, value: bool) -> None:
        self._availability[self.service_name] = value

    async def poll(self) -> str | None:
        """Fetch once and publish what was seen; None on success, else the error in one line."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release the client (called when the actor stops)."""
        if self.service is not None:
            await self.service.aclose()

    def server_wait(self) -> float:
        """Seconds before the source allows another request (0: it asked for no wait)."""
        return self.service.server_wait() if self.service is not None else 0.0

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            if self.interval is not None:
                nursery.start_soon(self._poll_loop)
            if self.inbox is not None:
                await super().run()
            else:
                await trio.sleep(math.inf)
            nursery.cancel_scope.cancel()

    async def stopped(self) -> None:
        await self.close()

    async def _poll_loop(self) -> None:
        assert self.interval is not None
        while True:
            started = self.clock.monotonic()
            await self.sync()
            # A fixed cadence: a slow sync does not push every later poll back.
            await self.clock.sleep_until(started + self.interval)

    async def sync(self) -> str | None:
        """One sync (waits for one already in flight); None on success, else the error."""
        try:
            self._in_flight.acquire_nowait()  # nothing in flight (the usual case): no wait
        except trio.WouldBlock:
            await self._in_flight.acquire()
        try:
            return await self._sync_once()
        finally:
            self._in_flight.release()

    async def _sync_once(self) -> str | None:
        self.polls += 1
        error: str | None
        with trio.move_on_after(self.sync_timeout) as scope:
            try:
                error = await self.poll()
            except Exception as exc:  # a bug or surprise must not kill the schedule
                self.log.exception("%s: poll failed unexpectedly", self.name)
                error = f"{type(exc).__name__}: {exc}"
        if scope.cancelled_caught:
            error = f"sync timed out after {self.sync_timeout:g}s"
        await self._record(error)
        return error

    async def _record(self, error: str | None) -> None:
        if error is None:
            self.last_success = self.clock.time()
            self.last_error = None
            if self.available is False:
                self.log.info("%s is available again", self.service_name)
                await self._announce(True, None)
            self.available = True
            return
        self.failures += 1
        self.last_error = error
        if self.available is not False:
            self.log.warning("%s is unavailable: %s", self.service_name, error)
            await self._announce(False, error)
        self.available = False

    async def _announce(self, available: bool, error: str | None) -> None:
        await self.publish(
            ServiceStatusChanged(
                service=self.service_name,
                available=available,
                error=error,
                source=f"{self.service_name}_sync",
                timestamp=self.clock.time(),
            )
        )

    async def handle(self, message: Any) -> Any:
        if isinstance(message, RunTask):
            if message.task_id != self.task_id:
                return None  # another owner's task, seen on the bus
            started = self.clock.monotonic()
            error = await self.sync()
            wait = self.server_wait()
            return TaskFinished(
                task_id=message.task_id,
                execution_id=message.execution_id,
                ok=error is None,
                error=error,
                duration=self.clock.monotonic() - started,
                retry_after=wait if wait > 0 else None,
            )
        return None
