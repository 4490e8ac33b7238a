"""What the HTTP app can reach: settings, the bus, mailboxes, read-only database access, counters.

The app never touches another actor's state: it asks mailboxes (`ask`) and reads SQLite through
its own read-only connections (WAL lets them run beside the writer).
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import trio

from greenhouse.config import IntegrationSettings
from greenhouse.runtime import Bus, Clock, Mailbox
from greenhouse.store import Store

from .addresses import ListenAddresses

__all__ = ["HttpStats", "ReaderPool", "WebContext"]

T = TypeVar("T")


class ReaderPool:
    """A few read-only connections reused across requests, each used by one thread at a time."""

    def __init__(self, store: Store, size: int = 4, *, clock: Clock | None = None) -> None:
        self.store = store
        self.size = size
        # Through the clock, not `trio.to_thread` directly: inline under a MockClock, where a
        # worker thread would let virtual time jump while a query runs.
        self.clock = clock if clock is not None else Clock()
        self._idle: list[sqlite3.Connection] = []
        self._limiter = trio.CapacityLimiter(size)
        self._inline: sqlite3.Connection | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` in a worker thread with a pooled reader connection."""
        async with self._limiter:
            conn = self._idle.pop() if self._idle else self.store.reader()
            try:
                # Not `limiter=self._limiter`: this task already holds one of its tokens.
                result = await self.clock.run_sync(fn, conn, *args)
            except BaseException:
                conn.close()
                raise
            self._idle.append(conn)
            return result

    def run_now(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` right here, for point lookups by key (tens of microseconds).

        A worker-thread round trip costs more than such a query, and under load the GIL
        hand-offs it causes add milliseconds of latency; WAL readers never wait on the writer.
        """
        if self._inline is None:
            self._inline = self.store.reader()
        return fn(self._inline, *args)

    def close(self) -> None:
        """Close the connections."""
        while self._idle:
            self._idle.pop().close()
        if self._inline is not None:
            self._inline.close()
            self._inline = None


@dataclass
class HttpStats:
    """Request and webhook counters for /metrics."""

    requests: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    latency_sum: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    latency_count: Counter[str] = field(default_factory=Counter)
    webhooks: Counter[str] = field(default_factory=Counter)


@dataclass
class WebContext:
    """Everything the endpoints use."""

    settings: IntegrationSettings
    clock: Clock
    bus: Bus
    store: Store
    mailboxes: Mapping[str, Mailbox]
    addresses: ListenAddresses
    readers: ReaderPool
    stats: HttpStats = field(default_factory=HttpStats)
    # Mailboxes that answer `MetricsRequest` with a list of `MetricSample` (opt-in).
    metrics_sources: list[str] = field(default_factory=list)
    in_flight: set[str] = field(default_factory=set)
    ask_timeout: float = 5.0

    def mailbox(self, name: str) -> Mailbox | None:
        """The mailbox of actor `name`, or None when that actor is not in this build."""
        return self.mailboxes.get(name)
