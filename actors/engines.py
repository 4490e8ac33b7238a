"""Wiring of the engine actors (issue 6): growth, mood, analytics, their history writers, and
the read-side queries (`garden.extras["insights"]`).

Mailboxes: `growth`, `mood`, `analytics` (the scheduler can `ask` them `RunTask`); history rows
reach the persistence mailbox through the `persistence.engines` subscription.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from greenhouse import analytics_store, histories
from greenhouse.insights import GardenInsights
from greenhouse.messages import (
    AnalyticsSessionsComputed,
    GrowthScored,
    HistoryTrimmed,
    MoodSynthesized,
    VisitRecorded,
)
from greenhouse.runtime import ChildSpec, Restart

from .analytics import ANALYTICS_INPUTS, AnalyticsActor
from .growth import GROWTH_INPUTS, GrowthActor
from .mood import MOOD_INPUTS, MoodActor

if TYPE_CHECKING:
    from .tree import Garden

__all__ = ["add_engines"]


def _reader(garden: Garden, query: Callable[..., Any]) -> Callable[..., Any]:
    """`query(conn, *args)` on a fresh read-only connection (run it in a worker thread)."""

    def run(*args: Any) -> Any:
        conn = garden.store.reader()
        try:
            return query(conn, *args)
        finally:
            conn.close()

    return run


def add_engines(garden: Garden, children: list[ChildSpec]) -> None:
    """Growth, mood and analytics actors, their history writers and the read-side queries."""
    settings, bus, clock, store = garden.settings, garden.bus, garden.clock, garden.store
    persisted: list[type] = [GrowthScored, HistoryTrimmed]
    store.register_writer(GrowthScored, histories.write_growth_scores)
    store.register_writer(MoodSynthesized, histories.write_mood_history)
    store.register_writer(HistoryTrimmed, histories.write_trims)
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
