"""The message bus: typed publish/subscribe over per-subscriber mailboxes.

A subscriber declares the message types it takes (subclasses included) and gets its own
`Mailbox`; `publish` delivers one message to every matching mailbox. Delivery order per publisher
is preserved for every subscriber. A closed mailbox (a viewer that went away) is unsubscribed on
the next publish instead of failing the publisher.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import trio

from .mailbox import Mailbox, MailboxClosed, OverflowPolicy, WaitGraph

__all__ = ["Bus", "Subscription"]


@dataclass
class Subscription:
    """One subscriber: its name, the types it takes, and its mailbox."""

    name: str
    types: tuple[type, ...]
    mailbox: Mailbox


class Bus:
    """Publish typed messages to subscribers' bounded mailboxes."""

    def __init__(self) -> None:
        self._subscriptions: dict[str, Subscription] = {}
        self._routes: dict[type, list[Subscription]] = {}
        self.wait_graph = WaitGraph()
        self.published = 0

    def mailbox(
        self,
        name: str,
        capacity: int = 256,
        policy: OverflowPolicy | str = OverflowPolicy.BLOCK,
    ) -> Mailbox:
        """A mailbox that shares this bus's wait graph but subscribes to nothing (ask-only)."""
        return Mailbox(name, capacity, OverflowPolicy(policy), self.wait_graph)

    def subscribe(
        self,
        name: str,
        types: tuple[type, ...] | type,
        capacity: int = 256,
        policy: OverflowPolicy | str = OverflowPolicy.BLOCK,
        mailbox: Mailbox | None = None,
    ) -> Mailbox:
        """Register `name` for messages of `types`; returns its mailbox (new unless given)."""
        if name in self._subscriptions:
            raise ValueError(f"subscriber {name!r} already exists")
        wanted = types if isinstance(types, tuple) else (types,)
        box = mailbox if mailbox is not None else self.mailbox(name, capacity, policy)
        self._subscriptions[name] = Subscription(name, wanted, box)
        self._routes.clear()
        return box

    def unsubscribe(self, name: str) -> None:
        """Remove a subscriber (idempotent)."""
        if self._subscriptions.pop(name, None) is not None:
            self._routes.clear()

    def subscribers(self) -> list[Subscription]:
        """Current subscriptions, in registration order."""
        return list(self._subscriptions.values())

    def _route(self, message_type: type) -> list[Subscription]:
        route = self._routes.get(message_type)
        if route is None:
            route = [s for s in self._subscriptions.values() if issubclass(message_type, s.types)]
            self._routes[message_type] = route
        return route

    async def publish(self, message: Any) -> int:
        """Deliver to every matching subscriber; returns how many mailboxes took it."""
        delivered = await self._deliver(message)
        await trio.lowlevel.checkpoint()
        return delivered

    async def publish_many(self, messages: Iterable[Any], *, checkpoint: bool = True) -> int:
        """Publish several messages in order with one scheduler checkpoint for all of them.

        Same guarantees as `publish` (a full `block` mailbox still makes the caller wait); it
        only saves the per-message trip through trio's scheduler, which dominates the cost of a
        burst of small messages. `checkpoint=False` leaves out that one too, for a handler's
        last messages (it began at a schedule point; a mailbox that is full still waits).
        """
        batch = messages if isinstance(messages, list) else list(messages)
        delivered, start, end = 0, 0, len(batch)
        while start < end:
            # A run of one type goes to its subscribers in one step each when it fits in every
            # one of their mailboxes as it is; otherwise message by message (waits, drops).
            kind = type(batch[start])
            stop = start + 1
            while stop < end and type(batch[stop]) is kind:
                stop += 1
            run = batch[start:stop] if start or stop < end else batch
            route = self._route(kind)
            if self._offer_run(route, run):
                delivered += len(run) * len(route)
            else:
                for message in run:
                    delivered += await self._deliver(message)
            start = stop
        if checkpoint:
            await trio.lowlevel.checkpoint()
        return delivered

    async def _deliver(self, message: Any) -> int:
        self.published += 1
        delivered = 0
        for sub in self._route(type(message)):
            box = sub.mailbox
            try:
                if box.put_nowait(message):
                    delivered += 1
                elif box.policy is OverflowPolicy.BLOCK:
                    await box.put_waiting(message)
                    delivered += 1
            except MailboxClosed:
                self.unsubscribe(sub.name)
        return delivered

    def offer(self, message: Any) -> bool:
        """Deliver to every subscriber if each mailbox takes it now, without a schedule point.

        Returns False, having delivered nothing, when one would wait, drop or disconnect: the
        caller then `await`s `publish`. For a task that just passed a schedule point and whose
        message is the last thing it does (it saves a trip through trio's scheduler).
        """
        return self._offer_run(self._route(type(message)), [message])

    def _offer_run(self, route: list[Subscription], run: list[Any]) -> bool:
        """Deliver `run` (messages of one type) to all of `route` if each takes it as it is."""
        if not all(sub.mailbox.fits(len(run)) for sub in route):
            return False
        self.published += len(run)
        for sub in route:
            sub.mailbox.put_all_nowait(run)
        return True

    def publish_nowait(self, message: Any) -> int:
        """Deliver without waiting; a full `block` mailbox raises `trio.WouldBlock`.

        Only for callers that cannot await (sync callbacks); actors use `publish`.
        """
        self.published += 1
        delivered = 0
        for sub in self._route(type(message)):
            try:
                if sub.mailbox.put_nowait(message):
                    delivered += 1
                elif sub.mailbox.policy is OverflowPolicy.BLOCK:
                    raise trio.WouldBlock(f"mailbox of {sub.name} is full")
            except MailboxClosed:
                self.unsubscribe(sub.name)
        return delivered
