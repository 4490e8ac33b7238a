"""The health actor: a heartbeat that shows the tree is alive, and the status report.

It publishes a `Heartbeat` on each run of the scheduler's `health_checks` task
(HEALTH_CHECK_INTERVAL, 300 s), so a beat shows that the scheduler, the bus and this actor all
still turn; with `interval` set (no scheduler in the tree) it beats on its own timer instead.
Asked `StatusRequest` it answers with the supervision tree's state (each actor's state,
restarts, last error), the bus's queue depths, the services' availability and the last beat.
"""

from __future__ import annotations

from typing import Any

import trio

from greenhouse.messages import Heartbeat, Message, RunTask, ServiceStatusChanged
from greenhouse.runtime import Actor, Bus, Clock, Mailbox, Supervisor

__all__ = ["HEALTH_TASK", "HealthActor", "StatusRequest"]

HEALTH_TASK = "health_checks"  # the scheduler's task whose runs are the heartbeat


class StatusRequest(Message, frozen=True, kw_only=True):
    """Ask the health actor for the runtime's status."""


class HealthActor(Actor):
    """Publishes heartbeats and answers status requests.

    `interval=None`: beat only when the scheduler runs `health_checks` (the tree's setting: a
    timer of its own woke the whole runtime every 30 s to publish what nobody waits for).
    """

    def __init__(
        self,
        inbox: Mailbox,
        bus: Bus,
        root: Supervisor | None = None,
        *,
        clock: Clock | None = None,
        interval: float | None = 30.0,
        name: str = "health",
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        self.root = root
        self.interval = interval
        self.sequence = 0
        self.last_beat: float | None = None
        self.services: dict[str, dict[str, Any]] = {}

    async def run(self) -> None:
        if self.interval is None:
            await super().run()
            return
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._beat_every, self.interval)
            await super().run()
            nursery.cancel_scope.cancel()

    async def _beat_every(self, interval: float) -> None:
        while True:
            await self.beat()
            await self.clock.sleep(interval)

    async def beat(self) -> None:
        """Publish the next heartbeat."""
        self.sequence += 1
        self.last_beat = self.clock.time()
        await self.publish(Heartbeat(at=self.last_beat, sequence=self.sequence))

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
        if isinstance(message, RunTask) and message.task_id == HEALTH_TASK:
            await self.beat()
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
            "heartbeat_at": self.last_beat,
            "time": self.clock.time(),
            "tree": self.root.status.as_dict() if self.root is not None else None,
            "queues": queues,
            "services": dict(self.services),
        }
