"""The garden's supervision tree: which actors run, under which supervisor, reading which mailbox.

`build_garden(settings)` makes the bus, the store, every mailbox and the root supervisor;
`run_garden(garden)` runs it until cancelled. Mailboxes are made here, once, so they outlive
actor restarts. Each subsystem adds its actors in a function of its own below.

    root (one_for_one)
    ├── persistence        the only database writer
    ├── health             heartbeat and status
    ├── rate_limit.<svc>   one token bucket per service (ask Acquire)
    ├── cache              memory + SQLite (+ Redis) cache (ask CacheGet/CacheSet)
    └── ... (services, engines, web: added by their issues)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from greenhouse.cache import MultiLayerCache
from greenhouse.config import IntegrationSettings
from greenhouse.messages import GardenEvent, RunTask, ServiceStatusChanged
from greenhouse.ratelimit import bucket_for
from greenhouse.runtime import Bus, ChildSpec, Clock, Mailbox, Restart, Supervisor
from greenhouse.store import Store

from .cache import CacheActor
from .health import HealthActor
from .persistence import PersistenceActor
from .rate_limit import RateLimitActor

__all__ = ["Garden", "build_garden", "run_garden"]

log = logging.getLogger("greenhouse.tree")


@dataclass
class Garden:
    """Everything the running tree shares: settings, clock, bus, store and mailboxes."""

    settings: IntegrationSettings
    clock: Clock
    bus: Bus
    store: Store
    root: Supervisor = field(init=False)
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def mailbox(self, name: str) -> Mailbox:
        """The mailbox of the actor called `name`."""
        return self.mailboxes[name]

    def describe(self) -> str:
        """The tree as indented text, for the start-up log."""
        lines: list[str] = []

        def walk(sup: Supervisor, depth: int) -> None:
            lines.append(f"{'  ' * depth}{sup.name} (one_for_one, "
                         f"max {sup.max_restarts} restarts in {sup.period:g}s)")
            for spec in sup.specs:
                nested = sup_children.get(spec.name)
                if nested is not None:
                    walk(nested, depth + 1)
                else:
                    lines.append(f"{'  ' * (depth + 1)}{spec.name} [{spec.restart.value}]")

        sup_children: dict[str, Supervisor] = self.extras.get("supervisors", {})
        walk(self.root, 0)
        return "\n".join(lines)


ChildAdder = Callable[["Garden", list[ChildSpec]], None]


def _add_core(garden: Garden, children: list[ChildSpec]) -> None:
    settings, bus, clock = garden.settings, garden.bus, garden.clock
    persistence_box = bus.subscribe("persistence", (GardenEvent,), capacity=4096)
    health_box = bus.subscribe("health", (ServiceStatusChanged,), capacity=256)
    garden.mailboxes.update(persistence=persistence_box, health=health_box)
    children.append(
        ChildSpec(
            "persistence",
            lambda: PersistenceActor(
                persistence_box,
                bus,
                garden.store,
                clock=clock,
                flush_interval=settings.runtime.flush_interval,
                max_batch=settings.runtime.flush_max_batch,
            ),
            Restart.PERMANENT,
        )
    )
    children.append(
        ChildSpec(
            "health",
            lambda: HealthActor(health_box, bus, garden.root, clock=clock),
            Restart.PERMANENT,
        )
    )


RATE_LIMITED_SERVICES = ("github", "spotify", "weather", "wakatime", "social")


def _add_ratecache(garden: Garden, children: list[ChildSpec]) -> None:
    """One bucket actor per service (`rate_limit.<service>`, ask-only) and the cache actor."""
    settings, bus, clock = garden.settings, garden.bus, garden.clock
    limits = settings.rate_limits
    enabled = limits.enabled and settings.features.rate_limiting
    for service in RATE_LIMITED_SERVICES:
        name = f"rate_limit.{service}"
        box = bus.mailbox(name, capacity=1024)
        garden.mailboxes[name] = box
        per_minute = limits.per_minute(service)
        burst = bucket_for(per_minute, limits.burst_seconds, 0.0).capacity

        def make(service: str = service, box: Mailbox = box, per_minute: int = per_minute,
                 burst: float = burst) -> RateLimitActor:
            return RateLimitActor(service, box, bus, per_minute=per_minute, burst=burst,
                                  enabled=enabled, clock=clock)

        children.append(ChildSpec(name, make, Restart.PERMANENT))

    cache_settings = settings.cache
    cache_box = bus.subscribe("cache", (RunTask,), capacity=1024)
    garden.mailboxes["cache"] = cache_box

    def make_cache() -> MultiLayerCache:
        return MultiLayerCache(
            garden.store.path,
            clock=clock,
            max_entries=cache_settings.memory_max_entries,
            max_bytes=cache_settings.memory_max_bytes,
            default_ttl=cache_settings.default_ttl,
            redis_url=cache_settings.redis_url.get() or None,
        )

    children.append(
        ChildSpec("cache", lambda: CacheActor(cache_box, bus, make_cache, clock=clock),
                  Restart.PERMANENT)
    )


# Subsystems add themselves here, in start order.
SUBSYSTEMS: list[ChildAdder] = [_add_core, _add_ratecache]


def build_garden(
    settings: IntegrationSettings,
    *,
    clock: Clock | None = None,
    db_path: str | None = None,
    store: Store | None = None,
) -> Garden:
    """Make the bus, store, mailboxes and the root supervisor from settings."""
    clock = clock if clock is not None else Clock()
    bus = Bus()
    store = store if store is not None else Store(db_path or settings.runtime.db_path)
    garden = Garden(settings=settings, clock=clock, bus=bus, store=store)
    children: list[ChildSpec] = []
    for add in SUBSYSTEMS:
        add(garden, children)
    garden.root = Supervisor("root", children, clock=clock)
    return garden


async def run_garden(
    garden: Garden, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run the tree until cancelled; the store is closed (and checkpointed) on the way out."""
    log.info("supervision tree:\n%s", garden.describe())
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(garden.root.run)
            task_status.started()
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(garden.store.close)
