"""The running-sums trend line (`ScoreHistory`) against the direct fit in `predict_growth`."""

from __future__ import annotations

import math
from collections import deque

from hypothesis import assume, given
from hypothesis import strategies as st

from greenhouse.config import GrowthConfig
from greenhouse.engines.growth import DAY, GrowthPrediction, predict_growth
from greenhouse.engines.growth_fit import ScoreHistory

START = 1_790_000_000.0
CONFIG = GrowthConfig()

# Scores as the engine makes them (clamped to [0, 1]): arbitrary floats, and a coarse grid so
# runs of equal scores (a flat history) come up often.
scores = st.one_of(
    st.floats(0.0, 1.0),
    st.integers(0, 8).map(lambda k: k / 8),
)
# Steps between points: several at the same instant, minutes, hours, and gaps of days.
steps = st.one_of(
    st.just(0.0),
    st.floats(1.0, 3600.0),
    st.floats(DAY, 12 * DAY),
)


def _ill_conditioned(points: list[tuple[float, float]], now: float, score: float) -> bool:
    """Scores that differ only in their last bits: r^2 is rounding noise in either fit."""
    since = now - CONFIG.history_days * DAY
    ys = [s for t, s in points if since <= t <= now] + [score]
    mean = math.fsum(ys) / len(ys)
    spread = math.fsum((y - mean) ** 2 for y in ys)
    return 0.0 < spread < 1e-12


def _comparable(points: list[tuple[float, float]], now: float, score: float,
                direct: GrowthPrediction) -> bool:
    """Not ill-conditioned, and the slope not within rounding of the "growing" edge."""
    if _ill_conditioned(points, now, score):
        return False
    velocity = direct.velocity_per_day
    return velocity is None or abs(velocity - 1e-9) > 1e-12


def assert_same(direct: GrowthPrediction, running: GrowthPrediction) -> None:
    assert running.status == direct.status
    assert running.next_stage == direct.next_stage
    for name in ("velocity_per_day", "seconds_to_next_stage", "confidence"):
        a, b = getattr(direct, name), getattr(running, name)
        if a is None or b is None:
            assert a is b, name
        else:
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (name, a, b)


@given(
    st.lists(st.tuples(steps, scores), max_size=120),
    st.lists(st.tuples(st.floats(0.0, 2 * DAY), scores, st.sampled_from(
        ["seed", "seedling", "sapling", "young_tree", "mature_tree"])), min_size=1, max_size=5),
    st.integers(5, 200),
)
def test_it_predicts_what_the_direct_fit_predicts(
    shape: list[tuple[float, float]],
    queries: list[tuple[float, float, str]],
    maxlen: int,
) -> None:
    history = ScoreHistory(maxlen=maxlen)
    kept: deque[tuple[float, float]] = deque(maxlen=maxlen)
    t = START
    for step, score in shape:
        t += step
        history.append((t, score))
        kept.append((t, score))
        assert list(history) == list(kept)
    now = t
    # Successive rescores of the same history, later and later, as the engine makes them.
    for ahead, score, stage in queries:
        now += ahead
        direct = predict_growth(list(kept), score, stage, now, CONFIG)
        running = predict_growth(history, score, stage, now, CONFIG)
        assume(_comparable(list(kept), now, score, direct))
        assert_same(direct, running)


@given(st.lists(st.tuples(steps, scores), min_size=3, max_size=60), scores)
def test_appending_between_rescores_keeps_the_sums_right(
    shape: list[tuple[float, float]], score: float
) -> None:
    history, kept = ScoreHistory(maxlen=40), deque(maxlen=40)
    t = START
    for step, point in shape:
        t += step
        history.append((t, point))
        kept.append((t, point))
        direct = predict_growth(list(kept), score, "seedling", t, CONFIG)
        running = predict_growth(history, score, "seedling", t, CONFIG)
        if _comparable(list(kept), t, score, direct):
            assert_same(direct, running)


def test_what_the_sums_cannot_say_goes_to_the_direct_fit() -> None:
    points = [(START + i * 3600, 0.1 + 0.01 * i) for i in range(30)]
    history = ScoreHistory(points)
    now = START + 40 * 3600
    assert history.fit(now - 30 * DAY, now, 0.5) is not None
    assert history.fit(now - 31 * DAY, now, 0.5) is None  # the window moved back
    assert history.fit(now, START, 0.5) is None  # points later than now
    history.append((START, 0.9))  # out of time order: from now on always direct
    assert history.fit(now - 30 * DAY, now, 0.5) is None
    direct = predict_growth([*points, (START, 0.9)], 0.5, "seedling", now, CONFIG)
    assert_same(direct, predict_growth(history, 0.5, "seedling", now, CONFIG))


def test_points_leave_the_window_and_the_cap() -> None:
    history = ScoreHistory(((START + i * DAY, 0.5) for i in range(10)), maxlen=5)
    assert len(history) == 5 and next(iter(history))[0] == START + 5 * DAY
    fit = history.fit(START + 7.5 * DAY, START + 10 * DAY, 0.5)
    assert fit is not None and fit.n == 3  # days 8 and 9, plus now
    assert fit.same_scores and not fit.same_times
    assert "5 points" in repr(history)
