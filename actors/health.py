"""The health actor: a heartbeat that shows the tree is alive, and the status report.

Every `interval` seconds it publishes a `Heartbeat`; asked `StatusRequest` it answers with the
supervision tree's state (each actor's state, restarts, last error), the bus's queue depths and
the services' availability.
"""

from __future__ import annotations

from typing import Any

import trio

from greenhouse.messages import Heartbeat, Message, ServiceStatusChanged
from greenhouse.runtime import Actor, Bus, Clock, Mailbox, Supervisor

__all__ = ["HealthActor", "StatusRequest"]


class StatusRequest(Message, frozen=True, kw_only=True):
    """Ask the health actor for the runtime's status."""


class HealthActor(Actor):
    """Publishes heartbeats and answers status requests."""

    def __init__(
        self,
        inbox: Mailbox,
        bus: Bus,
        root: Supervisor | None = None,
        *,
        clock: Clock | None = None,
        interval: float = 30.0,
        name: str = "health",
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        self.root = root
        self.interval = interval
        self.sequence = 0
        self.services: dict[str, dict[str, Any]] = {}

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._beat)
            await super().run()
            nursery.cancel_scope.cancel()

    async def _beat(self) -> None:
        while True:
            self.sequence += 1
            await self.publish(Heartbeat(at=self.clock.time(), sequence=self.sequence))
            await self.clock.sleep(self.interval)

    async def handle(self, message: Any) -> Any:
        if isinstance(message, ServiceStatusChanged):
            self.services[message.service] = {
                "available": message.available,
                "error": message.error,
                "since": message.timestamp or self.clock.time(),
            }
            return None
        if isinstance(message, StatusRequest):
            return self.report()
        return None

    def report(self) -> dict[str, Any]:
        """The runtime's status as plain data."""
        queues = {}
        if self.bus is not None:
            for sub in self.bus.subscribers():
                stats = sub.mailbox.stats
                queues[sub.name] = {
                    "depth": len(sub.mailbox),
                    "capacity": sub.mailbox.capacity,
                    "policy": sub.mailbox.policy.value,
                    "delivered": stats.delivered,
                    "dropped": stats.dropped,
                    "blocked": stats.blocked,
                    "overdraft": stats.overdraft,
                }
        return {
            "heartbeat": self.sequence,
            "time": self.clock.time(),
            "tree": self.root.status.as_dict() if self.root is not None else None,
            "queues": queues,
            "services": dict(self.services),
        }
