"""The persistence actor: the only writer of the garden database.

It batches what arrives and commits each batch in ONE transaction in a worker thread, so the trio
thread never waits on the disk. Batching rule (group commit, after Home Assistant's recorder):

* A garden event, or anything asked for with `ask` (a caller waiting for durability, such as a
  webhook delivery before its 202), is committed as soon as the writer is free, together with
  everything that queued up meanwhile. Under load batches grow by themselves; idle, an event
  costs one commit.
* Background rows (histories, observations) wait up to `flush_interval` (default 1 s) or until
  `max_batch` (default 500) messages are pending, so a quiet garden makes few small writes on
  an SD card.

After a commit it publishes `EventStored` for each event, in id order, with the envelope encoded
once. On shutdown it flushes what is pending and what is still queued in its mailbox, and announces
it (shielded, bounded by `shutdown_timeout`); whoever
opened the `Store` closes it (which checkpoints the WAL).
"""

from __future__ import annotations

import math
from typing import Any

import trio

from greenhouse.messages import EventStored, GardenEvent
from greenhouse.runtime import Actor, AskRequest, Bus, Clock, Mailbox
from greenhouse.runtime.mailbox import MailboxClosed
from greenhouse.store import Store

__all__ = ["PersistenceActor"]


class PersistenceActor(Actor):
    """Batches garden events and observations into SQLite transactions."""

    def __init__(
        self,
        inbox: Mailbox,
        bus: Bus,
        store: Store,
        *,
        clock: Clock | None = None,
        flush_interval: float = 1.0,
        max_batch: int = 500,
        shutdown_timeout: float = 3.0,
        in_thread: bool = True,
        name: str = "persistence",
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        self.store = store
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.shutdown_timeout = shutdown_timeout
        # Off the trio thread in production; inline under a MockClock (simulation), where a
        # thread hop would let virtual time jump while the write is in flight.
        self.in_thread = in_thread
        self.commits = 0
        self.rows_written = 0
        self._pending: list[Any] = []  # messages, asked ones unwrapped
        self._asks: list[AskRequest] = []  # the asks among them, answered after the commit
        self._urgent = False

    def _take(self, item: Any) -> None:
        if isinstance(item, AskRequest):
            self._asks.append(item)
            self._pending.append(item.message)
            self._urgent = True
        else:
            self._pending.append(item)
            if isinstance(item, GardenEvent):
                self._urgent = True

    async def run(self) -> None:
        assert self.inbox is not None
        deadline = math.inf
        try:
            while True:
                with trio.move_on_at(deadline):
                    self._take(await self.inbox.get())
                    while len(self._pending) < self.max_batch:
                        try:
                            self._take(self.inbox.get_nowait())
                        except trio.WouldBlock:
                            break
                now = trio.current_time()
                if self._pending and (
                    self._urgent or len(self._pending) >= self.max_batch or now >= deadline
                ):
                    await self.flush()
                    deadline = math.inf
                elif self._pending and deadline == math.inf:
                    deadline = now + self.flush_interval
        except trio.Cancelled:
            # Shutting down: what was published before the stop is written too, not only what
            # had been taken from the mailbox (a crash leaves it queued for the restart).
            self._drain()
            raise
        finally:
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + self.shutdown_timeout
                # Published too: a crash or restart is not the end of the process, and a
                # committed event never announced is one that live viewers never see.
                await self.flush()

    def _drain(self) -> None:
        assert self.inbox is not None
        while True:
            try:
                self._take(self.inbox.get_nowait())
            except (trio.WouldBlock, MailboxClosed):
                return

    async def flush(self, *, publish: bool = True) -> None:
        """Commit everything pending in one transaction, then answer asks and publish events."""
        batch, asks = self._pending, self._asks
        self._pending, self._asks, self._urgent = [], [], False
        if not batch:
            return
        try:
            # Encoding happens here, on the trio thread; the worker thread only runs SQLite,
            # which releases the GIL, so the trio thread goes on (taking the next messages,
            # publishing) while the batch is written.
            prepared = self.store.prepare(batch, self.clock.time())
            if self.in_thread:
                await self.clock.run_sync(self.store.commit, prepared)
            else:
                self.store.commit(prepared)
        except trio.Cancelled:
            # Cancelled on the way into the (uncancellable) worker thread: nothing was written,
            # so the batch goes back for the shutdown flush instead of being dropped.
            self._pending[:0] = batch
            self._asks[:0] = asks
            self._urgent = True
            raise
        except Exception as error:
            # Nothing of the batch is stored (one transaction); the askers learn it, and the
            # crash restarts the actor under its supervisor.
            for item in asks:
                item.fail(error)
            raise
        self.commits += 1
        self.rows_written += len(batch)
        first = prepared.first_id
        if asks:
            ids = {id(event): first + i for i, event in enumerate(prepared.events)}
            for item in asks:
                item.answer(ids.get(id(item.message)))
        if publish and prepared.events and self.bus is not None:
            await self.bus.publish_many(
                [
                    EventStored(id=row[0], type=row[1], frame=frame, event=event)
                    for row, frame, event in zip(
                        prepared.rows, prepared.frames, prepared.events, strict=True
                    )
                ]
            )
