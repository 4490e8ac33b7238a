"""An actor base for owners of scheduled work: `RunTask` in, `TaskFinished` out.

The scheduler may `ask` the owner (the reply is the `TaskFinished`) or publish the `RunTask` on
the bus (the `TaskFinished` is then published). A run that raises is reported as failed, and the
actor keeps running.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from greenhouse.messages import RunTask, TaskFinished
from greenhouse.runtime import Actor, AskRequest

__all__ = ["TaskActor", "offer_or_publish", "run_task"]


async def offer_or_publish(actor: Actor, messages: list[Any]) -> None:
    """Publish `messages` in order, without a schedule point when every mailbox takes them now.

    For a handler's last messages: the handler began at a schedule point (getting its message,
    or awaiting a request), so it needs no extra trip through trio's scheduler per message; a
    mailbox that is full still makes it wait (`Bus.publish_many(checkpoint=False)`).
    """
    if actor.bus is not None:
        await actor.bus.publish_many(messages, checkpoint=False)


async def run_task(
    actor: Actor, message: RunTask, work: Callable[[], Awaitable[Any]]
) -> TaskFinished:
    """Run `work` once for `actor` and describe the outcome as the scheduler's `TaskFinished`."""
    started = actor.clock.monotonic()
    try:
        await work()
    except Exception as error:  # reported to the scheduler; the actor lives on
        actor.log.exception("task %s failed", message.task_id)
        return TaskFinished(
            task_id=message.task_id,
            execution_id=message.execution_id,
            ok=False,
            error=f"{type(error).__name__}: {error}",
            duration=actor.clock.monotonic() - started,
        )
    return TaskFinished(
        task_id=message.task_id,
        execution_id=message.execution_id,
        ok=True,
        duration=actor.clock.monotonic() - started,
    )


class TaskActor(Actor):
    """An actor that answers the `RunTask`s named in `task_ids` and ignores the others."""

    task_ids: frozenset[str] = frozenset()

    async def run_task(self, message: RunTask, work: Callable[[], Awaitable[Any]]) -> TaskFinished:
        """Run `work` once and describe the outcome."""
        return await run_task(self, message, work)

    async def dispatch(self, message: Any) -> None:
        if isinstance(message, AskRequest) or not isinstance(message, RunTask):
            await super().dispatch(message)
            return
        if message.task_id not in self.task_ids:
            return
        result = await self.handle(message)
        if isinstance(result, TaskFinished):
            await self.publish(result)
