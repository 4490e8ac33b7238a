"""Each hostile answer reaches a real client as a clear, typed error: never an exception,
never a hang, never a request during a `Retry-After`, whatever the wall clock does."""

from __future__ import annotations

import httpx
import pytest
import trio

from greenhouse.config import Secret, SpotifyConfig
from greenhouse.runtime import Clock
from greenhouse.services.base import BaseIntegration, ErrorKind, MemoryGate, RetryPolicy
from greenhouse.services.spotify import SpotifyAuthError, SpotifyService
from greenhouse.simulation.faults import Fault, FaultPlan, HostileTransport

EXPECTED = {
    Fault.TIMEOUT: ErrorKind.TIMEOUT,
    Fault.HANG: ErrorKind.TIMEOUT,
    Fault.SLOW_DRIP: ErrorKind.TIMEOUT,
    Fault.RESET: ErrorKind.TRANSPORT,
    Fault.SERVER_ERROR: ErrorKind.SERVER,
    Fault.RATE_LIMIT: ErrorKind.RATE_LIMITED,
    Fault.RATE_LIMIT_BARE: ErrorKind.RATE_LIMITED,
    Fault.TRUNCATED_JSON: ErrorKind.DECODE,
    Fault.MALFORMED_JSON: ErrorKind.DECODE,
    Fault.WRONG_CONTENT_TYPE: ErrorKind.DECODE,
    Fault.HUGE_BODY: ErrorKind.TOO_LARGE,
}


def healthy() -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda request: httpx.Response(200, json={"ok": True, "items": list(range(50))})
    )


def test_every_fault_kind_has_an_expected_outcome():
    assert set(EXPECTED) == set(Fault)


@pytest.mark.parametrize("kind", list(Fault))
async def test_a_fault_becomes_a_typed_error_within_the_clients_deadline(kind, autojump_clock):
    clock = Clock()
    plan = FaultPlan.single(kind, 0.0, 1e9)
    hostile = HostileTransport(healthy(), plan, clock)
    client = BaseIntegration(
        "http://api.test", transport=hostile, clock=clock, timeout=10.0,
        retry=RetryPolicy(max_retries=2, max_rate_limit_wait=120.0),
    )
    started = clock.monotonic()
    response = await client.get("/things")
    elapsed = clock.monotonic() - started
    await client.aclose()
    assert not response.ok
    assert response.error_kind == EXPECTED[kind], response.error
    assert response.error and response.error.startswith("service:")
    # Three attempts, each bounded by 1.5 x timeout, plus waits of at most Retry-After / backoff.
    assert elapsed <= 3 * 15.0 + 3 * plan.retry_after + 1.0
    assert hostile.injected[kind] == response.attempts >= 1
    assert sum(hostile.violations.values()) == 0


@pytest.mark.parametrize("jump", [-6 * 3600.0, 6 * 3600.0])
async def test_retry_after_is_obeyed_across_a_wall_clock_jump(jump, autojump_clock):
    clock = Clock()
    plan = FaultPlan.single(Fault.RATE_LIMIT, 0.0, 1.0)  # one 429 (Retry-After 30 s), then calm
    hostile = HostileTransport(healthy(), plan, clock)
    client = BaseIntegration(
        "http://api.test", transport=hostile, clock=clock,
        retry=RetryPolicy(max_retries=0, max_rate_limit_wait=120.0),
    )
    first = await client.get("/things")
    assert first.error_kind == ErrorKind.RATE_LIMITED
    clock.jump(jump)  # NTP syncs while the Retry-After runs
    started = clock.monotonic()
    second = await client.get("/things")
    await client.aclose()
    assert second.ok, second.error
    waited = clock.monotonic() - started
    assert 29.0 <= waited <= 31.0  # the server's 30 s, not 30 s +/- six hours
    assert sum(hostile.violations.values()) == 0


async def test_a_50mb_token_answer_is_refused_without_holding_it(autojump_clock):
    clock = Clock()
    hostile = HostileTransport(healthy(), FaultPlan.single(Fault.HUGE_BODY, 0.0, 1e9), clock)
    config = SpotifyConfig(
        client_id="id", client_secret=Secret("client-secret"),
        refresh_token=Secret("refresh-token"),
    )
    service = SpotifyService(config, transport=hostile, clock=clock)
    for _ in range(2):  # once with Content-Length declared, once without
        with pytest.raises(SpotifyAuthError, match="over"):
            await service.ensure_token()
    await service.aclose()
    assert hostile.injected[Fault.HUGE_BODY] == 2


async def test_a_hang_never_outlives_the_timeout_even_without_retries(autojump_clock):
    clock = Clock()
    hostile = HostileTransport(healthy(), FaultPlan.single(Fault.HANG, 0.0, 1e9), clock)
    client = BaseIntegration(
        "http://api.test", transport=hostile, clock=clock, timeout=4.0,
        retry=RetryPolicy(max_retries=0),
    )
    with trio.fail_after(7):
        response = await client.get("/x")
    await client.aclose()
    assert response.error_kind == ErrorKind.TIMEOUT


async def test_concurrent_requests_waking_from_one_retry_after_go_one_at_a_time(autojump_clock):
    clock = Clock()
    plan = FaultPlan.single(Fault.RATE_LIMIT, 0.0, 100.0)  # 429 + Retry-After 30 s for 100 s
    hostile = HostileTransport(healthy(), plan, clock)


    class ActorGate(MemoryGate):
        # Like the rate-limit actor's gate, admission is an `ask`: it always yields.
        async def acquire(self, service: str, endpoint: str, tokens: int = 1) -> None:
            await trio.lowlevel.checkpoint()
            await super().acquire(service, endpoint, tokens)

    gate = ActorGate(time=clock.time, sleep=clock.sleep, monotonic=clock.monotonic)
    client = BaseIntegration(
        "http://api.test", transport=hostile, clock=clock, gate=gate,
        retry=RetryPolicy(max_retries=10, max_rate_limit_wait=120.0),
    )
    results = []

    async def fetch(n: int) -> None:
        results.append(await client.get(f"/things/{n}"))

    async with trio.open_nursery() as nursery:
        for n in range(4):
            nursery.start_soon(fetch, n)
    await client.aclose()
    assert len(results) == 4 and all(r.ok for r in results), [r.error for r in results]
    assert sum(hostile.violations.values()) == 0
