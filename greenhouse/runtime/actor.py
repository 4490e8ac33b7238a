"""The actor base class and request/reply (`ask`).

An actor is a named unit that owns its state and reads one `Mailbox`. Its mailbox is created
when the tree is built and outlives restarts, so a restarted actor keeps its subscriptions and
any messages that were queued for it. Subclasses implement `handle(message)`; for an `ask` the
return value of `handle` is the reply (an exception raised by `handle` is sent back to the asker
and does not crash the actor, which is how OTP's `gen_server:call` errors behave for the caller).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import trio

from .bus import Bus
from .clock import Clock
from .mailbox import NOT_NOW, Mailbox, OverflowPolicy, current_actor_name

__all__ = ["NOT_NOW", "Actor", "AskError", "AskRequest", "AskTimeout", "answer_now", "ask"]


class AskTimeout(TimeoutError):
    """The actor did not answer within the timeout."""


class AskError(RuntimeError):
    """The actor raised while handling the request; the original is the `__cause__`."""


class Reply:
    """A one-shot reply slot for `ask` (and `ask_in_order`): answered once, or closed unanswered.

    Asks are the runtime's most frequent round trip (every API call makes two or three): an
    event and a slot cost about a third of opening a channel pair per ask.
    """

    __slots__ = ("_done", "_gone", "_outcome")

    def __init__(self) -> None:
        self._done = trio.Event()
        self._outcome: tuple[bool, Any] | None = None
        self._gone = False

    def send_nowait(self, outcome: tuple[bool, Any]) -> None:
        if self._gone:
            raise trio.BrokenResourceError("the asker stopped waiting")
        if self._outcome is not None or self._done.is_set():
            raise trio.WouldBlock
        self._outcome = outcome

    def close(self) -> None:
        self._done.set()  # answered, or closed without an answer

    async def receive(self) -> tuple[bool, Any]:
        await self._done.wait()
        if self._outcome is None:
            raise trio.EndOfChannel
        return self._outcome

    def abandon(self) -> None:
        self._gone = True  # a late answer is dropped, as on a closed channel


class AskRequest:
    """A request travelling to an actor together with its one-shot reply slot."""

    __slots__ = ("message", "_reply")

    def __init__(self, message: Any, reply: Reply) -> None:
        self.message = message
        self._reply = reply

    def answer(self, value: Any) -> None:
        self._send((True, value))

    def fail(self, error: BaseException) -> None:
        self._send((False, error))

    def _send(self, outcome: tuple[bool, Any]) -> None:
        # The asker may have timed out and stopped waiting; a late answer is simply dropped.
        try:
            self._reply.send_nowait(outcome)
        except (trio.BrokenResourceError, trio.WouldBlock):
            pass
        finally:
            self._reply.close()


async def ask(target: Mailbox, message: Any, timeout: float = 5.0) -> Any:  # noqa: ASYNC109
    """Send `message` to the mailbox's actor and wait at most `timeout` seconds for its reply.

    Raises `AskTimeout` naming the actor and the request, or `AskError` if the actor raised.
    """
    reply = Reply()
    try:
        with trio.move_on_after(timeout) as scope:
            request = AskRequest(message, reply)
            # Waiting for the reply is the schedule point; a request that fits needs no other.
            if not target.put_nowait(request) and target.policy is OverflowPolicy.BLOCK:
                await target.put_waiting(request)
            ok, value = await reply.receive()
    finally:
        reply.abandon()
    if scope.cancelled_caught:
        raise AskTimeout(
            f"{target.owner} did not answer {type(message).__name__} within {timeout:g}s"
        )
    if not ok:
        raise AskError(f"{target.owner} failed on {type(message).__name__}: {value}") from value
    return value


def answer_now(target: Mailbox, message: Any) -> Any:
    """The answer of `target`'s actor to `message`, given at once in this task; or `NOT_NOW`.

    An actor may answer some messages without awaiting anything (`Actor.answer_now`: a bucket
    with tokens at hand grants them). While its reader is idle (waiting in `get` on an empty
    mailbox, so no queued message is overtaken and none of its handlers is half-way), the caller
    runs that answer in its own task instead of a round trip through the mailbox (two task
    switches and a timeout scope: most of an `ask`). The actor's state is still changed only by
    the actor's own code, and trio runs one task at a time, so it is the answer the actor would
    have sent. `NOT_NOW` (the reader is busy or has messages queued, or declines): send the
    message the usual way (`ask`, `put`).

    The answer raising is an `AskError` for the caller, and the actor crashes as if its own task
    had raised (its supervisor restarts it): a half-made change to its state is not carried on.
    """
    answerer = target.answerer
    if answerer is None or not target.reader_idle():
        return NOT_NOW
    token = current_actor_name.set(target.owner)  # the answer runs as the actor's code
    try:
        answer = answerer(message)
    except Exception as error:
        target.answerer = None
        target.put_nowait(_AnswerFailed(error))  # idle: the mailbox is open and empty, it fits
        raise AskError(f"{target.owner} failed on {type(message).__name__}: {error}") from error
    finally:
        current_actor_name.reset(token)
    if answer is not NOT_NOW:
        target.stats.answered_now += 1
    return answer


class _AnswerFailed:
    """Sent to an actor whose `answer_now` raised in another task: its loop raises it."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class Actor:
    """Base class: a named loop over one mailbox. Override `handle`, and `started`/`stopped`."""

    def __init__(
        self,
        name: str,
        inbox: Mailbox | None = None,
        bus: Bus | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self.inbox = inbox
        self.bus = bus
        self.clock = clock if clock is not None else Clock()
        self.log = logging.getLogger(f"greenhouse.{name}")

    async def publish(self, message: Any) -> None:
        """Publish on the bus (no-op when the actor has no bus)."""
        if self.bus is not None:
            await self.bus.publish(message)

    async def started(self) -> None:
        """Called once per (re)start before the first message."""

    async def stopped(self) -> None:
        """Called when the loop ends normally or by cancellation (runs shielded, keep it short)."""

    async def handle(self, message: Any) -> Any:
        """Handle one message; for an `ask` the return value is the reply."""
        raise NotImplementedError(f"{type(self).__name__} does not handle {type(message).__name__}")

    def answer_now(self, message: Any) -> Any:
        """Answer `message` without awaiting, or return `NOT_NOW` (always, by default).

        Called by `answer_now(inbox, message)` from another task while this actor is idle; an
        override handles only what it can settle at once, and returns `NOT_NOW` for the rest
        (which then arrives through the mailbox as usual). A told message's answer is ignored.
        """
        return NOT_NOW

    async def run(self) -> None:
        """Read the mailbox until it closes; overridable for actors with their own loop."""
        token = current_actor_name.set(self.name)
        try:
            await self.started()
            if self.inbox is None:
                await trio.sleep(math.inf)
                return
            if type(self).answer_now is not Actor.answer_now:
                self.inbox.answerer = self.answer_now
            async for message in self.inbox:
                if type(message) is _AnswerFailed:
                    raise RuntimeError(f"{self.name}: answer_now failed") from message.error
                await self.dispatch(message)
        finally:
            if self.inbox is not None and self.inbox.answerer == self.answer_now:
                self.inbox.answerer = None
            current_actor_name.reset(token)
            with trio.CancelScope(shield=True):
                await self.stopped()

    async def dispatch(self, message: Any) -> None:
        """Route one mailbox item: plain messages to `handle`, asks with their reply."""
        if isinstance(message, AskRequest):
            try:
                result = await self.handle(message.message)
            except Exception as error:  # the asker gets the error; the actor lives on
                message.fail(error)
            else:
                message.answer(result)
        else:
            await self.handle(message)
