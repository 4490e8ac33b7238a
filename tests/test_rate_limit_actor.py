"""The bucket actor under MockClock: window bound, no negative tokens, no starvation, priorities,
the server's word, metrics."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from actors.rate_limit import RateLimitActor
from greenhouse.messages import (
    Acquire,
    Denied,
    Granted,
    RateLimitStatsRequest,
    RequestRecorded,
    ServerLimits,
)
from greenhouse.runtime import NOT_NOW, Bus, Clock, ask
from greenhouse.service_hooks import ActorRequestGate, bucket_mailbox_name
from greenhouse.services.base import RateLimitExceeded, RateLimitInfo

EPOCH = 1_764_000_000.0


def run_with_actor(scenario: Callable[[RateLimitActor], Awaitable[Any]], **kwargs: Any) -> Any:
    """Run `scenario(actor)` with a started bucket actor, in virtual time."""
    result: list[Any] = []

    async def main() -> None:
        bus = Bus()
        box = bus.mailbox("rate_limit.test", capacity=4096)
        options = {"per_minute": 60.0, "burst": 5.0, "clock": Clock(start_epoch=EPOCH)} | kwargs
        actor = RateLimitActor("test", box, bus, **options)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor.run)
            await trio.lowlevel.checkpoint()
            result.append(await scenario(actor))
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return result[0]


requests = st.lists(
    st.tuples(
        st.floats(0.0, 3.0),  # delay before this caller arrives
        st.integers(1, 4),  # tokens
        st.integers(0, 3),  # priority
        st.sampled_from([0.0, 2.0, 1e6]),  # max_wait: none, short, forever
    ),
    min_size=1,
    max_size=40,
)


@given(
    reqs=requests,
    per_minute=st.sampled_from([30.0, 60.0, 240.0]),
    burst=st.integers(4, 10),
)
def test_window_bound_no_negative_tokens_and_everyone_answered(
    reqs: list[tuple[float, int, int, float]], per_minute: float, burst: int
) -> None:
    rate = per_minute / 60.0

    async def scenario(actor: RateLimitActor) -> None:
        grants: list[tuple[float, float]] = []
        answers: list[Any] = []
        forever_waiters: list[int] = []

        async def caller(index: int, delay: float, tokens: int, prio: int, wait: float) -> None:
            await trio.sleep(delay)
            reply = await ask(
                actor.inbox,
                Acquire(tokens=tokens, priority=prio, max_wait=wait),
                timeout=wait + 10.0,
            )
            if isinstance(reply, Granted):
                grants.append((trio.current_time(), reply.tokens))
            assert actor.bucket is not None and actor.bucket.tokens >= -1e-9
            answers.append((index, reply))

        async with trio.open_nursery() as nursery:
            arrival = 0.0
            for index, (delay, tokens, prio, wait) in enumerate(reqs):
                arrival += delay
                if wait == 1e6:
                    forever_waiters.append(index)
                nursery.start_soon(caller, index, arrival, tokens, prio, wait)

        assert len(answers) == len(reqs)
        replies = dict(answers)
        # A caller willing to wait is eventually granted (its tokens fit the burst).
        for index in forever_waiters:
            assert isinstance(replies[index], Granted), replies[index]
        for reply in replies.values():
            if isinstance(reply, Denied):
                assert reply.retry_after >= 0
        grants.sort()
        for i in range(len(grants)):
            total = 0.0
            for j in range(i, len(grants)):
                total += grants[j][1]
                assert total <= burst + rate * (grants[j][0] - grants[i][0]) + 1e-6

    run_with_actor(scenario, per_minute=per_minute, burst=float(burst))


@given(priorities=st.lists(st.integers(0, 3), min_size=2, max_size=12))
def test_waiting_callers_are_served_by_priority_then_fifo(priorities: list[int]) -> None:
    async def scenario(actor: RateLimitActor) -> list[int]:
        # Empty the bucket so that everyone below has to wait in line.
        assert isinstance(await ask(actor.inbox, Acquire(tokens=5)), Granted)
        order: list[int] = []

        async def caller(index: int, prio: int) -> None:
            reply = await ask(
                actor.inbox, Acquire(tokens=1, priority=prio, max_wait=1e5), timeout=2e5
            )
            assert isinstance(reply, Granted)
            order.append(index)

        async with trio.open_nursery() as nursery:
            for index, prio in enumerate(priorities):
                nursery.start_soon(caller, index, prio)
                await trio.testing.wait_all_tasks_blocked()  # arrivals in index order
        return order

    order = run_with_actor(scenario, aging_seconds=1e9)
    expected = sorted(range(len(priorities)), key=lambda i: (-priorities[i], i))
    assert order == expected


def test_low_priority_is_not_starved_by_a_stream_of_high_priority() -> None:
    async def scenario(actor: RateLimitActor) -> float:
        assert isinstance(await ask(actor.inbox, Acquire(tokens=5)), Granted)
        low_granted_at: list[float] = []

        async def low() -> None:
            reply = await ask(actor.inbox, Acquire(priority=0, max_wait=1e5), timeout=2e5)
            assert isinstance(reply, Granted)
            low_granted_at.append(trio.current_time())

        async def high_stream() -> None:
            # Two high-priority callers a second against a refill of one a second: demand
            # exceeds supply forever, so strict priority alone would starve `low`.
            async with trio.open_nursery() as nursery:
                while not low_granted_at:
                    for _ in range(2):
                        nursery.start_soon(ask, actor.inbox, Acquire(priority=3, max_wait=1e5), 2e5)
                    await trio.sleep(1.0)
                nursery.cancel_scope.cancel()

        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(low)
            nursery.start_soon(high_stream)
        return low_granted_at[0] - start

    waited = run_with_actor(scenario, aging_seconds=10.0)
    # Aging lifts `low` by one level per 10 s: it overtakes priority 3 after ~30 s (plus the
    # backlog of older high-priority callers that aged alongside it).
    assert waited < 120.0


@given(reset_in=st.floats(1.0, 600.0), ask_at=st.floats(0.0, 700.0))
def test_server_remaining_zero_means_no_grant_before_reset(reset_in: float, ask_at: float) -> None:
    async def scenario(actor: RateLimitActor) -> None:
        now_epoch = actor.clock.time()
        await actor.inbox.put(ServerLimits(remaining=0, reset=now_epoch + reset_in))
        await trio.sleep(ask_at)
        started_epoch = actor.clock.time()
        reply = await ask(actor.inbox, Acquire(max_wait=1e5), timeout=2e5)
        assert isinstance(reply, Granted)
        granted_epoch = started_epoch + reply.waited
        assert granted_epoch >= now_epoch + reset_in - 1e-6
        # ...and once the reset has passed, the bucket's own tokens serve at once.
        if ask_at >= reset_in + 0.01:  # (epoch floats carry ~1e-7 s of rounding)
            assert reply.waited == 0

    run_with_actor(scenario)


def test_retry_after_denies_with_the_time_left() -> None:
    async def scenario(actor: RateLimitActor) -> None:
        await actor.inbox.put(ServerLimits(retry_after=30.0))
        await trio.sleep(10.0)
        reply = await ask(actor.inbox, Acquire())
        assert isinstance(reply, Denied)
        assert reply.retry_after == pytest.approx(20.0)
        await trio.sleep(20.0)
        assert isinstance(await ask(actor.inbox, Acquire()), Granted)

    run_with_actor(scenario)


def test_request_bigger_than_burst_is_denied_forever() -> None:
    async def scenario(actor: RateLimitActor) -> Denied:
        return await ask(actor.inbox, Acquire(tokens=6, max_wait=100))

    reply = run_with_actor(scenario)
    assert isinstance(reply, Denied) and reply.retry_after == math.inf
    assert "burst" in reply.reason


def test_disabled_grants_everything() -> None:
    async def scenario(actor: RateLimitActor) -> list[Any]:
        return [await ask(actor.inbox, Acquire(tokens=5)) for _ in range(20)]

    replies = run_with_actor(scenario, enabled=False)
    assert all(isinstance(r, Granted) for r in replies)


def test_a_recorded_request_carrying_server_limits_clamps_the_bucket() -> None:
    """One message per request: the outcome for the metrics and the server's word."""

    async def scenario(actor: RateLimitActor) -> None:
        reset = actor.clock.time() + 120.0
        limits = ServerLimits(remaining=0, reset=reset, endpoint="/user/repos")
        await actor.inbox.put(
            RequestRecorded(endpoint="/user/repos", ok=True, elapsed_ms=3.0, limits=limits)
        )
        reply = await ask(actor.inbox, Acquire())
        assert isinstance(reply, Denied)
        assert reply.retry_after == pytest.approx(120.0)
        stats = await ask(actor.inbox, RateLimitStatsRequest())
        assert stats["server_clamps"] == 1
        assert stats["endpoints"]["/user/repos"]["requests"] == 1

    run_with_actor(scenario)


def test_metrics_per_endpoint_with_p95() -> None:
    async def scenario(actor: RateLimitActor) -> dict[str, Any]:
        for ms in range(1, 101):  # 1..100 ms
            await actor.inbox.put(
                RequestRecorded(endpoint="/user/repos", ok=ms % 10 != 0, elapsed_ms=float(ms))
            )
        await actor.inbox.put(RequestRecorded(endpoint="/events", ok=True, elapsed_ms=7.0))
        for _ in range(7):
            await ask(actor.inbox, Acquire())
        return await ask(actor.inbox, RateLimitStatsRequest())

    stats = run_with_actor(scenario)
    repos = stats["endpoints"]["/user/repos"]
    assert repos["requests"] == 100 and repos["errors"] == 10
    assert repos["mean_ms"] == pytest.approx(50.5)
    assert repos["p95_ms"] == 95.0
    assert stats["endpoints"]["/events"]["p95_ms"] == 7.0
    assert stats["granted"] == 5 and stats["denials"] == 2
    assert stats["tokens"] == pytest.approx(0.0)


def test_restarted_actor_keeps_mailbox_and_answers() -> None:
    """A crash in handling one message does not lose the bucket actor's mailbox."""

    async def scenario(actor: RateLimitActor) -> Any:
        with pytest.raises(Exception, match="does not handle"):
            await ask(actor.inbox, "nonsense")
        return await ask(actor.inbox, Acquire())

    assert isinstance(run_with_actor(scenario), Granted)


def test_one_hosts_exhaustion_holds_back_only_that_host() -> None:
    """A shared bucket (social): Mastodon's remaining=0 does not stop Hacker News."""

    async def scenario(actor: RateLimitActor) -> None:
        reset = actor.clock.time() + 600
        await actor.inbox.put(ServerLimits(remaining=0, reset=reset, endpoint="mastodon:statuses"))
        assert isinstance(await ask(actor.inbox, Acquire(endpoint="hackernews:item")), Granted)
        denied = await ask(actor.inbox, Acquire(endpoint="mastodon:timeline"))
        assert isinstance(denied, Denied) and denied.retry_after == pytest.approx(600, abs=0.01)
        # Willing to wait 60 s but 600 s are needed: told at once, not parked in the line.
        started = trio.current_time()
        parked = await ask(actor.inbox, Acquire(endpoint="mastodon:x", max_wait=60), timeout=90)
        assert isinstance(parked, Denied) and trio.current_time() == started
        stats = await ask(actor.inbox, RateLimitStatsRequest())
        assert stats["scopes"]["mastodon"]["blocked_for"] == pytest.approx(600, abs=0.01)
        # A plain path is the whole service's business, as before.
        await trio.sleep(600)
        assert isinstance(await ask(actor.inbox, Acquire(endpoint="mastodon:timeline")), Granted)

    run_with_actor(scenario)


def test_scope_of() -> None:
    from actors.rate_limit import scope_of

    assert scope_of("mastodon:statuses") == "mastodon"
    assert scope_of("/user/repos") == ""
    assert scope_of("") == ""
    assert scope_of("/a:b") == ""


def test_waiting_on_a_fast_garden_clock_does_not_spin() -> None:
    """The demo's clock runs 60x trio's: a caller waits 1 garden second = 1/60 real second.

    Real time on purpose: a pump that mixed garden and trio time would spin (wake at once,
    again and again) instead of sleeping, which shows as thousands of rounds.
    """

    async def main() -> tuple[Any, float, int]:
        bus = Bus()
        box = bus.mailbox("rate_limit.test")
        actor = RateLimitActor("test", box, bus, per_minute=60.0, burst=5.0, clock=ScaledClock())
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor.run)
            assert isinstance(await ask(box, Acquire(tokens=5)), Granted)
            rounds_before = actor.pump_rounds
            reply = await ask(box, Acquire(max_wait=30), timeout=5)
            nursery.cancel_scope.cancel()
        return reply, reply.waited, actor.pump_rounds - rounds_before

    reply, waited, rounds = trio.run(main)
    assert isinstance(reply, Granted)
    assert 0.9 <= waited <= 3.0  # garden seconds (1 s of refill), not trio seconds
    assert rounds < 50


class ScaledClock(Clock):
    """A 60x garden clock whose origin is far from trio's (as in a real process)."""

    def __init__(self) -> None:
        super().__init__(start_epoch=EPOCH, scale=60.0)

    def _elapsed(self) -> float:
        return (trio.current_time() + 5000.0) * self.scale


class MailboxOnly(RateLimitActor):
    """The same bucket, answering only through its mailbox (what every ask did before
    `answer_now`)."""

    def answer_now(self, message: Any) -> Any:
        return NOT_NOW


def gate_outcomes(
    actor_type: type[RateLimitActor], calls: list[tuple[float, int, bool, int | None]],
    max_wait: float, answered_now: list[int] | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """Callers arriving at the given gaps through `ActorRequestGate`: what each got, and the
    bucket's stats at the end (`answered_now` gets how many it settled in callers' tasks)."""
    outcomes: list[Any] = []

    async def main() -> dict[str, Any]:
        bus = Bus()
        box = bus.mailbox(bucket_mailbox_name("svc"), capacity=4096)
        actor = actor_type("svc", box, bus, per_minute=60.0, burst=3.0,
                           clock=Clock(start_epoch=EPOCH))
        gate = ActorRequestGate({box.owner: box}, max_wait=max_wait)

        async def caller(at: float, tokens: int, ok: bool, remaining: int | None) -> None:
            await trio.sleep_until(at)
            try:
                await gate.acquire("svc", "/things", tokens)
            except RateLimitExceeded as refused:
                outcomes.append((at, "refused", round(refused.retry_after, 6)))
                return
            outcomes.append((at, "granted", trio.current_time()))
            info = None if remaining is None else RateLimitInfo(remaining=remaining, limit=10)
            await gate.report("svc", "/things", info, ok, 12.5)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor.run)
            at = 0.0
            for gap, tokens, ok, remaining in calls:
                at += gap
                nursery.start_soon(caller, at, tokens, ok, remaining)
            await trio.sleep(at + 100)
            stats = await ask(box, RateLimitStatsRequest())
            nursery.cancel_scope.cancel()
        if answered_now is not None:
            answered_now.append(box.stats.answered_now)
        return stats

    stats = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return sorted(outcomes, key=lambda o: o[0]), stats


@given(
    calls=st.lists(
        st.tuples(
            st.floats(0.01, 2.0),  # gap after the previous caller (no ties: a strict order)
            st.integers(1, 4),  # tokens (4 is over the burst: denied for ever)
            st.booleans(),  # the request went well
            st.one_of(st.none(), st.integers(0, 3)),  # the server's remaining count
        ),
        min_size=1,
        max_size=25,
    ),
    max_wait=st.sampled_from([0.0, 1.5, 60.0]),
)
def test_answering_in_the_callers_task_changes_no_outcome(
    calls: list[tuple[float, int, bool, int | None]], max_wait: float
) -> None:
    """`answer_now` skips the mailbox round trip when the bucket is idle; every grant, refusal,
    wait and metric is what the mailbox path gives (callers at distinct instants: at the same
    instant trio's batch order, which differs with the number of task steps, decides)."""
    settled: list[int] = []
    inline = gate_outcomes(RateLimitActor, calls, max_wait, settled)
    assert inline == gate_outcomes(MailboxOnly, calls, max_wait, settled)
    assert settled[0] > 0 and settled[1] == 0  # the fast path was taken, and only there
    assert inline[1]["endpoints"].get("/things", {}).get("requests", 0) == sum(
        1 for o in inline[0] if o[1] == "granted"
    )


@pytest.mark.parametrize("actor_type", [RateLimitActor, MailboxOnly])
def test_callers_at_the_same_instant_share_the_burst_either_way(
    actor_type: type[RateLimitActor],
) -> None:
    """Eight callers at one instant, a burst of three, no waiting: three are granted and five
    refused, whichever path each takes and in whatever order trio runs them."""
    outcomes, stats = gate_outcomes(actor_type, [(0.0, 1, True, None)] * 8, 0.0)
    assert sorted(kind for _, kind, _ in outcomes) == ["granted"] * 3 + ["refused"] * 5
    assert stats["granted"] == 3 and stats["denials"] == 5
