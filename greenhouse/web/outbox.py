"""A viewer's outgoing side: a bounded outbox, a hand-off write lock, and the direct-write path.

Why: with one send task per viewer, every delivery costs several trips through trio's scheduler
(wake the task, take the lock, `send_all`'s checkpoints). `asyncio` servers such as `websockets`
avoid that: `transport.write` tries the socket at once. The garden does the same, safely:

* `try_write_now` is called by the fan-out for a viewer whose send task is idle and whose outbox
  is empty. It takes the connection's write lock without waiting, writes the pre-built frame
  with one non-blocking `os.write`, and releases the lock. Nothing awaits, nothing switches.
* If the kernel took only part of the frame (its buffer is full), the rest is kept in
  `outbox.partial` and the lock stays held, so no other writer (trio-websocket's pongs, pings,
  close frames, our control frames) can slip bytes into the middle of a frame. The viewer's send
  task writes the rest with `send_all` and then releases the lock: that hand-over from one task
  to another is why the lock is `HandoffLock`, not trio's owner-checked `Lock`.
* Everything else (an outbox with frames waiting, a busy send task, a slow socket) goes through
  the outbox in order, and an outbox past its capacity marks the viewer overflowed.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any

import trio

__all__ = ["HandoffLock", "Overflowed", "ViewerOutbox", "try_write_now"]


class HandoffLock:
    """A FIFO lock that any task may release (so a write begun in one task can end in another).

    Used as trio-websocket's `WebSocketConnection._stream_lock` (which it only enters with
    `async with`). Release hands ownership straight to the longest waiter, so a synchronous
    `acquire_nowait` can never barge in ahead of a task already waiting.
    """

    def __init__(self) -> None:
        self._held = False
        self._waiters = trio.lowlevel.ParkingLot()

    def locked(self) -> bool:
        """True while someone holds it."""
        return self._held

    def acquire_nowait(self) -> bool:
        """Take the lock if it is free and nobody is waiting; never blocks."""
        if self._held or self._waiters:
            return False
        self._held = True
        return True

    async def acquire(self) -> None:
        """Wait for the lock (FIFO)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if self.acquire_nowait():
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        await self._waiters.park()  # woken by release(), already the owner

    def release(self) -> None:
        """Release, handing the lock to the longest waiter if there is one."""
        if not self._held:
            raise RuntimeError("HandoffLock released while not held")
        if self._waiters:
            self._waiters.unpark()  # ownership passes on; _held stays True
        else:
            self._held = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()


class Overflowed(Exception):
    """The outbox went past its capacity: the viewer is too slow and is being closed."""


class ViewerOutbox:
    """Frames waiting for one viewer, bounded; the send task waits on it."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: deque[Any] = deque()
        # The unwritten rest of a direct write (a view into frames shared with other viewers).
        self.partial: bytes | memoryview | None = None
        self.overflowed = False
        self._lot = trio.lowlevel.ParkingLot()

    def __len__(self) -> int:
        return len(self.items)

    def put(self, item: Any) -> bool:
        """Queue `item`; False when this overflows the outbox (it is then emptied)."""
        if self.overflowed:
            return True  # already being closed
        if len(self.items) >= self.capacity:
            self.overflowed = True
            self.items.clear()
            self._lot.unpark_all()
            return False
        self.items.append(item)
        self._lot.unpark()
        return True

    def poke(self) -> None:
        """Wake the send task (a partial write is waiting)."""
        self._lot.unpark()

    async def wait(self) -> None:
        """Until there is something to write; raises `Overflowed` once the outbox overflowed."""
        while self.partial is None and not self.items and not self.overflowed:
            await self._lot.park()
        if self.partial is None and self.overflowed:
            raise Overflowed

    def take(self, max_bytes: int) -> list[Any]:
        """Up to `max_bytes` of queued items (at least one), oldest first."""
        taken = [self.items.popleft()]
        size = len(taken[0][2])
        while self.items and size < max_bytes:
            item = self.items.popleft()
            taken.append(item)
            size += len(item[2])
        return taken


def try_write_now(fd: int, lock: HandoffLock, outbox: ViewerOutbox, frame: bytes) -> bool:
    """Write `frame` to the socket at once if nothing else is in the way.

    Returns False (nothing written) when the lock is busy; the caller queues the frame instead.
    Returns True when the frame is on its way: wholly written, or written in part with the rest
    left in `outbox.partial` (the lock then stays held until the send task writes it). A socket
    error also returns False: the send task finds the broken connection the usual way.
    """
    if not lock.acquire_nowait():
        return False
    try:
        written = os.write(fd, frame)
    except BlockingIOError:
        written = 0
    except OSError:
        lock.release()
        return False
    if written == len(frame):
        lock.release()
    else:
        # A view, not a copy: the same joined frames may be pending for many viewers.
        outbox.partial = memoryview(frame)[written:]
        outbox.poke()
    return True
