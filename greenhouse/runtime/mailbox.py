"""Bounded mailboxes with overflow policies, and the wait graph that keeps them deadlock-free.

A `Mailbox` is a bounded FIFO built on trio's `ParkingLot`, the primitive trio's own memory
channels are built on. It is not a plain `trio.open_memory_channel` because two things here need
to reach into the buffer: `drop_oldest` evicts the head atomically, and the cycle rule below lets
one sender overdraw a full mailbox.

Policies:

* `block`: the sender waits until there is room (backpressure; the default for actors).
* `drop_oldest`: the oldest queued message is dropped and counted; the sender never waits.
* `disconnect`: the mailbox closes and the receiver sees `MailboxOverflow` (for viewers that
  must then resume from the event log).

Deadlock rule: two actors that publish to each other can both be blocked on the other's full
mailbox. Every blocked send is recorded in a shared `WaitGraph` (sender name -> owner of the
mailbox it waits on). A send that would close a cycle (the mailbox's owner is, directly or
transitively, waiting on the sender) does not wait: it appends past capacity and counts an
`overdraft`. The sender then returns to its own loop, drains its mailbox, and that unblocks the
other side. Overdraft is bounded by what one handler publishes in one step, so the bound holds in
practice, and the counter shows it in status.
"""

from __future__ import annotations

import contextvars
import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

__all__ = [
    "NOT_NOW",
    "Mailbox",
    "MailboxClosed",
    "MailboxOverflow",
    "MailboxStats",
    "OverflowPolicy",
    "WaitGraph",
    "current_actor_name",
]

# The name of the actor whose code is running in this task (set by Actor.run).
current_actor_name: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_actor_name", default=None
)


class _NotNow:
    """The sentinel `NOT_NOW` (see `greenhouse.runtime.actor.answer_now`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_NOW"


NOT_NOW: Any = _NotNow()


class OverflowPolicy(enum.StrEnum):
    """What a full mailbox does with one more message."""

    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"
    DISCONNECT = "disconnect"


class MailboxClosed(Exception):
    """The mailbox was closed; no more messages can be sent or received."""


class MailboxOverflow(MailboxClosed):
    """A `disconnect` mailbox overflowed and was closed."""


@dataclass
class MailboxStats:
    """Counters kept per mailbox (per subscriber)."""

    delivered: int = 0
    dropped: int = 0
    blocked: int = 0
    overdraft: int = 0
    high_water: int = 0
    answered_now: int = 0  # settled by the idle reader in the sender's task (`answer_now`)


class WaitGraph:
    """Who is blocked sending to whom; used to refuse waits that would close a cycle."""

    def __init__(self) -> None:
        self._waits: dict[str, str] = {}

    def would_deadlock(self, sender: str, owner: str) -> bool:
        """True if `owner` is (transitively) waiting on `sender`."""
        seen: set[str] = set()
        node: str | None = owner
        while node is not None and node not in seen:
            if node == sender:
                return True
            seen.add(node)
            node = self._waits.get(node)
        return False

    def wait(self, sender: str, owner: str) -> None:
        self._waits[sender] = owner

    def done(self, sender: str) -> None:
        self._waits.pop(sender, None)


class Mailbox:
    """A bounded FIFO of messages with an overflow policy and counters."""

    def __init__(
        self,
        owner: str,
        capacity: int = 256,
        policy: OverflowPolicy = OverflowPolicy.BLOCK,
        wait_graph: WaitGraph | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.owner = owner
        self.capacity = capacity
        self.policy = OverflowPolicy(policy)
        self.stats = MailboxStats()
        self._items: deque[Any] = deque()
        self._not_empty = trio.lowlevel.ParkingLot()
        self._not_full = trio.lowlevel.ParkingLot()
        # `wait_for`: the reader's test for the messages that wake it, and where it waits.
        self._wakes: Callable[[Any], bool] | None = None
        self._woken = trio.lowlevel.ParkingLot()
        self._wait_graph = wait_graph if wait_graph is not None else WaitGraph()
        self._closed: type[MailboxClosed] | None = None
        # The reader's synchronous answers (`Actor.answer_now`), set while its loop runs.
        self.answerer: Callable[[Any], Any] | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def reader_idle(self) -> bool:
        """The reader waits in `get` on an empty, open mailbox: nothing queued is ahead of a
        new message, and the reader is in none of its handlers."""
        return not self._items and bool(self._not_empty) and self._closed is None

    def _append(self, message: Any) -> None:
        items = self._items
        items.append(message)
        stats = self.stats
        stats.delivered += 1
        if len(items) > stats.high_water:
            stats.high_water = len(items)
        if self._not_empty:  # unpark only when someone waits: this is the hot path
            self._not_empty.unpark()
        elif self._wakes is not None and self._wakes(message):
            self._woken.unpark_all()

    def put_nowait(self, message: Any) -> bool:
        """Deliver without waiting; returns False if a `block` mailbox is full.

        `drop_oldest` evicts the head; `disconnect` closes the mailbox (and returns False).
        """
        if self._closed is not None:
            raise self._closed(f"mailbox of {self.owner} is closed")
        if len(self._items) < self.capacity:
            self._append(message)
            return True
        if self.policy is OverflowPolicy.DROP_OLDEST:
            self._items.popleft()
            self.stats.dropped += 1
            self._append(message)
            return True
        if self.policy is OverflowPolicy.DISCONNECT:
            self.stats.dropped += 1
            self.close(overflow=True)
            return False
        return False

    def put_all_nowait(self, messages: list[Any]) -> bool:
        """Deliver all of `messages` if they fit as they are (open, room for all); else none.

        The same as `put_nowait` for each in turn when they fit, in one step; a caller gets
        False and delivers one by one when they do not (waiting, dropping or disconnecting).
        """
        count = len(messages)
        if not self.fits(count):
            return False
        items = self._items
        items.extend(messages)
        stats = self.stats
        stats.delivered += count
        if len(items) > stats.high_water:
            stats.high_water = len(items)
        if self._not_empty:
            self._not_empty.unpark(count=count)
        elif self._wakes is not None and any(map(self._wakes, messages)):
            self._woken.unpark_all()
        return True

    def fits(self, count: int) -> bool:
        """Whether `put_all_nowait` of `count` messages would deliver them now."""
        return self._closed is None and len(self._items) + count <= self.capacity

    async def put(self, message: Any) -> None:
        """Deliver, waiting for room under `block` (see the module docstring for cycles)."""
        if self.put_nowait(message) or self.policy is not OverflowPolicy.BLOCK:
            await trio.lowlevel.checkpoint()
            return
        await self.put_waiting(message)

    async def put_waiting(self, message: Any) -> None:
        """The slow path of `put` for a full `block` mailbox: wait for room, or overdraw."""
        self.stats.blocked += 1
        sender = current_actor_name.get()
        while len(self._items) >= self.capacity:
            if sender is not None and self._wait_graph.would_deadlock(sender, self.owner):
                self.stats.overdraft += 1
                break
            if sender is not None:
                self._wait_graph.wait(sender, self.owner)
            try:
                await self._not_full.park()
            finally:
                if sender is not None:
                    self._wait_graph.done(sender)
            if self._closed is not None:
                raise self._closed(f"mailbox of {self.owner} is closed")
        self._append(message)

    def get_nowait(self) -> Any:
        """Take the oldest message; raises `trio.WouldBlock` when empty."""
        if self._items:
            message = self._items.popleft()
            if self._not_full:
                self._not_full.unpark()
            return message
        if self._closed is not None:
            raise self._closed(f"mailbox of {self.owner} is closed")
        raise trio.WouldBlock

    def get_many_nowait(self, limit: float) -> list[Any]:
        """Take up to `limit` queued messages at once, oldest first (empty when none is queued).

        Like `get_nowait` per message, minus the per-message call for a batching reader; raises
        `MailboxClosed` only when the mailbox is closed and empty.
        """
        items = self._items
        count = min(len(items), limit)
        if count <= 0:
            if self._closed is not None and not items:
                raise self._closed(f"mailbox of {self.owner} is closed")
            return []
        popleft = items.popleft
        taken = [popleft() for _ in range(int(count))]
        if self._not_full:
            self._not_full.unpark(count=len(taken))
        return taken

    async def get(self) -> Any:
        """Wait for and take the oldest message."""
        # As trio's own channels do: one schedule point per call, either the wait itself or,
        # when a message was already queued, a checkpoint after taking it.
        parked = False
        while True:
            try:
                message = self.get_nowait()
            except trio.WouldBlock:
                await self._not_empty.park()
                parked = True
                continue
            if not parked:
                await trio.lowlevel.cancel_shielded_checkpoint()
            return message

    async def wait_for(self, wakes: Callable[[Any], bool]) -> None:
        """Wait, taking nothing, until a message for which `wakes(message)` holds is delivered.

        For a batching reader that lets most messages queue up for a while (the persistence
        actor's background rows): it is not woken for each of them, only for one that cannot
        wait. Returns at once if one is queued already; `wakes` runs after the message is
        queued (so `len(self)` counts it). Closed, it returns while messages are left, then
        raises `MailboxClosed` as `get` does. A schedule point, like `get`.
        """
        if self._closed is not None or any(map(wakes, self._items)):
            await trio.lowlevel.checkpoint()
        else:
            self._wakes = wakes
            try:
                await self._woken.park()
            finally:
                self._wakes = None
        if self._closed is not None and not self._items:
            raise self._closed(f"mailbox of {self.owner} is closed")

    def close(self, *, overflow: bool = False) -> None:
        """Close: pending receivers and senders wake with `MailboxClosed`."""
        if self._closed is None:
            self._closed = MailboxOverflow if overflow else MailboxClosed
            self._items.clear() if overflow else None
            self._not_empty.unpark_all()
            self._not_full.unpark_all()
            self._woken.unpark_all()

    def __aiter__(self) -> Mailbox:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.get()
        except MailboxOverflow:
            raise
        except MailboxClosed:
            raise StopAsyncIteration from None
