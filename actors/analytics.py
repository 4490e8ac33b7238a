"""The analytics actor: live viewer counts and visitor sessions (opaque visitor ids only).

* `ViewerConnected` / `ViewerDisconnected` (from the WebSocket actor) change the live count and
  publish `VisitorJoined` / `VisitorLeft`, which carry counts and never an id.
* `VisitRecorded` (from the privacy actor, only for visits it allows) is kept in memory for the
  session window; the persistence actor writes it to `analytics_visits` itself.
* `RunTask("analytics_processing")` rebuilds the recent sessions and upserts them into
  `analytics_sessions` (`AnalyticsSessionsComputed`).
* `VisitorDataErased` (privacy) makes it forget that id's visits, so an erased visitor's
  sessions are never written back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from greenhouse.engines.analytics import (
    SESSION_TIMEOUT,
    LiveViewers,
    Visit,
    referrer_host,
    sessionize,
)
from greenhouse.messages import (
    AnalyticsSession,
    AnalyticsSessionsComputed,
    RunTask,
    ViewerConnected,
    ViewerDisconnected,
    VisitorDataErased,
    VisitorJoined,
    VisitorLeft,
    VisitRecorded,
)
from greenhouse.runtime import Bus, Clock, Mailbox
from greenhouse.task_actor import TaskActor

__all__ = ["ANALYTICS_INPUTS", "AnalyticsActor"]

ANALYTICS_INPUTS: tuple[type, ...] = (
    VisitRecorded,
    ViewerConnected,
    ViewerDisconnected,
    RunTask,
    VisitorDataErased,  # an erasure (privacy) must not come back from memory in a session
)
KEEP_SECONDS = 48 * 3600.0  # today's visitors and any session still open fit in two days
MAX_VISITS = 200_000  # memory bound on a Raspberry Pi; older visits stay in SQLite


class AnalyticsActor(TaskActor):
    """Owns the live viewer set and the recent visits."""

    task_ids = frozenset({"analytics_processing"})

    def __init__(
        self,
        inbox: Mailbox,
        bus: Bus,
        clock: Clock | None = None,
        *,
        session_timeout: float = SESSION_TIMEOUT,
        timezone: str = "UTC",
        load_visits: Callable[[float], list[Visit]] | None = None,
        name: str = "analytics",
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        self.session_timeout = session_timeout
        self.zone: tzinfo
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")
        self.load_visits = load_visits
        self.visits: deque[Visit] = deque(maxlen=MAX_VISITS)
        self.live = LiveViewers()
        self._loaded = False

    async def started(self) -> None:
        if self.load_visits is None or self._loaded:
            return
        since = self.clock.time() - KEEP_SECONDS
        try:
            restored = await self.clock.run_sync(self.load_visits, since)
        except Exception:
            self.log.exception("could not restore recent visits")
            return
        self.visits.extend(restored)
        self._loaded = True

    async def handle(self, message: Any) -> Any:
        now = self.clock.time()
        if isinstance(message, RunTask):
            if message.task_id not in self.task_ids:
                return None
            return await self.run_task(message, lambda: self.process(now))
        if isinstance(message, VisitorDataErased):
            self.forget(message.visitor_id)
        elif isinstance(message, VisitRecorded):
            self.visits.append(
                Visit(
                    visitor_id=message.visitor_id,
                    path=message.path.split("?", 1)[0] or "/",
                    referrer=referrer_host(message.referrer),
                    at=message.at,
                )
            )
        elif isinstance(message, ViewerConnected) and self.live.connect(message.connection_id):
            await self.publish(
                VisitorJoined(
                    live_viewers=self._live_count(message.live_viewers),
                    visitors_today=self.visitors_today(now),
                    source="analytics",
                    timestamp=now,
                )
            )
        elif isinstance(message, ViewerDisconnected) and self.live.disconnect(
            message.connection_id
        ):
            await self.publish(
                VisitorLeft(
                    live_viewers=self._live_count(message.live_viewers),
                    visitors_today=self.visitors_today(now),
                    source="analytics",
                    timestamp=now,
                )
            )
        return None

    def _live_count(self, reported: int) -> int:
        """The WebSocket actor owns the connections: its count wins when it gives one.

        After it restarts, connections it lost never send a disconnect; its own count is right
        while the set of ids here still holds them.
        """
        return reported if reported > 0 else len(self.live)

    def forget(self, visitor_id: str) -> int:
        """Drop every visit of `visitor_id` held in memory (an erasure); returns how many."""
        kept = [v for v in self.visits if v.visitor_id != visitor_id]
        dropped = len(self.visits) - len(kept)
        self.visits = deque(kept, maxlen=MAX_VISITS)
        return dropped

    def visitors_today(self, now: float) -> int:
        """Distinct visitor ids since local midnight (in the garden's time zone)."""
        local = datetime.fromtimestamp(now, tz=self.zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        return len({v.visitor_id for v in self.visits if midnight <= v.at <= now})

    async def process(self, now: float) -> None:
        """Drop visits past the window and publish the recent sessions for storage."""
        while self.visits and self.visits[0].at < now - KEEP_SECONDS:
            self.visits.popleft()
        sessions = sessionize(self.visits, self.session_timeout)
        await self.publish(
            AnalyticsSessionsComputed(
                sessions=tuple(
                    AnalyticsSession(
                        visitor_id=s.visitor_id,
                        start=s.start,
                        end=s.end,
                        paths=s.paths,
                        referrer=s.referrer,
                    )
                    for s in sessions
                ),
                computed_at=now,
            )
        )
