"""The WakaTime poller: coding time every 30 min, `coding_activity` when it changes.

Each successful poll publishes `CodingActivityObserved` (per-project time for the growth engine,
intensity and focus for the mood engine). Viewers get `CodingActivity` only when today's coding
moved by `CHANGE_SECONDS` or more, or the top project or the streak changed. While WakaTime is
still computing the range stats (202), the poller asks again after its hint instead of waiting
the full interval (in the tree by asking the scheduler, `ExecuteTaskNow`, which keeps any
Retry-After hold; a standalone poller on its own loop). A failing API marks the service unavailable and keeps `last_data`.
"""

from __future__ import annotations

from typing import Any

import trio

from greenhouse.messages import CodingActivity, CodingActivityObserved, ExecuteTaskNow, RunTask
from greenhouse.models import WakaStats
from greenhouse.polling import PollerActor
from greenhouse.runtime import AskError, AskTimeout, Bus, Clock, Mailbox, ask
from greenhouse.services.wakatime import WakaTimeService

__all__ = ["CHANGE_SECONDS", "WakaTimePoller"]

CHANGE_SECONDS = 300.0  # five more minutes of coding is worth telling the viewers
MIN_PENDING_RETRY = 30.0


class WakaTimePoller(PollerActor):
    """Polls summaries, durations and stats through `WakaTimeService`."""

    service_name = "wakatime"
    task_id = "wakatime_sync"
    service: WakaTimeService

    def __init__(
        self,
        inbox: Mailbox | None,
        bus: Bus | None,
        service: WakaTimeService,
        clock: Clock | None = None,
        *,
        interval: float | None = 30 * 60.0,
        days: int = 7,
        stats_range: str = "last_7_days",
        sync_timeout: float = 300.0,
        scheduler: Mailbox | None = None,
        availability: dict[str, bool] | None = None,
        name: str = "wakatime",
    ) -> None:
        super().__init__(
            name, inbox, bus, clock, interval=interval, sync_timeout=sync_timeout,
            availability=availability,
        )
        self.service = service
        self.days = days
        self.stats_range = stats_range
        self.last_data: CodingActivityObserved | None = None
        self.last_stats: WakaStats | None = None
        self.last_published: CodingActivity | None = None
        self.stats_retry_in: float | None = None  # set while WakaTime computes the stats
        self.scheduler = scheduler  # scheduled (interval None): where to ask for the early run
        self._nursery: trio.Nursery | None = None
        self._asking = False  # an early run is already being waited for

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await super().run()
            nursery.cancel_scope.cancel()

    async def handle(self, message: Any) -> Any:
        reply = await super().handle(message)
        if (
            isinstance(message, RunTask)
            and message.task_id == self.task_id
            and self.stats_retry_in is not None
            and self.scheduler is not None
            and self._nursery is not None
            and not self._asking
        ):
            self._asking = True
            self._nursery.start_soon(self._run_again, self.stats_retry_in)
        return reply

    async def _run_again(self, delay: float) -> None:
        assert self.scheduler is not None
        try:
            await self.clock.sleep(delay)
            await ask(self.scheduler, ExecuteTaskNow(task_id=self.task_id),
                      timeout=self.clock.to_trio(30.0))
        except (AskError, AskTimeout) as error:  # the next interval run asks all the same
            self.log.warning("early wakatime sync not queued: %s", type(error).__name__)
        finally:
            self._asking = False

    async def _poll_loop(self) -> None:
        # The base loop, except that "still computing" stats are asked for again sooner.
        assert self.interval is not None
        while True:
            started = self.clock.monotonic()
            await self.sync()
            wake = started + self.interval
            if self.stats_retry_in is not None:
                wake = min(wake, self.clock.monotonic() + self.stats_retry_in)
            await self.clock.sleep_until(wake)

    async def poll(self) -> str | None:
        metrics = await self.service.get_productivity_metrics(days=self.days)
        if not metrics.ok or metrics.data is None:
            return metrics.error or "wakatime: no data"
        stats = await self.service.get_stats(self.stats_range)
        pending = False
        if stats.ok and stats.data is not None:
            pending = stats.data.pending
            if stats.data.stats is not None:
                self.last_stats = stats.data.stats
            self.stats_retry_in = (
                max(MIN_PENDING_RETRY, stats.data.retry_after or 0.0) if pending else None
            )
        else:
            # Stats are a refinement; the summaries already answered, so this is not a failure.
            self.log.info("wakatime stats unavailable: %s", stats.error)
        data = metrics.data
        if self.last_stats is not None and self.last_stats.languages:
            languages = {lang.name: lang.total_seconds for lang in self.last_stats.languages}
        else:
            languages = {lang.name: lang.seconds for lang in data.top_languages}
        now = self.clock.time()
        observed = CodingActivityObserved(
            observed_at=now,
            days=self.days,
            today_seconds=data.today_seconds,
            projects=data.top_projects,
            languages=languages,
            metrics=data,
            stats_pending=pending,
        )
        self.last_data = observed
        await self.publish(observed)
        event = CodingActivity(
            today_seconds=data.today_seconds,
            top_project=data.top_projects[0].name if data.top_projects else None,
            intensity=data.intensity,
            current_streak=data.current_streak,
            focus_sessions=data.focus_sessions,
            source="wakatime_sync",
            timestamp=now,
        )
        if coding_changed(self.last_published, event):
            self.last_published = event
            await self.publish(event)
        return None


def coding_changed(previous: CodingActivity | None, current: CodingActivity) -> bool:
    """True when viewers should hear about `current`."""
    if previous is None:
        return True
    return (
        abs(current.today_seconds - previous.today_seconds) >= CHANGE_SECONDS
        or current.top_project != previous.top_project
        or current.current_streak != previous.current_streak
    )
