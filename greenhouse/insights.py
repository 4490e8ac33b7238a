"""Query functions for the HTTP layer: portfolio, plants, mood trends and visitor analytics.

Each call opens a read-only connection (`Store.reader()`), runs in a worker thread so the trio
loop never waits on the disk, and returns msgspec Structs or plain data ready for JSON.

    insights = GardenInsights(garden.store, garden.clock)
    overview = await insights.get_portfolio_overview()        # /api/portfolio
    trends = await insights.get_mood_trends(hours=24)          # /api/mood?hours=24
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from greenhouse import analytics_store, histories
from greenhouse.engines.analytics import SESSION_TIMEOUT, EngagementMetrics, VisitorJourney
from greenhouse.engines.growth import PortfolioOverview
from greenhouse.engines.mood_trends import MoodTrends
from greenhouse.runtime import Clock
from greenhouse.store import Store

__all__ = ["GardenInsights"]

T = TypeVar("T")


class GardenInsights:
    """Read-side queries over the growth, mood and analytics tables."""

    def __init__(
        self, store: Store, clock: Clock, *, session_timeout: float = SESSION_TIMEOUT
    ) -> None:
        self.store = store
        self.clock = clock
        self.session_timeout = session_timeout

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            conn = self.store.reader()
            try:
                return query(conn)
            finally:
                conn.close()

        # Inline under a MockClock, where a worker thread would let virtual time jump.
        return await self.clock.run_sync(run)

    async def get_portfolio_overview(self) -> PortfolioOverview:
        """Plants per stage, the fastest growing, the dormant, coding time, languages."""
        return await self._read(histories.get_portfolio_overview)

    async def get_plants(self) -> list[histories.PlantState]:
        """Every plant's latest growth state."""
        return await self._read(histories.get_plants)

    async def get_mood_trends(self, hours: float = 24.0) -> MoodTrends:
        """The mood history of the last `hours`, per component, with turning points."""
        now = self.clock.time()
        return await self._read(lambda conn: histories.get_mood_trends(conn, hours, now))

    async def get_engagement_metrics(self, hours: float = 24.0) -> EngagementMetrics:
        """Visitors, sessions, pages per session, bounce rate, returning visitors, top plants."""
        now = self.clock.time()
        return await self._read(
            lambda conn: analytics_store.get_engagement_metrics(
                conn, hours, now, self.session_timeout
            )
        )

    async def get_visitor_journey_analysis(self, visitor_id: str) -> VisitorJourney:
        """One visitor id's sessions: entry, path sequence, exit."""
        return await self._read(
            lambda conn: analytics_store.get_visitor_journey_analysis(
                conn, visitor_id, self.session_timeout
            )
        )

    async def export_analytics_data(self) -> dict[str, Any]:
        """Sessions and 30-day metrics as plain data (opaque ids only)."""
        now = self.clock.time()
        return await self._read(lambda conn: analytics_store.export_analytics_data(conn, now))
