"""Supervision: restarts with backoff, restart intensity, policies, nesting, crash logging."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from greenhouse.runtime import ChildSpec, Clock, Restart, Supervisor, SupervisorEscalation


class Flaky:
    """Crashes `failures` times (recording when each run started), then runs forever."""

    def __init__(self, name: str, log: list[float], failures: int) -> None:
        self.name = name
        self.log = log
        self.failures = failures

    async def run(self) -> None:
        self.log.append(trio.current_time())
        if len(self.log) <= self.failures:
            raise RuntimeError(f"boom {len(self.log)}")
        await trio.sleep_forever()


class Finishes:
    """Returns normally (or raises when `crash`)."""

    def __init__(self, name: str, runs: list[int], crash: bool = False) -> None:
        self.name = name
        self.runs = runs
        self.crash = crash

    async def run(self) -> None:
        self.runs.append(1)
        await trio.sleep(0.1)
        if self.crash:
            raise ValueError("bad")


@pytest.fixture
def autojump() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_crashing_child_restarts_with_exponential_backoff(autojump):
    starts: list[float] = []
    sup = Supervisor(
        "root",
        [ChildSpec("flaky", lambda: Flaky("flaky", starts, failures=3))],
        max_restarts=10,
        period=60,
        backoff_base=1.0,
        backoff_cap=30.0,
        clock=Clock(0),
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sup.run)
        await trio.sleep(100)
        nursery.cancel_scope.cancel()
    assert len(starts) == 4
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    for gap, expected in zip(gaps, [1.0, 2.0, 4.0], strict=False):
        assert expected <= gap <= expected * 1.1 + 1e-9
    status = sup.status.children[0]
    assert status.crashes == 3 and status.restarts == 3
    assert status.state == "running" or status.state == "stopped"
    assert "boom 3" in (status.last_error or "")


async def test_backoff_is_capped(autojump):
    sup = Supervisor("s", [], backoff_base=0.5, backoff_cap=4.0, seed=1)
    delays = [sup.backoff(n) for n in range(1, 12)]
    assert max(delays) <= 4.0 * 1.1
    assert delays[0] < 0.56


async def test_exceeding_restart_intensity_escalates(autojump):
    starts: list[float] = []
    sup = Supervisor(
        "root",
        [ChildSpec("always", lambda: Flaky("always", starts, failures=10**6))],
        max_restarts=3,
        period=60,
        backoff_base=0.1,
        clock=Clock(0),
    )
    with pytest.raises(SupervisorEscalation, match="exceeded 3 restarts"):
        await sup.run()
    # One initial run plus three restarts; the fourth restart is refused.
    assert len(starts) == 4
    assert sup.status.state == "failed"


async def test_nested_supervisor_escalation_is_a_crash_of_the_child(autojump):
    starts: list[float] = []
    inner_made: list[Supervisor] = []

    def make_inner() -> Supervisor:
        inner = Supervisor(
            "inner",
            [ChildSpec("always", lambda: Flaky("always", starts, failures=10**6))],
            max_restarts=2,
            period=60,
            backoff_base=0.1,
        )
        inner_made.append(inner)
        return inner

    outer = Supervisor(
        "outer",
        [ChildSpec("inner", make_inner)],
        max_restarts=1,
        period=600,
        backoff_base=0.1,
    )
    with pytest.raises(SupervisorEscalation, match="outer"):
        await outer.run()
    # The outer supervisor restarted the inner one once, then gave up itself.
    assert len(inner_made) == 2
    assert outer.status.children[0].crashes == 2
    assert len(starts) == 6


async def test_transient_child_that_exits_normally_is_not_restarted(autojump):
    runs: list[int] = []
    sup = Supervisor("root", [ChildSpec("t", lambda: Finishes("t", runs), Restart.TRANSIENT)])
    await sup.run()  # returns once its only child is done
    assert runs == [1]
    assert sup.status.children[0].state == "stopped"


async def test_transient_child_that_crashes_is_restarted(autojump):
    runs: list[int] = []
    made = []

    def factory():
        made.append(1)
        return Finishes("t", runs, crash=len(made) < 3)

    sup = Supervisor("root", [ChildSpec("t", factory, Restart.TRANSIENT)], backoff_base=0.1)
    await sup.run()
    assert len(runs) == 3


async def test_temporary_child_is_never_restarted(autojump):
    runs: list[int] = []
    sup = Supervisor(
        "root", [ChildSpec("tmp", lambda: Finishes("tmp", runs, crash=True), Restart.TEMPORARY)]
    )
    await sup.run()
    assert runs == [1]
    assert sup.status.children[0].state == "failed"


async def test_permanent_child_that_returns_is_restarted(autojump):
    runs: list[int] = []
    sup = Supervisor(
        "root", [ChildSpec("p", lambda: Finishes("p", runs))], max_restarts=100, backoff_base=0.1
    )
    with trio.move_on_after(5):
        await sup.run()
    assert len(runs) >= 3


async def test_siblings_keep_running_when_one_crashes(autojump):
    starts: list[float] = []
    ticks: list[float] = []

    class Ticker:
        name = "ticker"

        async def run(self) -> None:
            while True:
                ticks.append(trio.current_time())
                await trio.sleep(1)

    sup = Supervisor(
        "root",
        [
            ChildSpec("flaky", lambda: Flaky("flaky", starts, failures=2)),
            ChildSpec("ticker", Ticker),
        ],
        backoff_base=0.5,
    )
    with trio.move_on_after(10):
        await sup.run()
    assert len(starts) == 3
    assert sup.status.children[1].restarts == 0
    assert len(ticks) >= 10


async def test_crash_is_logged_with_actor_name_and_traceback(autojump, caplog):
    caplog.set_level(logging.ERROR, logger="greenhouse")
    logging.getLogger("greenhouse").propagate = True
    starts: list[float] = []
    sup = Supervisor("root", [ChildSpec("poller", lambda: Flaky("poller", starts, failures=1))])
    with trio.move_on_after(5):
        await sup.run()
    records = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert records, "the crash was not logged"
    assert "poller" in records[0].getMessage()
    assert records[0].exc_info is not None
    assert "boom 1" in caplog.text and "Traceback" in caplog.text
