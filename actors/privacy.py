"""The privacy actor: owns the daily salts, consent, data-subject requests and secrets at rest.

The HTTP layer `ask`s it with `VisitReceived` (raw address and user agent, never published on
the bus); it derives the day's visitor id, applies configuration, consent, DNT and GPC, and
publishes `VisitRecorded` for the analytics actor only when the visit may be counted. It answers
`RunTask(task_id="data_cleanup")` with `TaskFinished`, rotates the salt at each UTC midnight, and
after an erasure publishes `VisitorDataErased` so in-memory holders forget the id.

All database work runs in a worker thread on the actor's own connection, one call at a time.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from greenhouse.config import Secret
from greenhouse.messages import (
    ConsentState,
    ConsentSubmitted,
    DataSubjectRequestLookup,
    DataSubjectRequestSubmitted,
    PrivacyDashboardRequest,
    RunTask,
    SecretGet,
    SecretPut,
    TaskFinished,
    VisitorDataErased,
    VisitOutcome,
    VisitReceived,
    VisitRecorded,
)
from greenhouse.privacy import PrivacyManager, PrivacySignals, clean_path, clean_referrer
from greenhouse.privacy.subject_requests import DataSubjectRequest
from greenhouse.runtime import Actor, Bus, Clock, Mailbox

__all__ = ["CLEANUP_TASK", "PrivacyActor", "RequestLookupResult"]

CLEANUP_TASK = "data_cleanup"
DAY = 86400.0

T = TypeVar("T")


class RequestLookupResult:
    """A request's state plus its exports (only for its subject or the admin)."""

    __slots__ = ("request", "export_json", "export_csv")

    def __init__(
        self, request: DataSubjectRequest, export_json: str | None, export_csv: str | None
    ) -> None:
        self.request = request
        self.export_json = export_json
        self.export_csv = export_csv


class PrivacyActor(Actor):
    """Visitor ids, consent, data-subject requests and retention, as an actor."""

    def __init__(
        self,
        inbox: Mailbox,
        bus: Bus | None,
        open_manager: Callable[[], PrivacyManager],
        *,
        clock: Clock | None = None,
        before_erasure: Callable[[str], Awaitable[None]] | None = None,
        flush_writes: Callable[[], Awaitable[None]] | None = None,
        name: str = "privacy",
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        self.open_manager = open_manager
        self.before_erasure = before_erasure
        self.flush_writes = flush_writes
        self.manager: PrivacyManager | None = None
        self._lock = trio.Lock()
        self.visits_recorded = 0
        self.visits_refused: dict[str, int] = {}

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        # One connection, one thread at a time: the midnight rotation runs beside the mailbox.
        async with self._lock:
            return await self.clock.run_sync(fn, *args)

    async def _call_inline(self, fn: Callable[..., T], *args: Any) -> T:
        # For the per-visit path only: an indexed read of a few rows costs less than handing
        # the call to a worker thread, and a page view should not queue behind thread start-up.
        async with self._lock:
            return fn(*args)

    async def started(self) -> None:
        self.manager = await self.clock.run_sync(self.open_manager)
        await self._call(self.manager.salts.rotate, self.clock.time())

    async def stopped(self) -> None:
        if self.manager is not None:
            self.manager.close()
            self.manager = None

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._rotate_at_midnight)
            await super().run()
            nursery.cancel_scope.cancel()

    async def _rotate_at_midnight(self) -> None:
        while True:
            now = self.clock.time()
            next_midnight = (math.floor(now / DAY) + 1) * DAY
            await self.clock.sleep(next_midnight - now + 1.0)
            if self.manager is not None:
                await self._call(self.manager.salts.rotate, self.clock.time())

    # -- messages ----------------------------------------------------------------------------

    async def handle(self, message: Any) -> Any:
        manager = self.manager
        assert manager is not None, "handle before started"
        now = self.clock.time()
        if isinstance(message, VisitReceived):
            return await self._visit(manager, message, now)
        if isinstance(message, ConsentSubmitted):
            return await self._consent(manager, message, now)
        if isinstance(message, DataSubjectRequestSubmitted):
            return await self._request(manager, message, now)
        if isinstance(message, DataSubjectRequestLookup):
            return await self._lookup(manager, message, now)
        if isinstance(message, PrivacyDashboardRequest):
            return await self._call(manager.get_privacy_dashboard_data, now)
        if isinstance(message, RunTask):
            return await self._run_task(manager, message, now)
        if isinstance(message, SecretPut):
            value = message.value if isinstance(message.value, Secret) else Secret(message.value)
            return await self._call(manager.secrets.put, message.name, value, now)
        if isinstance(message, SecretGet):
            return await self._call(manager.secrets.get, message.name)
        return None

    def _visit_sync(self, manager: PrivacyManager, visit: VisitReceived, now: float) -> tuple[str, str | None]:
        visitor_id = manager.generate_visitor_id(visit.ip, visit.user_agent, now)
        return visitor_id, manager.analytics_refusal(
            visitor_id, PrivacySignals(dnt=visit.dnt, gpc=visit.gpc), now
        )

    async def _visit(self, manager: PrivacyManager, visit: VisitReceived, now: float) -> VisitOutcome:
        # Inline is a read; the first visit of a new day may write the new salt, which could
        # wait on the database lock, so that one goes to a worker thread.
        call = self._call_inline if manager.salts.is_current(now) else self._call
        visitor_id, refusal = await call(self._visit_sync, manager, visit, now)
        if refusal is not None:
            self.visits_refused[refusal] = self.visits_refused.get(refusal, 0) + 1
            return VisitOutcome(recorded=False, reason=refusal)
        await self.publish(
            VisitRecorded(
                visitor_id=visitor_id,
                path=clean_path(visit.path),
                referrer=clean_referrer(visit.referrer),
                at=now,
            )
        )
        self.visits_recorded += 1
        return VisitOutcome(recorded=True)

    async def _consent(
        self, manager: PrivacyManager, message: ConsentSubmitted, now: float
    ) -> ConsentState:
        visitor_id = await self._call(
            manager.generate_visitor_id, message.ip, message.user_agent, now
        )

        def work() -> dict[str, Any]:
            if message.withdraw:
                return manager.withdraw_consent(visitor_id, now)
            return manager.record_consent(
                visitor_id, message.granted, now, refused=message.refused,
                policy_version=message.policy_version,
            )

        state = await self._call(work)
        return ConsentState(
            categories={name: decision.granted for name, decision in state.items()},
            policy_version=manager.config.policy_version,
        )

    async def _request(
        self, manager: PrivacyManager, message: DataSubjectRequestSubmitted, now: float
    ) -> DataSubjectRequest:
        if message.admin and message.visitor_id:
            visitor_id = message.visitor_id
        else:
            visitor_id = await self._call(
                manager.generate_visitor_id, message.ip, message.user_agent, now
            )
        try:
            if message.type == "erasure" and self.before_erasure is not None:
                await self.before_erasure(visitor_id)
            elif self.flush_writes is not None:
                await self.flush_writes()
        except Exception as error:  # go on; what was in flight is logged as a risk
            self.log.warning("could not settle in-flight rows before the request: %s",
                             type(error).__name__)
        admin = message.admin

        def work() -> DataSubjectRequest:
            return manager.create_data_subject_request(
                message.type, visitor_id, now, limited=not admin
            )

        request = await self._call(work)
        if request.type == "erasure" and request.status == "completed":
            await self.publish(VisitorDataErased(visitor_id=visitor_id))
        return request

    async def _lookup(
        self, manager: PrivacyManager, message: DataSubjectRequestLookup, now: float
    ) -> RequestLookupResult | None:
        def work() -> RequestLookupResult | None:
            request = manager.get_request(message.request_id, now)
            if request is None:
                return None
            subject = manager.requests.subject_of(message.request_id)
            mine = subject is not None and subject == manager.generate_visitor_id(
                message.ip, message.user_agent, now
            )
            if not (mine or message.admin):
                return RequestLookupResult(request, None, None)
            export_json, export_csv = manager.requests.exports(message.request_id)
            return RequestLookupResult(request, export_json, export_csv)

        return await self._call(work)

    async def _run_task(
        self, manager: PrivacyManager, message: RunTask, now: float
    ) -> TaskFinished | None:
        if message.task_id != CLEANUP_TASK:
            return None
        started = self.clock.monotonic()
        try:
            await self._call(manager.data_cleanup, now)
        except Exception as error:  # the scheduler records the failure; the actor lives on
            self.log.warning("data_cleanup failed: %s", type(error).__name__)
            return TaskFinished(
                task_id=message.task_id, execution_id=message.execution_id, ok=False,
                error=f"{type(error).__name__}: {error}",
                duration=self.clock.monotonic() - started,
            )
        return TaskFinished(
            task_id=message.task_id, execution_id=message.execution_id, ok=True,
            duration=self.clock.monotonic() - started,
        )
