"""The garden's supervision tree: which actors run, under which supervisor, reading which mailbox.

`build_garden(settings)` makes the bus, the store, every mailbox and the root supervisor;
`run_garden(garden)` runs it until cancelled. Mailboxes are made here, once, so they outlive
actor restarts. Each subsystem adds its actors in a function of its own below.

    root (one_for_one)
    ├── persistence        the only database writer
    ├── health             heartbeat and status
    └── ... (services, engines, web: added by their issues)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from greenhouse import analytics_store, histories
from greenhouse.config import IntegrationSettings
from greenhouse.insights import GardenInsights
from greenhouse.messages import (
    AnalyticsSessionsComputed,
    GardenEvent,
    GrowthScored,
    MoodSynthesized,
    ServiceStatusChanged,
    VisitRecorded,
)
from greenhouse.runtime import Bus, ChildSpec, Clock, Mailbox, Restart, Supervisor
from greenhouse.store import Store

from .analytics import ANALYTICS_INPUTS, AnalyticsActor
from .growth import GROWTH_INPUTS, GrowthActor
from .health import HealthActor
from .mood import MOOD_INPUTS, MoodActor
from .persistence import PersistenceActor

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


def _reader(garden: Garden, query: Callable[..., Any]) -> Callable[..., Any]:
    """`query(conn, *args)` on a fresh read-only connection (run it in a worker thread)."""

    def run(*args: Any) -> Any:
        conn = garden.store.reader()
        try:
            return query(conn, *args)
        finally:
            conn.close()

    return run


def _add_engines(garden: Garden, children: list[ChildSpec]) -> None:
    """Growth, mood and analytics actors, their history writers and the read-side queries."""
    settings, bus, clock, store = garden.settings, garden.bus, garden.clock, garden.store
    persisted: list[type] = [GrowthScored]
    store.register_writer(GrowthScored, histories.write_growth_scores)
    store.register_writer(MoodSynthesized, histories.write_mood_history)
    store.register_writer(VisitRecorded, analytics_store.write_visits)
    store.register_writer(AnalyticsSessionsComputed, analytics_store.write_sessions)

    growth_box = bus.subscribe("growth", GROWTH_INPUTS, capacity=512)
    garden.mailboxes["growth"] = growth_box
    children.append(
        ChildSpec(
            "growth",
            lambda: GrowthActor(
                growth_box,
                bus,
                clock,
                config=settings.growth,
                predict=settings.features.growth_prediction,
                load_state=_reader(garden, histories.load_growth_state),
            ),
            Restart.PERMANENT,
        )
    )
    if settings.features.mood_synthesis:
        persisted.append(MoodSynthesized)
        mood_box = bus.subscribe("mood", MOOD_INPUTS, capacity=256)
        garden.mailboxes["mood"] = mood_box
        children.append(
            ChildSpec(
                "mood",
                lambda: MoodActor(
                    mood_box,
                    bus,
                    clock,
                    config=settings.mood,
                    load_last=_reader(garden, histories.load_last_mood),
                ),
                Restart.PERMANENT,
            )
        )
    if settings.privacy.analytics_enabled:
        persisted += [VisitRecorded, AnalyticsSessionsComputed]
        analytics_box = bus.subscribe("analytics", ANALYTICS_INPUTS, capacity=1024)
        garden.mailboxes["analytics"] = analytics_box
        children.append(
            ChildSpec(
                "analytics",
                lambda: AnalyticsActor(
                    analytics_box,
                    bus,
                    clock,
                    session_timeout=settings.analytics.session_timeout,
                    timezone=settings.scheduler.timezone,
                    load_visits=_reader(garden, analytics_store.load_visits),
                ),
                Restart.PERMANENT,
            )
        )
    # History rows ride in the persistence actor's batched transactions.
    bus.subscribe("persistence.engines", tuple(persisted), mailbox=garden.mailbox("persistence"))
    garden.extras["insights"] = GardenInsights(
        store, clock, session_timeout=settings.analytics.session_timeout
    )


def _add_github(garden: Garden, children: list[ChildSpec]) -> None:
    from .github import add_github  # issue 3: GitHub poller (only when configured or faked)

    add_github(garden, children)


# Subsystems add themselves here, in start order.
SUBSYSTEMS: list[ChildAdder] = [_add_core, _add_github, _add_engines]


def build_garden(
    settings: IntegrationSettings,
    *,
    clock: Clock | None = None,
    db_path: str | None = None,
    store: Store | None = None,
    extras: dict[str, Any] | None = None,
) -> Garden:
    """Make the bus, store, mailboxes and the root supervisor from settings."""
    clock = clock if clock is not None else Clock()
    bus = Bus()
    store = store if store is not None else Store(db_path or settings.runtime.db_path)
    garden = Garden(settings=settings, clock=clock, bus=bus, store=store)
    # Injected before the adders run, e.g. {"transports": {"github": httpx.MockTransport(...)}}.
    garden.extras.update(extras or {})
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
