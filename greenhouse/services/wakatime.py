"""WakaTime: coding summaries, stats, durations, per-project time and productivity metrics.

    async with WakaTimeService(settings.wakatime) as waka:
        stats = await waka.get_stats("last_7_days")
        metrics = await waka.get_productivity_metrics(days=7)

Auth is HTTP Basic with the base64 of the API key (WakaTime's documented scheme). Stats for a
range are computed in the background by WakaTime: while they are, the API answers 202 (or 200
with `is_up_to_date: false` and no totals). That is not an error: `get_stats` returns
`CodingStats(pending=True, retry_after=...)` and the poller asks again later. Ready stats are
kept for `STATS_REFRESH` (an hour) and a finished day's durations for `PAST_DAY_REFRESH` (six
hours): a 30-minute poll then costs two requests (summaries, today's durations), not five.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx

from greenhouse.config import IntegrationSettings, WakaTimeConfig
from greenhouse.models import (
    CodingStats,
    ProductivityMetrics,
    ProjectTime,
    WakaDuration,
    WakaDurations,
    WakaStatsResponse,
    WakaStatusBar,
    WakaSummaries,
)
from greenhouse.productivity import coding_days, productivity_metrics, project_times
from greenhouse.runtime.clock import Clock

from .base import (
    APIResponse,
    BaseIntegration,
    ErrorKind,
    RequestGate,
    ResponseCache,
    RetryPolicy,
)

__all__ = ["STATS_RANGES", "WakaTimeService"]

STATS_RANGES = ("last_7_days", "last_30_days", "last_6_months", "last_year", "all_time")
PENDING_RETRY_SECONDS = 120.0  # when WakaTime gives no hint, ask again in two minutes
MAX_SUMMARY_DAYS = 366
# A finished day's durations only change when an offline editor syncs late: asked again every
# few hours, not on every 30-minute poll (today's are always asked).
PAST_DAY_REFRESH = 6 * 3600.0
# Range stats are a background computation over days of data; hourly is fresh enough.
STATS_REFRESH = 3600.0


class WakaTimeService(BaseIntegration):
    """Async client for the WakaTime API v1 (`/users/current/...`)."""

    name = "wakatime"
    health_path = "/users/current/status_bar/today"

    def __init__(
        self,
        settings: WakaTimeConfig | IntegrationSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        gate: RequestGate | None = None,
        cache: ResponseCache | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        **kwargs: Any,
    ) -> None:
        config = settings.wakatime if isinstance(settings, IntegrationSettings) else settings
        self.config = config
        super().__init__(
            config.api_base_url,
            transport=transport,
            clock=clock,
            gate=gate,
            cache=cache,
            retry=retry,
            sleep=sleep,
            **kwargs,
        )
        self.past_day_refresh = PAST_DAY_REFRESH
        self.stats_refresh = STATS_REFRESH
        # Answers kept between polls, with the monotonic time they were fetched: finished
        # days' durations (by date) and ready range stats (by range).
        self._past_durations: dict[date, tuple[float, APIResponse[WakaDurations]]] = {}
        self._ready_stats: dict[str, tuple[float, APIResponse[CodingStats]]] = {}

    # ---- auth ---------------------------------------------------------------------------------

    def _get_auth_headers(self) -> dict[str, str]:
        key = self.config.api_key.get()
        if not key:
            return {}
        return {"Authorization": "Basic " + base64.b64encode(key.encode()).decode("ascii")}

    def _secrets(self) -> list[str]:
        key = self.config.api_key.get()
        return [key, *super()._secrets()] if key else []

    # ---- raw endpoints -------------------------------------------------------------------------

    def today(self) -> date:
        """Today's date from the injected clock (UTC)."""
        return self.clock.now().date()

    async def get_summaries(
        self, start: date | str, end: date | str, *, project: str | None = None
    ) -> APIResponse[WakaSummaries]:
        """GET /users/current/summaries: one element per day from `start` to `end` inclusive."""
        start_s, end_s = str(start), str(end)
        try:
            span = (date.fromisoformat(end_s) - date.fromisoformat(start_s)).days
        except ValueError:
            return self._fail(ErrorKind.HTTP, f"summaries: dates must be YYYY-MM-DD, got {start_s}..{end_s}")
        if span < 0 or span >= MAX_SUMMARY_DAYS:
            return self._fail(ErrorKind.HTTP, f"summaries: range {start_s}..{end_s} is not 1-366 days")
        params = {"start": start_s, "end": end_s}
        if project:
            params["project"] = project
        return await self.get("/users/current/summaries", WakaSummaries, params=params)

    async def get_today(self) -> APIResponse[WakaStatusBar]:
        """GET /users/current/status_bar/today: today's totals (what the editor plugins show)."""
        return await self.get("/users/current/status_bar/today", WakaStatusBar)

    async def get_durations(self, day: date | str) -> APIResponse[WakaDurations]:
        """GET /users/current/durations?date=...: the day's stretches of coding."""
        return await self.get("/users/current/durations", WakaDurations, params={"date": str(day)})

    async def get_stats(self, range: str = "last_7_days") -> APIResponse[CodingStats]:  # noqa: A002
        """GET /users/current/stats/{range}; "still computing" is `pending`, not an error."""
        if range not in STATS_RANGES:
            return self._fail(ErrorKind.HTTP, f"stats: unknown range {range!r}")
        kept = self._ready_stats.get(range)
        if kept is not None and self._monotonic() - kept[0] < self.stats_refresh:
            return kept[1]
        fetched = self._monotonic()
        # Not conditional: a cached 202 body must never be served as if it were fresh stats.
        response = await self.make_request(
            "GET",
            f"/users/current/stats/{range}",
            response_type=WakaStatsResponse,
            conditional=False,
            endpoint="stats",
        )
        if not response.ok or response.data is None:
            return APIResponse(
                error=response.error,
                error_kind=response.error_kind,
                status_code=response.status_code,
                rate_limit=response.rate_limit,
                attempts=response.attempts,
            )
        stats = response.data.data
        pending = (
            response.status_code == 202
            or stats.status.lower() in ("pending_update", "updating")
            or (not stats.is_up_to_date and stats.total_seconds is None)
        )
        hint = response.rate_limit.retry_after if response.rate_limit else None
        result = CodingStats(
            range=range,
            pending=pending,
            stats=None if pending else stats,
            retry_after=(hint if hint is not None else PENDING_RETRY_SECONDS) if pending else None,
        )
        answer = APIResponse(
            data=result,
            status_code=response.status_code,
            rate_limit=response.rate_limit,
            attempts=response.attempts,
        )
        if not pending:
            self._ready_stats[range] = (fetched, answer)
        return answer

    # ---- derived -------------------------------------------------------------------------------

    async def get_project_times(self, days: int = 7) -> APIResponse[tuple[ProjectTime, ...]]:
        """Seconds per project over the last `days` days (feeds the growth engine)."""
        summaries = await self._recent_summaries(days)
        if not summaries.ok or summaries.data is None:
            return _carry(summaries)
        return APIResponse(
            data=project_times(coding_days(summaries.data.data)),
            status_code=summaries.status_code,
        )

    async def get_productivity_metrics(
        self, days: int = 7, *, duration_days: int = 3
    ) -> APIResponse[ProductivityMetrics]:
        """Daily average, focus sessions, streaks and most productive hours.

        Summaries cover `days` days; durations (one request per day) only the last
        `duration_days`, which is enough for "most productive hours" at a modest request cost.
        A failed durations request drops only the hourly part, it does not fail the metrics.
        """
        summaries = await self._recent_summaries(days)
        if not summaries.ok or summaries.data is None:
            return _carry(summaries)
        today = self.today()
        durations: list[WakaDuration] = []
        timezone: str | None = None
        wanted = max(0, min(duration_days, days))
        for back in range(wanted):
            day = await self._durations_of(today - timedelta(days=back), today)
            if day.ok and day.data is not None:
                durations.extend(day.data.data)
                timezone = timezone or day.data.timezone
        metrics = productivity_metrics(
            coding_days(summaries.data.data), durations, timezone=timezone
        )
        return APIResponse(data=metrics, status_code=summaries.status_code)

    async def _durations_of(self, day: date, today: date) -> APIResponse[WakaDurations]:
        """A day's durations; a finished day's are kept for `past_day_refresh` seconds."""
        if day >= today:
            return await self.get_durations(day)
        now = self._monotonic()
        kept = self._past_durations.get(day)
        if kept is not None and now - kept[0] < self.past_day_refresh:
            return kept[1]
        response = await self.get_durations(day)
        if response.ok:
            # Only the last few days are ever asked for: forget older ones.
            for old in [d for d in self._past_durations if (today - d).days > 7]:
                del self._past_durations[old]
            self._past_durations[day] = (now, response)
        return response

    async def _recent_summaries(self, days: int) -> APIResponse[WakaSummaries]:
        if days < 1:
            return self._fail(ErrorKind.HTTP, "summaries: days must be at least 1")
        today = self.today()
        return await self.get_summaries(today - timedelta(days=days - 1), today)


def _carry(response: APIResponse[Any]) -> APIResponse[Any]:
    """The same failure, re-typed for a derived result."""
    return APIResponse(
        error=response.error,
        error_kind=response.error_kind,
        status_code=response.status_code,
        rate_limit=response.rate_limit,
        attempts=response.attempts,
    )
