"""The cache actor: owns the multi-layer cache (memory, SQLite, optional Redis).

Every request is an `ask` (`CacheGet`, `CacheSet`, `CacheDelete`, `CacheClearTag`,
`CacheStatsRequest`, `CacheMaintenance`). Each one runs in its own task in a nursery the actor
owns, so a slow fetch on one key never holds up hits on others; single flight inside the cache
makes concurrent misses on one key share one fetch. A plain read (no fetch, no Redis layer)
never waits, so it is answered in line: a task of its own would cost more than the read.
Maintenance (purge, checkpoint, shrink) runs on `RunTask("cache_maintenance")`: asked by the
scheduler (daily by its cron), the reply is the `TaskFinished`; published on the bus, the
`TaskFinished` is published. Standalone (no scheduler) the actor can time it itself every
`maintenance_interval` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import trio

from greenhouse.cache import MultiLayerCache
from greenhouse.messages import (
    CacheClearTag,
    CacheDelete,
    CacheGet,
    CacheMaintenance,
    CacheSet,
    CacheStatsRequest,
    RunTask,
    TaskFinished,
)
from greenhouse.runtime import Actor, AskRequest, Bus, Clock, Mailbox
from greenhouse.task_actor import run_task

__all__ = ["MAINTENANCE_TASK", "CacheActor"]

MAINTENANCE_TASK = "cache_maintenance"


class CacheActor(Actor):
    """Answers cache requests concurrently over one `MultiLayerCache`."""

    def __init__(
        self,
        inbox: Mailbox,
        bus: Bus | None,
        make_cache: Callable[[], MultiLayerCache],
        *,
        clock: Clock | None = None,
        maintenance_interval: float = 86400.0,
        name: str = "cache",
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        self.make_cache = make_cache
        self.maintenance_interval = maintenance_interval
        self.cache: MultiLayerCache | None = None
        self.maintenance_runs = 0
        self._nursery: trio.Nursery | None = None

    async def run(self) -> None:
        # The cache (and its SQLite connections) is opened on the first request and lives until
        # this run ends: a garden that never uses it opens nothing, and start-up (when the
        # persistence actor is busiest) does not compete for the database.
        self.cache = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if math.isfinite(self.maintenance_interval):
                    nursery.start_soon(self._maintenance_loop)
                await super().run()
                nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            if self.cache is not None:
                with trio.CancelScope(shield=True):
                    await self.cache.aclose()
                self.cache = None

    def _open(self) -> MultiLayerCache:
        if self.cache is None:
            self.cache = self.make_cache()
        return self.cache

    async def dispatch(self, message: Any) -> None:
        if isinstance(message, AskRequest) and self._nursery is not None:
            if self._answers_at_once(message.message):
                await self._answer(message)
            else:
                self._nursery.start_soon(self._answer, message)
            return
        if isinstance(message, RunTask):
            # Published rather than asked: the outcome goes back on the bus.
            finished = await self.handle(message)
            if finished is not None:
                await self.publish(finished)
            return
        await super().dispatch(message)

    def _answers_at_once(self, message: Any) -> bool:
        """True for a read that never waits: answered in line, without a task of its own.

        A `CacheGet` without a fetch reads memory, then SQLite's reader connection in this
        thread (tens of microseconds); only a Redis layer would make it wait on the network
        (and the rare removal of an undecodable entry waits for its write).
        """
        return (
            isinstance(message, CacheGet)
            and message.fetch is None
            and self._open().redis is None
        )

    async def _answer(self, request: AskRequest) -> None:
        message = request.message
        if isinstance(message, CacheSet) and not message.wait:
            await self._set_then_persist(request, message)
            return
        try:
            result = await self.handle(request.message)
        except Exception as error:  # the asker gets the error; the actor lives on
            request.fail(error)
        else:
            request.answer(result)

    async def _set_then_persist(self, request: AskRequest, message: CacheSet) -> None:
        """Answer as soon as memory has the entry; the write to disk follows in this task."""
        cache = self._open()
        try:
            entry = cache.remember(
                message.key,
                message.value,
                message.ttl,
                tags=message.tags,
                etag=message.etag,
                last_modified=message.last_modified,
            )
        except Exception as error:  # unencodable value: the asker learns why
            request.fail(error)
            return
        request.answer(entry.expires_at)
        try:
            await cache.persist(entry)
        except Exception:
            self.log.exception("writing cache entry %s to disk failed", message.key)

    async def handle(self, message: Any) -> Any:
        cache = self._open()
        if isinstance(message, CacheGet):
            return await cache.get(
                message.key,
                message.fetch,
                ttl=message.ttl,
                tags=message.tags,
                decode_as=message.decode_as,
                allow_stale=message.allow_stale,
            )
        if isinstance(message, CacheSet):
            entry = await cache.set(
                message.key,
                message.value,
                message.ttl,
                tags=message.tags,
                etag=message.etag,
                last_modified=message.last_modified,
            )
            return entry.expires_at
        if isinstance(message, CacheDelete):
            return await cache.delete(message.key)
        if isinstance(message, CacheClearTag):
            return await cache.clear_by_tag(message.tag)
        if isinstance(message, CacheStatsRequest):
            return await cache.stats()
        if isinstance(message, CacheMaintenance):
            return await self._maintain()
        if isinstance(message, RunTask):
            # Asked by the scheduler: the TaskFinished is the reply. Not our task: None.
            if message.task_id == MAINTENANCE_TASK:
                return await self._run_task(message)
            return None
        raise TypeError(f"{self.name} does not handle {type(message).__name__}")

    async def _maintain(self) -> dict[str, Any]:
        report = await self._open().maintenance()
        self.maintenance_runs += 1
        self.log.info("cache maintenance: %s", report)
        return report

    async def _run_task(self, task: RunTask) -> TaskFinished:
        return await run_task(self, task, self._maintain)

    async def _maintenance_loop(self) -> None:
        while True:
            await self.clock.sleep(self.maintenance_interval)
            try:
                await self._maintain()
            except Exception:
                # A failed purge is retried next period; the cache keeps serving meanwhile.
                self.log.exception("cache maintenance failed")
