"""Token buckets and the waiting line in front of them: pure logic, every time is a `now` argument.

A `TokenBucket` holds up to `capacity` tokens (the burst allowance) and refills at `rate` tokens
per second. On top of the bucket sits the server's own word (`server_limits`): when an API says
"N requests left until T" the bucket never grants more than N before T, and "0 left until T" (or a
`Retry-After`) means no grant before T. Our own refill can never overrule the server.

`WaitQueue` orders callers that could not be served at once: by priority, FIFO within a priority,
with aging (a caller's effective priority rises one level per `aging_seconds` waited) so a steady
stream of urgent requests cannot starve a low-priority one. Only the head of the line is ever
served, so a large request is not overtaken forever by small ones either.

A scope is a sub-budget inside one bucket: the social bucket is shared by several hosts, and
one host's "remaining=0" (reported with endpoint "mastodon:...") must hold back only that host.
Scoped server limits live in a `scope_bucket`; a grant needs both the bucket and the scope.

Neither class reads a clock; the bucket actor (`actors/rate_limit.py`) passes `now` in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = [
    "PRIORITY_CRITICAL",
    "PRIORITY_HIGH",
    "PRIORITY_LOW",
    "PRIORITY_NORMAL",
    "TokenBucket",
    "WaitQueue",
    "Waiter",
    "bucket_for",
    "scope_bucket",
    "take",
    "wait_time",
]

PRIORITY_LOW = 0
PRIORITY_NORMAL = 1
PRIORITY_HIGH = 2
PRIORITY_CRITICAL = 3

# Refill arithmetic in floats leaves crumbs like 0.9999999999999998 tokens; a shortfall below
# this counts as none, otherwise a waiter would be woken at `now + 1e-16` forever.
_EPSILON = 1e-9


class TokenBucket:
    """A token bucket with a server-imposed ceiling; all methods take the current time."""

    def __init__(self, capacity: float, rate: float, now: float, tokens: float | None = None):
        if capacity <= 0 or rate <= 0:
            raise ValueError(f"capacity and rate must be positive, got {capacity}, {rate}")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self.tokens = self.capacity if tokens is None else min(float(tokens), self.capacity)
        self.updated = now
        # The server's word: at most `server_remaining` grants until `server_reset`; nothing at
        # all before `blocked_until`.
        self.server_remaining: float | None = None
        self.server_reset: float | None = None
        self.blocked_until = -math.inf

    def __repr__(self) -> str:
        return (
            f"TokenBucket(capacity={self.capacity:g}, rate={self.rate:g}/s, "
            f"tokens={self.tokens:.3f})"
        )

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last update (time never runs backwards here)."""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        if self.server_reset is not None and now >= self.server_reset:
            self.server_remaining = None
            self.server_reset = None

    def available(self, now: float) -> float:
        """Tokens that could be granted right now (server ceiling included)."""
        self.refill(now)
        if now < self.blocked_until:
            return 0.0
        if self.server_remaining is not None:
            return min(self.tokens, self.server_remaining)
        return self.tokens

    def wait_time(self, tokens: float, now: float) -> float:
        """Seconds until `tokens` can be consumed (0 if now; `inf` if never: more than capacity)."""
        if tokens > self.capacity:
            return math.inf
        self.refill(now)
        start = max(now, self.blocked_until)
        if self.server_remaining is not None and tokens > self.server_remaining + _EPSILON:
            # The server's budget is spent: wait for its reset (then our own bucket applies).
            assert self.server_reset is not None
            start = max(start, self.server_reset)
        shortfall = tokens - self.tokens
        own = shortfall / self.rate if shortfall > _EPSILON else 0.0
        return max(start - now, own)

    def consume(self, tokens: float, now: float) -> bool:
        """Take `tokens` if they are available now; returns whether it did."""
        if tokens < 0:
            raise ValueError("tokens must not be negative")
        if self.wait_time(tokens, now) > 0:
            return False
        self.tokens = max(0.0, self.tokens - tokens)
        if self.server_remaining is not None:
            self.server_remaining = max(0.0, self.server_remaining - tokens)
        return True

    def server_limits(
        self,
        now: float,
        *,
        remaining: float | None = None,
        reset: float | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Apply what the server said: `remaining` grants until `reset`; none for `retry_after`."""
        self.refill(now)
        if retry_after is not None and retry_after > 0:
            self.blocked_until = max(self.blocked_until, now + retry_after)
        if remaining is None:
            return
        remaining = max(0.0, float(remaining))
        if reset is not None and reset > now:
            self.server_remaining = remaining
            self.server_reset = reset
            if remaining == 0:
                self.blocked_until = max(self.blocked_until, reset)
        # Without a reset time the server's count still caps what we believe we have.
        self.tokens = min(self.tokens, remaining)


def bucket_for(per_minute: int, burst_seconds: float, now: float) -> TokenBucket:
    """A bucket for `per_minute` requests with a burst of `burst_seconds` worth (at least 1)."""
    rate = per_minute / 60.0
    capacity = max(1.0, rate * burst_seconds)
    return TokenBucket(capacity, rate, now)


T = TypeVar("T")


@dataclass
class Waiter(Generic[T]):
    """One caller in line: what it wants, how urgent, since when, until when."""

    tokens: float
    priority: int
    enqueued: float
    deadline: float
    seq: int
    item: T = field(repr=False)
    scope: str = ""  # a sub-budget of the server's (one host of a shared bucket), "" for none


class WaitQueue(Generic[T]):
    """Callers waiting for tokens: priority order, FIFO within a priority, aging against starvation."""

    def __init__(self, aging_seconds: float = 30.0) -> None:
        self.aging_seconds = aging_seconds
        self._waiters: list[Waiter[T]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._waiters)

    def push(
        self, item: T, tokens: float, priority: int, now: float, deadline: float, scope: str = ""
    ) -> Waiter[T]:
        """Put a caller in line."""
        self._seq += 1
        waiter = Waiter(tokens, priority, now, deadline, self._seq, item, scope)
        self._waiters.append(waiter)
        return waiter

    def effective_priority(self, waiter: Waiter[T], now: float) -> float:
        """Priority plus one level per `aging_seconds` waited."""
        return waiter.priority + max(0.0, now - waiter.enqueued) / self.aging_seconds

    def head(self, now: float) -> Waiter[T] | None:
        """The caller to serve next: highest effective priority, then the earliest arrival."""
        if not self._waiters:
            return None
        return max(self._waiters, key=lambda w: (self.effective_priority(w, now), -w.seq))

    def remove(self, waiter: Waiter[T]) -> None:
        """Take a caller out of line (served or gone)."""
        self._waiters.remove(waiter)

    def expired(self, now: float) -> list[Waiter[T]]:
        """Remove and return callers whose deadline has passed."""
        gone = [w for w in self._waiters if w.deadline <= now]
        if gone:
            self._waiters = [w for w in self._waiters if w.deadline > now]
        return gone

    def serve(
        self, bucket: TokenBucket, now: float, scopes: ScopeLookup | None = None
    ) -> list[Waiter[T]]:
        """Grant from the head of the line while the bucket allows; returns who got tokens."""
        granted: list[Waiter[T]] = []
        while True:
            waiter = self.head(now)
            if waiter is None:
                return granted
            scoped = scopes(waiter.scope) if scopes is not None else None
            if not take(bucket, scoped, waiter.tokens, now):
                return granted
            self.remove(waiter)
            granted.append(waiter)

    def next_event(
        self, bucket: TokenBucket, now: float, scopes: ScopeLookup | None = None
    ) -> float:
        """When something can next change: the head becomes grantable or a deadline passes."""
        if not self._waiters:
            return math.inf
        head = self.head(now)
        assert head is not None
        scoped = scopes(head.scope) if scopes is not None else None
        wake = now + wait_time(bucket, scoped, head.tokens, now)
        # Aging can change who is head; re-check at least once per aging period.
        wake = min(wake, now + self.aging_seconds)
        return min(wake, min(w.deadline for w in self._waiters))


ScopeLookup = Callable[[str], "TokenBucket | None"]


def scope_bucket(now: float) -> TokenBucket:
    """A bucket that only carries a server's word for one scope (its own refill never limits)."""
    return TokenBucket(1e12, 1e12, now)


def wait_time(bucket: TokenBucket, scoped: TokenBucket | None, tokens: float, now: float) -> float:
    """Seconds until both the bucket and the scope's server window allow `tokens`."""
    wait = bucket.wait_time(tokens, now)
    if scoped is not None:
        wait = max(wait, scoped.wait_time(tokens, now))
    return wait


def take(bucket: TokenBucket, scoped: TokenBucket | None, tokens: float, now: float) -> bool:
    """Consume from the bucket and the scope together, or from neither."""
    if wait_time(bucket, scoped, tokens, now) > 0:
        return False
    bucket.consume(tokens, now)
    if scoped is not None:
        scoped.consume(tokens, now)
    return True
