"""The runtime clock: virtual time under MockClock, scaled garden time, wall-clock jumps."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from greenhouse.runtime import Clock


@pytest.fixture
def autojump() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_time_follows_trio_virtual_time(autojump):
    clock = Clock(start_epoch=1_000_000.0)
    assert clock.time() == 1_000_000.0
    await clock.sleep(3600)
    assert clock.time() == pytest.approx(1_003_600.0)
    assert clock.monotonic() == pytest.approx(3600)


async def test_scaled_clock_runs_garden_time_faster(autojump):
    clock = Clock(start_epoch=0.0, scale=60)
    clock.time()
    before = trio.current_time()
    await clock.sleep(1800)  # 30 garden minutes
    assert trio.current_time() - before == pytest.approx(30)  # 30 trio seconds
    assert clock.time() == pytest.approx(1800)
    assert clock.to_trio(60) == pytest.approx(1)


async def test_jump_moves_wall_time_but_not_monotonic(autojump):
    clock = Clock(start_epoch=0.0)
    clock.jump(6 * 3600)
    assert clock.time() == pytest.approx(6 * 3600)
    assert clock.monotonic() == pytest.approx(0)
    await clock.sleep_until(10)
    assert clock.monotonic() == pytest.approx(10)


def test_jump_listeners_hear_every_jump_until_stopped():
    clock = Clock(start_epoch=0.0)
    heard: list[str] = []
    stop_a = clock.on_jump(lambda: heard.append("a"))
    clock.on_jump(lambda: heard.append("b"))
    clock.jump(60)
    stop_a()
    stop_a()  # stopping twice is harmless
    clock.jump(-30)
    assert heard == ["a", "b", "b"]


def test_scale_must_be_positive():
    with pytest.raises(ValueError):
        Clock(scale=0)
