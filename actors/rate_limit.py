"""The rate-limit bucket actor: one per external service, owning that service's token bucket.

Callers `ask` it `Acquire(tokens, priority, max_wait)`. When the bucket has the tokens and nobody
is in line, the answer is an immediate `Granted`. Otherwise a caller with `max_wait` > 0 waits in
a `WaitQueue` (priority order, FIFO within a priority, aging against starvation) and is answered
by the actor's pump when its turn comes, or `Denied(retry_after)` when `max_wait` runs out;
`max_wait` = 0 gets `Denied(retry_after)` at once. Waiting asks never block the mailbox: the
actor keeps reading while callers wait, so `ServerLimits` and metrics still get through.

`ServerLimits` (told, not asked) clamps the bucket to the server's own count (or, for an endpoint
named "host:path", only that host's scope inside a shared bucket, as the social sources are);
`RequestRecorded` feeds the per-endpoint metrics (counts, errors, mean and p95 response time)
and, when it carries the response's `limits`, clamps the same way (one message per request).
With rate limiting switched off every `Acquire` is granted at once (metrics are still kept).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import trio

from greenhouse.messages import (
    Acquire,
    Denied,
    Granted,
    RateLimitStatsRequest,
    RequestRecorded,
    ServerLimits,
)
from greenhouse.ratelimit import TokenBucket, WaitQueue, scope_bucket, take, wait_time
from greenhouse.runtime import NOT_NOW, Actor, AskRequest, Bus, Clock, Mailbox

__all__ = ["EndpointMetrics", "RateLimitActor", "scope_of"]

_SAMPLES = 512  # response times kept per endpoint for the percentile


@dataclass
class EndpointMetrics:
    """Counters and recent response times of one endpoint."""

    requests: int = 0
    errors: int = 0
    total_ms: float = 0.0
    samples: deque[float] = field(default_factory=lambda: deque(maxlen=_SAMPLES))

    def record(self, ok: bool, elapsed_ms: float) -> None:
        self.requests += 1
        self.errors += 0 if ok else 1
        self.total_ms += elapsed_ms
        self.samples.append(elapsed_ms)

    def as_dict(self) -> dict[str, Any]:
        ordered = sorted(self.samples)
        # Nearest-rank p95 over the recent window.
        p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] if ordered else 0.0
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.errors / self.requests if self.requests else 0.0,
            "mean_ms": self.total_ms / self.requests if self.requests else 0.0,
            "p95_ms": p95,
        }


def scope_of(endpoint: str) -> str:
    """The scope named by an endpoint's prefix ("mastodon:statuses" -> "mastodon"), else ""."""
    head, sep, _ = endpoint.partition(":")
    return head if sep and head and "/" not in head else ""


class RateLimitActor(Actor):
    """Owns one service's token bucket and its waiting line."""

    def __init__(
        self,
        service: str,
        inbox: Mailbox,
        bus: Bus | None = None,
        *,
        per_minute: float,
        burst: float,
        enabled: bool = True,
        clock: Clock | None = None,
        aging_seconds: float = 30.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name or f"rate_limit.{service}", inbox, bus, clock)
        self.service = service
        self.per_minute = per_minute
        self.burst = burst
        self.enabled = enabled
        self.aging_seconds = aging_seconds
        self.bucket: TokenBucket | None = None
        self.queue: WaitQueue[AskRequest] = WaitQueue(aging_seconds)
        self.granted = 0
        self.granted_tokens = 0.0
        self.denials = 0
        self.server_clamps = 0
        self.endpoints: dict[str, EndpointMetrics] = {}
        self._scoped: dict[str, TokenBucket] = {}  # server windows of one scope (see ratelimit)
        self._kick = trio.Event()
        self.pump_rounds = 0  # how often the line was looked at (a spinning pump shows here)

    async def started(self) -> None:
        # A restart starts with a full bucket: the server's own limits (ServerLimits) are what
        # protect the API across restarts, since every response carries them again.
        self.bucket = TokenBucket(self.burst, self.per_minute / 60.0, self.clock.monotonic())
        self.queue = WaitQueue(self.aging_seconds)
        self._scoped = {}

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump)
            try:
                await super().run()
            finally:
                nursery.cancel_scope.cancel()

    async def dispatch(self, message: Any) -> None:
        if isinstance(message, AskRequest) and isinstance(message.message, Acquire):
            self._acquire(message)
            return
        await super().dispatch(message)

    async def handle(self, message: Any) -> Any:
        if isinstance(message, ServerLimits):
            self._server_limits(message)
            return None
        if isinstance(message, RequestRecorded):
            self._record(message)
            return None
        if isinstance(message, RateLimitStatsRequest):
            return self.stats()
        if isinstance(message, Acquire):  # told instead of asked: nobody to answer
            return None
        raise TypeError(f"{self.name} does not handle {type(message).__name__}")

    # -- acquiring -----------------------------------------------------------------------------

    def answer_now(self, message: Any) -> Any:
        """Settled at once while the actor is idle (see `greenhouse.runtime.answer_now`): an
        `Acquire` that is granted or denied without waiting in line, and a `RequestRecorded`."""
        if isinstance(message, Acquire):
            return self._settle(message)
        if isinstance(message, RequestRecorded):
            self._record(message)
            return None
        return NOT_NOW

    def _acquire(self, request: AskRequest) -> None:
        want: Acquire = request.message
        answer = self._settle(want)
        if answer is not NOT_NOW:
            request.answer(answer)
            return
        now = self.clock.monotonic()
        scope = scope_of(want.endpoint)
        self.queue.push(request, want.tokens, want.priority, now, now + want.max_wait, scope)
        self._wake()

    def _settle(self, want: Acquire) -> Any:
        """`Granted` or `Denied` now, or `NOT_NOW` when the caller is to wait in line."""
        assert self.bucket is not None
        now = self.clock.monotonic()
        if not self.enabled:
            return self._granted(want.tokens, 0.0)
        if want.tokens > self.bucket.capacity or want.tokens < 0:
            self.denials += 1
            return Denied(
                service=self.service,
                retry_after=math.inf,
                reason=f"{want.tokens:g} tokens exceed the burst of {self.bucket.capacity:g}",
            )
        scope = scope_of(want.endpoint)
        scoped = self._scoped.get(scope) if scope else None
        # Nobody in line and tokens at hand: grant at once. With a line, everyone queues, so a
        # newcomer cannot overtake callers that are already waiting.
        if not len(self.queue) and take(self.bucket, scoped, want.tokens, now):
            return self._granted(want.tokens, 0.0)
        # A caller that could not be served within its wait even with nobody ahead is told at
        # once (and does not hold up the line meanwhile).
        if want.max_wait <= 0 or wait_time(self.bucket, scoped, want.tokens, now) > want.max_wait:
            return self._denied(now, want.tokens, scope)
        return NOT_NOW

    def _granted(self, tokens: float, waited: float) -> Granted:
        self.granted += 1
        self.granted_tokens += tokens
        remaining = self.bucket.tokens if self.bucket is not None else 0.0
        return Granted(service=self.service, tokens=tokens, remaining=remaining, waited=waited)

    def _denied(self, now: float, tokens: float, scope: str = "") -> Denied:
        assert self.bucket is not None
        self.denials += 1
        retry_after = wait_time(self.bucket, self._scoped.get(scope), tokens, now)
        if len(self.queue):
            # Behind the line: at least as long as the head needs.
            head = self.queue.head(now)
            assert head is not None
            retry_after = max(retry_after, self.bucket.wait_time(head.tokens, now))
        return Denied(service=self.service, retry_after=retry_after)

    def _wake(self) -> None:
        self._kick.set()

    async def _pump(self) -> None:
        """Serve the line whenever the head can be granted or a caller's wait runs out."""
        while True:
            self.pump_rounds += 1
            self._kick = trio.Event()
            now = self.clock.monotonic()
            if self.bucket is not None:
                for waiter in self.queue.expired(now):
                    waiter.item.answer(self._denied(now, waiter.tokens, waiter.scope))
                for waiter in self.queue.serve(self.bucket, now, self._scoped.get):
                    waiter.item.answer(self._granted(waiter.tokens, now - waiter.enqueued))
                wake_at = self.queue.next_event(self.bucket, now, self._scoped.get)
            else:
                wake_at = math.inf
            # `now` is garden time (the demo runs it faster than trio's): wait the difference,
            # converted, and at least a millisecond so that float time always moves forward.
            pause = (
                math.inf if wake_at == math.inf else self.clock.to_trio(max(wake_at - now, 1e-3))
            )
            with trio.move_on_after(pause):
                await self._kick.wait()

    def _record(self, message: RequestRecorded) -> None:
        if message.limits is not None:
            self._server_limits(message.limits)
        metrics = self.endpoints.setdefault(message.endpoint or "-", EndpointMetrics())
        metrics.record(message.ok, message.elapsed_ms)

    def _server_limits(self, limits: ServerLimits) -> None:
        assert self.bucket is not None
        now = self.clock.monotonic()
        # Servers speak wall-clock epoch seconds; the bucket runs on monotonic time.
        reset = None if limits.reset is None else now + (limits.reset - self.clock.time())
        scope = scope_of(limits.endpoint)
        target = self.bucket
        if scope:
            # One host of a shared bucket ("mastodon:statuses"): its word binds only that host.
            target = self._scoped.get(scope) or self._scoped.setdefault(scope, scope_bucket(now))
        target.server_limits(
            now, remaining=limits.remaining, reset=reset, retry_after=limits.retry_after
        )
        self.server_clamps += 1
        if len(self.queue):
            self._wake()  # the line may have to wait longer (or less); nobody waiting: no one to tell

    # -- metrics -------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts, denials, current tokens and per-endpoint response times."""
        now = self.clock.monotonic()
        bucket = self.bucket
        return {
            "service": self.service,
            "enabled": self.enabled,
            "capacity": bucket.capacity if bucket else self.burst,
            "rate_per_minute": self.per_minute,
            "tokens": bucket.available(now) if bucket else 0.0,
            "granted": self.granted,
            "granted_tokens": self.granted_tokens,
            "denials": self.denials,
            "waiting": len(self.queue),
            "server_clamps": self.server_clamps,
            "blocked_for": max(0.0, bucket.blocked_until - now) if bucket else 0.0,
            "endpoints": {name: m.as_dict() for name, m in sorted(self.endpoints.items())},
            "scopes": {
                name: {"blocked_for": scoped.wait_time(0, now)}
                for name, scoped in sorted(self._scoped.items())
            },
        }
