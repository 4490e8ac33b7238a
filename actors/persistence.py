"""The persistence actor: the only writer of the garden database.

It batches what arrives and commits each batch in ONE transaction in a worker thread, so the trio
thread never waits on the disk. Batching rule (group commit, after Home Assistant's recorder):

* A garden event, or anything asked for with `ask` (a caller waiting for durability, such as a
  webhook delivery before its 202), is committed as soon as the writer is free, together with
  everything that queued up meanwhile. Under load batches grow by themselves; idle, an event
  costs one commit.
* Background rows (histories, observations) wait up to `flush_interval` (default 1 s) or until
  `max_batch` (default 500) messages are pending, so a quiet garden makes few small writes on
  an SD card. They wait queued in the mailbox: the actor sleeps through them
  (`Mailbox.wait_for`) and is woken only by a message that makes the batch due.

It is a two-stage pipeline: messages are encoded on the trio thread (`Store.prepare`: ids,
rows, envelopes; once per batch, when it is claimed), and while the worker thread commits one
batch (SQLite releases the GIL while it works) the actor takes and encodes what queued up
meanwhile, the next batch. Under a MockClock (the simulation) it commits inline on the trio
thread instead, as `Clock.run_sync` does there, with no schedule point between claiming a batch
and committing it. Only one batch is written at a time, so ids and commits stay in order. After
a commit it answers the asks of that batch, then publishes `EventStored` for each event, in id
order, with the envelope encoded once. On shutdown it flushes what is pending and what is still
queued in its mailbox, and announces it (shielded, bounded by `shutdown_timeout`); whoever
opened the `Store` closes it (which checkpoints the WAL).
"""

from __future__ import annotations

import contextlib
import math
import threading
from dataclasses import dataclass
from typing import Any

import trio

from greenhouse.messages import EventStored, GardenEvent
from greenhouse.runtime import Actor, AskRequest, Bus, Clock, Mailbox
from greenhouse.runtime.mailbox import MailboxClosed
from greenhouse.store import PreparedBatch, Store

__all__ = ["PersistenceActor"]

# What makes a batch due at once: a garden event, or a caller waiting for durability.
_URGENT = (GardenEvent, AskRequest)

# Below this many queued messages, encoding them takes less time than handing the GIL to the
# worker thread and back, so the actor does not wait for the worker to reach SQLite first.
_OVERLAP_MIN = 32


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
        name: str = "persistence",
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        self.store = store
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.shutdown_timeout = shutdown_timeout
        self.commits = 0
        self.rows_written = 0
        # The batch being gathered: `_batch` is its encoded part, `_taken` what was taken but
        # not encoded yet (encoded when the batch is claimed, or while the worker writes the
        # batch before: one `Store.prepare` per batch); `_asks` the asks in it; `_urgent`
        # whether an event or an ask makes it due at once.
        self._batch: PreparedBatch | None = None
        self._taken: list[Any] = []  # taken, not yet encoded into `_batch`
        self._asks: list[AskRequest] = []
        self._urgent = False
        self._in_flight: _Write | None = None  # the batch in the worker thread

    # -- gathering -----------------------------------------------------------------------------

    def _pending(self) -> int:
        batch = self._batch
        return len(self._taken) + (len(batch.messages) if batch is not None else 0)

    def _take_queued(self, items: list[Any] | None = None, room: float | None = None) -> None:
        """Take what is queued (up to `max_batch` pending) into the batch being gathered."""
        assert self.inbox is not None
        items = items if items is not None else []
        if room is None:
            room = self.max_batch - self._pending()
        with contextlib.suppress(MailboxClosed):  # closed and empty: `get` raises it next
            items.extend(self.inbox.get_many_nowait(room - len(items)))
        taken = self._taken
        for item in items:
            if isinstance(item, AskRequest):
                self._asks.append(item)
                taken.append(item.message)
            else:
                taken.append(item)
            if not self._urgent and isinstance(item, _URGENT):
                self._urgent = True

    def _encode(self) -> None:
        """Encode what was taken into the batch (ids follow the batch being written)."""
        if not self._taken:
            return
        taken, self._taken = self._taken, []
        writing = self._in_flight
        self._batch = self.store.prepare(
            taken,
            self.clock.time(),
            into=self._batch,
            first_id=writing.batch.next_id if writing is not None else None,
        )

    def _wakes(self, message: Any) -> bool:
        """Whether a message just queued makes the batch due (see `Mailbox.wait_for`)."""
        inbox = self.inbox
        assert inbox is not None
        queued = len(inbox)
        return (
            isinstance(message, _URGENT)
            or queued + self._pending() >= self.max_batch
            or queued >= inbox.capacity  # senders would wait for room
        )

    def _due(self) -> bool:
        """Whether the gathered batch is to be written now (an event, an ask, or full)."""
        return self._urgent or self._pending() >= self.max_batch

    async def run(self) -> None:
        inbox = self.inbox
        assert inbox is not None
        try:
            while True:
                if not self._pending():
                    first = await inbox.get()  # nothing pending: no deadline
                    # One turn for the others before taking the rest: the webhook handlers
                    # woken with this one queue their rows too, and share its commit (about
                    # a tenth more deliveries a second than taking the first one alone).
                    await trio.lowlevel.cancel_shielded_checkpoint()
                    self._take_queued([first])
                if not self._due():
                    # Background rows: they queue up in the mailbox for `flush_interval`, or
                    # until a message that cannot wait (or a full batch) wakes the actor.
                    with trio.move_on_after(self.flush_interval):
                        while not self._due():
                            await inbox.wait_for(self._wakes)
                            self._take_queued()
                    self._take_queued()
                await self.flush(gather_next=True)
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
        self._take_queued(room=math.inf)

    # -- writing -------------------------------------------------------------------------------

    async def flush(self, *, publish: bool = True, gather_next: bool = False) -> None:
        """Commit the gathered batch in one transaction, then answer its asks and announce it.

        With `gather_next` (the actor's own loop), what queues up in the mailbox meanwhile is
        taken and encoded while the worker writes, and if it is due it is handed to the worker
        as soon as the write before it is committed, before that one is announced.
        """
        if self._in_flight is not None:  # left by a cancelled announcement: finish it first
            left, self._in_flight = self._in_flight, None
            await self._finish(left.batch, left.asks, left.job)
            await self._announce(left.batch, left.asks, publish)
        claimed = self._claim()
        if claimed is None:
            return
        batch, asks = claimed
        if not self.clock.uses_threads():
            # Inline, as `Clock.run_sync` runs blocking work under a MockClock (virtual time
            # must not move while SQLite works), minus its checkpoint: with no schedule point
            # between claiming a batch and committing it, no cancellation can come between.
            await self._finish(batch, asks, None)
            await self._announce(batch, asks, publish)
            return
        write: _Write | None = self._start(batch, asks)
        while write is not None:
            self._in_flight = write
            if gather_next and len(self.inbox or ()):
                # Encode what queued up meanwhile while SQLite writes. For more than a few
                # messages, first let the worker reach SQLite: it needs the GIL to get there,
                # and a busy trio thread would hold it for up to the switch interval (5 ms).
                if len(self.inbox or ()) >= _OVERLAP_MIN:
                    write.entering.wait(0.005)
                self._take_queued()
                self._encode()
            try:
                await self._finish(write.batch, write.asks, write.job)
            finally:
                self._in_flight = None
            following = None
            if gather_next:
                # The next write starts before this one is announced, so the worker does not
                # sit idle while the trio thread publishes.
                self._take_queued()
                if self._due():
                    claimed = self._claim()
                    if claimed is not None:
                        following = self._in_flight = self._start(*claimed)
            await self._announce(write.batch, write.asks, publish)
            write = following

    def _claim(self) -> tuple[PreparedBatch, list[AskRequest]] | None:
        """Take the gathered batch for writing, encoded, with the right ids."""
        self._encode()
        batch, asks = self._batch, self._asks
        self._batch, self._asks, self._urgent = None, [], False
        if batch is None:
            return None
        if batch.first_id != self.store.next_id:
            # Gathered behind a batch whose write failed: its ids are handed out again.
            batch = self.store.prepare(batch.messages, self.clock.time())
        return batch, asks

    def _start(self, batch: PreparedBatch, asks: list[AskRequest]) -> _Write:
        batch.encoded_rows()  # here, where holding the GIL stalls no one
        entering = threading.Event()
        return _Write(batch, asks, _ThreadJob(self.store.commit, batch, entering.set), entering)

    async def _finish(
        self, batch: PreparedBatch, asks: list[AskRequest], job: _ThreadJob | None
    ) -> None:
        """Wait for the commit of `batch` (inline when `job` is None); a failure fails its asks."""
        try:
            if job is None:
                self.store.commit(batch)
            else:
                await job.wait()
        except Exception as error:
            # Nothing of the batch is stored (one transaction); the askers learn it, and the
            # crash restarts the actor under its supervisor.
            for item in asks:
                item.fail(error)
            raise
        self.commits += 1
        self.rows_written += len(batch.messages)

    async def _announce(self, batch: PreparedBatch, asks: list[AskRequest], publish: bool) -> None:
        """Answer the asks of a committed batch, then publish `EventStored` in id order."""
        if asks:
            first = batch.first_id
            ids = {id(event): first + i for i, event in enumerate(batch.events)}
            for item in asks:
                item.answer(ids.get(id(item.message)))
        if publish and batch.events and self.bus is not None:
            await self.bus.publish_many(
                [
                    EventStored(id=row[0], type=row[1], frame=frame, event=event)
                    for row, frame, event in zip(batch.rows, batch.frames, batch.events, strict=True)
                ]
            )


@dataclass(slots=True)
class _Write:
    """A batch in the worker thread: what to answer and announce once `job` is done."""

    batch: PreparedBatch
    asks: list[AskRequest]
    job: _ThreadJob
    entering: threading.Event  # set just before SQLite starts on it


class _ThreadJob:
    """`fn(*args)` started in a worker thread at once; `wait()` for its result.

    `trio.to_thread.run_sync` starts the thread only once the calling task yields, and returns
    only when it is done; this lets the caller work on the trio thread meanwhile. Like
    `run_sync` (without abandon_on_cancel) the wait cannot be cancelled: the work is finished,
    never abandoned half done.
    """

    def __init__(self, fn: Any, *args: Any) -> None:
        self._done = trio.Event()
        self._result: Any = None  # an outcome.Outcome (trio's own result type)
        token = trio.lowlevel.current_trio_token()

        def deliver(result: Any) -> None:
            token.run_sync_soon(self._finish, result)

        trio.lowlevel.start_thread_soon(lambda: fn(*args), deliver)

    def _finish(self, result: Any) -> None:
        self._result = result
        self._done.set()

    async def wait(self) -> Any:
        with trio.CancelScope(shield=True):
            await self._done.wait()
        assert self._result is not None
        return self._result.unwrap()
