"""One poller under a supervisor with a collector: the set-up the poller tests share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from greenhouse.messages import RunTask
from greenhouse.runtime import Bus, ChildSpec, Clock, Mailbox, Supervisor


class Collector:
    """Everything of the given types published on the bus, in order."""

    def __init__(self, bus: Bus, types: tuple[type, ...]) -> None:
        self.box = bus.subscribe("collector", types, capacity=100_000)
        self.seen: list[Any] = []

    async def run(self) -> None:
        async for message in self.box:
            self.seen.append(message)

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.seen if isinstance(m, kind)]


async def run_tree(
    make: Callable[[Bus, Mailbox, Clock], Any],
    start: float,
    types: tuple[type, ...],
    script: Callable[[Collector, Supervisor, Bus], Any],
    subscribe: tuple[type, ...] = (RunTask,),
) -> None:
    """One poller under a supervisor with a collector; run `script`, then stop everything."""
    clock = Clock(start_epoch=start)
    bus = Bus()
    box = bus.subscribe("poller", subscribe, capacity=64)
    collector = Collector(bus, types)
    root = Supervisor("root", [ChildSpec("poller", lambda: make(bus, box, clock))], clock=clock)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(collector.run)
        nursery.start_soon(root.run)
        await trio.sleep(0.001)
        await script(collector, root, bus)
        nursery.cancel_scope.cancel()
