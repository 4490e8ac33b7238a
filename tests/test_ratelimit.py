"""The pure token bucket and waiting line (greenhouse/ratelimit.py): no trio, `now` passed in."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.ratelimit import TokenBucket, WaitQueue, bucket_for


def test_bucket_starts_full_and_refills_at_rate() -> None:
    bucket = TokenBucket(capacity=5, rate=2.0, now=0.0)
    assert all(bucket.consume(1, 0.0) for _ in range(5))
    assert not bucket.consume(1, 0.0)
    assert bucket.wait_time(1, 0.0) == pytest.approx(0.5)
    assert not bucket.consume(1, 0.49)
    assert bucket.consume(1, 0.5)
    # Refill never exceeds capacity.
    assert bucket.available(1000.0) == 5


def test_more_than_capacity_never_fits() -> None:
    bucket = TokenBucket(capacity=3, rate=1.0, now=0.0)
    assert bucket.wait_time(4, 0.0) == math.inf
    assert not bucket.consume(4, 1e9)


def test_bucket_for_uses_per_minute_and_burst_seconds() -> None:
    bucket = bucket_for(per_minute=120, burst_seconds=10.0, now=0.0)
    assert bucket.rate == pytest.approx(2.0)
    assert bucket.capacity == pytest.approx(20.0)
    # A tiny limit still allows one request at a time.
    assert bucket_for(per_minute=1, burst_seconds=1.0, now=0.0).capacity == 1.0


def test_server_remaining_caps_grants_until_reset() -> None:
    bucket = TokenBucket(capacity=100, rate=100.0, now=0.0)
    bucket.server_limits(0.0, remaining=2, reset=60.0)
    assert bucket.consume(1, 1.0)
    assert bucket.consume(1, 2.0)
    # Our own bucket is full again, but the server said 2 until t=60.
    assert not bucket.consume(1, 30.0)
    assert bucket.wait_time(1, 30.0) == pytest.approx(30.0)
    assert bucket.consume(1, 60.0)


def test_retry_after_blocks_everything() -> None:
    bucket = TokenBucket(capacity=10, rate=10.0, now=0.0)
    bucket.server_limits(5.0, retry_after=7.5)
    assert not bucket.consume(1, 12.49)
    assert bucket.consume(1, 12.5)


@given(
    capacity=st.integers(1, 20),
    rate=st.floats(0.1, 20.0),
    steps=st.lists(st.tuples(st.floats(0.0, 5.0), st.integers(0, 5)), max_size=60),
)
def test_grants_in_any_window_are_bounded(
    capacity: int, rate: float, steps: list[tuple[float, int]]
) -> None:
    """Tokens consumed in [t_i, t_j] never exceed capacity + rate * (t_j - t_i); never negative."""
    bucket = TokenBucket(capacity, rate, now=0.0)
    now = 0.0
    grants: list[tuple[float, int]] = []
    for delay, tokens in steps:
        now += delay
        if bucket.consume(tokens, now):
            grants.append((now, tokens))
        assert bucket.tokens >= -1e-9
    for i in range(len(grants)):
        total = 0
        for j in range(i, len(grants)):
            total += grants[j][1]
            window = grants[j][0] - grants[i][0]
            assert total <= capacity + rate * window + 1e-6


def test_wait_queue_priority_then_fifo() -> None:
    queue: WaitQueue[str] = WaitQueue(aging_seconds=1e9)
    for name, priority in [("a", 1), ("b", 0), ("c", 2), ("d", 1), ("e", 2)]:
        queue.push(name, 1, priority, now=0.0, deadline=math.inf)
    bucket = TokenBucket(capacity=10, rate=1.0, now=0.0)
    served = [w.item for w in queue.serve(bucket, 0.0)]
    assert served == ["c", "e", "a", "d", "b"]


def test_wait_queue_aging_lets_low_priority_through() -> None:
    queue: WaitQueue[str] = WaitQueue(aging_seconds=10.0)
    queue.push("low", 1, 0, now=0.0, deadline=math.inf)
    queue.push("high", 1, 2, now=15.0, deadline=math.inf)
    # At t=15 the low caller has aged 1.5 levels: 1.5 < 2, high goes first.
    assert queue.head(15.0).item == "high"
    queue.remove(queue.head(15.0))
    # A high-priority newcomer at t=25 is behind the low caller that has aged 2.5 levels.
    queue.push("high2", 1, 2, now=25.0, deadline=math.inf)
    assert queue.head(25.0).item == "low"


def test_head_of_line_is_not_overtaken() -> None:
    """A big request at the head is not starved by small ones behind it."""
    queue: WaitQueue[str] = WaitQueue(aging_seconds=1e9)
    bucket = TokenBucket(capacity=5, rate=1.0, now=0.0)
    assert bucket.consume(5, 0.0)
    queue.push("big", 5, 1, now=0.0, deadline=math.inf)
    queue.push("small", 1, 1, now=0.0, deadline=math.inf)
    assert queue.serve(bucket, 1.0) == []  # one token there, but "big" is first in line
    assert [w.item for w in queue.serve(bucket, 5.0)] == ["big"]
    assert queue.next_event(bucket, 5.0) == pytest.approx(6.0)
