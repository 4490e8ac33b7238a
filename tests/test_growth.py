"""The growth engine: ranges, weights, monotonicity, hysteresis, health and prediction."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.config import GrowthConfig, load_settings
from greenhouse.engines.growth import (
    DAY,
    STAGES,
    PlantSummary,
    ProjectSnapshot,
    calculate_project_growth,
    portfolio_overview,
    predict_growth,
    stage_for_score,
)

NOW = 1_800_000_000.0
CONFIG = GrowthConfig()

huge_int = st.one_of(st.none(), st.integers(min_value=0, max_value=10**12))
times = st.floats(min_value=NOW - 3000 * DAY, max_value=NOW + 10 * DAY, allow_nan=False)


@st.composite
def projects(draw: st.DrawFn) -> ProjectSnapshot:
    return ProjectSnapshot(
        name=draw(st.text(min_size=1, max_size=10)),
        created_at=draw(st.one_of(st.none(), times)),
        pushed_at=draw(st.one_of(st.none(), times)),
        commit_times=draw(st.one_of(st.none(), st.lists(times, max_size=60).map(tuple))),
        total_commits=draw(huge_int),
        languages=draw(
            st.one_of(
                st.none(),
                st.dictionaries(
                    st.sampled_from(["Python", "C", "Rust", "Go", "JS", "Shell", "HTML"]),
                    st.integers(min_value=0, max_value=10**13),
                ),
            )
        ),
        stars=draw(huge_int),
        forks=draw(huge_int),
        watchers=draw(huge_int),
        releases=draw(huge_int),
        topics=draw(st.one_of(st.none(), st.lists(st.text(max_size=5), max_size=30).map(tuple))),
        coding_seconds=draw(
            st.one_of(st.none(), st.floats(min_value=0, max_value=1e12, allow_nan=False))
        ),
    )


def full_project(**changes: object) -> ProjectSnapshot:
    base = ProjectSnapshot(
        name="digital-greenhouse",
        created_at=NOW - 400 * DAY,
        pushed_at=NOW - DAY,
        commit_times=tuple(NOW - i * 2 * DAY for i in range(40)),
        total_commits=300,
        languages={"Python": 200_000, "C": 50_000},
        stars=12,
        forks=2,
        watchers=3,
        releases=4,
        topics=("garden", "trio"),
        coding_seconds=30 * 3600.0,
    )
    return msgspec.structs.replace(base, **changes)


@given(projects())
def test_every_score_and_factor_stays_in_unit_range(project: ProjectSnapshot) -> None:
    metrics = calculate_project_growth(project, NOW)
    assert 0.0 <= metrics.score <= 1.0
    for factor in metrics.factors.values():
        assert 0.0 <= factor.value <= 1.0
        assert 0.0 <= factor.weight <= 1.0
    assert metrics.stage in STAGES
    assert 0.0 <= metrics.prediction.confidence <= 1.0


@given(projects())
def test_weights_used_sum_to_one_and_missing_is_reported(project: ProjectSnapshot) -> None:
    metrics = calculate_project_growth(project, NOW)
    if metrics.factors:
        assert math.isclose(sum(f.weight for f in metrics.factors.values()), 1.0)
        assert math.isclose(sum(f.contribution for f in metrics.factors.values()), metrics.score)
    else:
        assert metrics.score == 0.0
    assert set(metrics.factors_used) | set(metrics.factors_missing) == set(CONFIG.weights)
    assert not set(metrics.factors_used) & set(metrics.factors_missing)


@given(
    projects(),
    st.lists(st.floats(min_value=NOW - 200 * DAY, max_value=NOW), min_size=1, max_size=20),
)
def test_more_commits_never_lower_the_score(project: ProjectSnapshot, extra: list[float]) -> None:
    before = calculate_project_growth(project, NOW)
    more = msgspec.structs.replace(
        project,
        commit_times=(*(project.commit_times or ()), *extra),
        total_commits=None if project.total_commits is None else project.total_commits + len(extra),
    )
    # Adding commits to a project that had no commit data at all adds new factors (and so
    # reweights); "all else equal" means the commit data existed before.
    if project.commit_times is None:
        more = msgspec.structs.replace(more, commit_times=tuple(extra))
        project = msgspec.structs.replace(project, commit_times=())
        before = calculate_project_growth(project, NOW)
    after = calculate_project_growth(more, NOW)
    assert after.score >= before.score - 1e-12


def test_missing_integration_is_not_punished() -> None:
    """No WakaTime and no engagement data: scored on what exists, and says so."""
    complete = calculate_project_growth(full_project(), NOW)
    partial = calculate_project_growth(
        full_project(coding_seconds=None, stars=None, forks=None, watchers=None), NOW
    )
    assert set(partial.factors_missing) == {"time", "engagement"}
    assert "time" in complete.factors_used
    # Renormalised: the remaining weights still sum to 1, and the commits weight grew.
    assert math.isclose(partial.factors["commits"].weight, 0.20 / 0.65)
    # The same project with a real zero for coding time scores lower than with no data.
    zero_time = calculate_project_growth(full_project(coding_seconds=0.0), NOW)
    unknown_time = calculate_project_growth(full_project(coding_seconds=None), NOW)
    assert zero_time.score < unknown_time.score


def test_an_active_project_outgrows_an_abandoned_one() -> None:
    active = calculate_project_growth(full_project(), NOW)
    abandoned = calculate_project_growth(
        full_project(
            commit_times=tuple(NOW - 300 * DAY - i * DAY for i in range(40)),
            pushed_at=NOW - 300 * DAY,
        ),
        NOW,
    )
    assert active.score > abandoned.score
    assert active.health == "thriving"
    assert abandoned.health == "wilting"


@pytest.mark.parametrize(
    ("idle_days", "commits_last_month", "health"),
    [(1, 10, "thriving"), (1, 2, "healthy"), (20, 0, "healthy"), (60, 0, "dormant"),
     (200, 0, "wilting")],
)
def test_health_follows_inactivity(idle_days: int, commits_last_month: int, health: str) -> None:
    commits = tuple(NOW - idle_days * DAY - i * 3600 for i in range(max(1, commits_last_month)))
    project = ProjectSnapshot(name="p", commit_times=commits)
    assert calculate_project_growth(project, NOW).health == health


def test_stage_thresholds_without_history() -> None:
    expected = {0.0: "seed", 0.12: "seed", 0.3: "seedling", 0.5: "sapling", 0.7: "young_tree",
                0.85: "mature_tree", 0.97: "ancient_tree"}
    for score, stage in expected.items():
        assert stage_for_score(score, None, CONFIG) == stage


@given(
    st.sampled_from(STAGES[1:]),
    st.lists(st.floats(min_value=-0.999, max_value=0.999), min_size=1, max_size=50),
    st.booleans(),
)
def test_hysteresis_band_never_flaps(stage: str, wiggles: list[float], start_above: bool) -> None:
    """A score oscillating inside the band around a threshold produces no stage change."""
    threshold = CONFIG.thresholds[stage]
    half = CONFIG.hysteresis / 2
    below = STAGES[STAGES.index(stage) - 1]
    current = stage if start_above else below
    changes = 0
    for wiggle in wiggles:
        score = threshold + wiggle * half  # strictly inside (t - h/2, t + h/2)
        new = stage_for_score(score, current, CONFIG)
        changes += new != current
        current = new
    assert changes == 0


def test_hysteresis_still_moves_on_a_real_change() -> None:
    half = CONFIG.hysteresis / 2
    assert stage_for_score(0.45 + half, "seedling", CONFIG) == "sapling"
    assert stage_for_score(0.45 - half - 0.001, "sapling", CONFIG) == "seedling"
    # A big jump crosses several stages at once.
    assert stage_for_score(0.9, "seed", CONFIG) == "mature_tree"
    assert stage_for_score(0.05, "mature_tree", CONFIG) == "seed"


def test_prediction_from_a_steady_climb() -> None:
    history = [(NOW - d * DAY, 0.30 + 0.01 * (10 - d)) for d in range(10, 0, -1)]
    prediction = predict_growth(history, 0.40, "seedling", NOW, CONFIG)
    assert prediction.status == "growing"
    assert prediction.next_stage == "sapling"
    assert math.isclose(prediction.velocity_per_day, 0.01, rel_tol=1e-6)
    # 0.40 -> 0.45 + 0.02 at 0.01 a day: 7 days.
    assert math.isclose(prediction.seconds_to_next_stage or 0, 7 * DAY, rel_tol=1e-6)
    assert prediction.confidence > 0.9


def test_prediction_says_not_growing_when_flat_or_falling() -> None:
    falling = [(NOW - d * DAY, 0.5 + 0.01 * d) for d in range(10, 0, -1)]
    assert predict_growth(falling, 0.5, "sapling", NOW).status == "not_growing"
    assert predict_growth([], 0.5, "sapling", NOW).status == "insufficient_history"
    assert predict_growth([], 0.99, "ancient_tree", NOW).status == "fully_grown"
    disabled = calculate_project_growth(full_project(), NOW, predict=False)
    assert disabled.prediction.status == "disabled"


def test_portfolio_overview() -> None:
    plants = [
        PlantSummary(name="a", score=0.5, stage="sapling", health="thriving",
                     velocity_per_day=0.02, coding_seconds=7200, languages={"Python": 100}),
        PlantSummary(name="b", score=0.2, stage="seed", health="wilting",
                     velocity_per_day=-0.01, languages={"Python": 50, "C": 400}),
        PlantSummary(name="c", score=0.3, stage="seedling", health="dormant",
                     velocity_per_day=0.05, coding_seconds=3600),
    ]
    overview = portfolio_overview(plants)
    assert overview.total_plants == 3
    assert overview.plants_per_stage["sapling"] == 1
    assert overview.plants_per_stage["ancient_tree"] == 0
    assert [p["name"] for p in overview.fastest_growing] == ["c", "a"]
    assert overview.dormant == ["b", "c"]
    assert overview.total_coding_hours == pytest.approx(3.0)
    assert list(overview.languages.items()) == [("C", 400), ("Python", 150)]


def test_weights_and_thresholds_are_configurable() -> None:
    settings = load_settings(None, {"GROWTH_WEIGHT_TIME": "0", "GROWTH_STAGE_HYSTERESIS": "0.1"})
    metrics = calculate_project_growth(full_project(), NOW, settings.growth)
    assert "time" in metrics.factors_missing
    assert settings.growth.hysteresis == 0.1
    from greenhouse.config import ConfigError

    with pytest.raises(ConfigError, match="GROWTH_THRESHOLD"):
        load_settings(None, {"GROWTH_THRESHOLD_SAPLING": "0.9"})


weird = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))


@given(
    st.builds(
        ProjectSnapshot,
        name=st.just("p"),
        created_at=weird,
        pushed_at=weird,
        commit_times=st.one_of(st.none(), st.lists(st.floats(), max_size=10).map(tuple)),
        total_commits=st.one_of(st.none(), st.integers(min_value=-(10**6), max_value=10**18)),
        languages=st.one_of(
            st.none(), st.dictionaries(st.text(max_size=3), st.integers(-(10**9), 10**18))
        ),
        stars=st.one_of(st.none(), st.integers(min_value=-5, max_value=10**18)),
        coding_seconds=weird,
    ),
    st.floats(min_value=0, max_value=4e9),
)
def test_absurd_inputs_never_raise_and_stay_in_range(project: ProjectSnapshot, now: float) -> None:
    """NaN, infinities and negative counts from a broken source: a valid result, no exception."""
    metrics = calculate_project_growth(project, now)
    assert 0.0 <= metrics.score <= 1.0
    assert all(0.0 <= f.value <= 1.0 for f in metrics.factors.values())
    assert metrics.health in ("thriving", "healthy", "dormant", "wilting")


@given(projects(), st.randoms(use_true_random=False))
def test_commit_order_and_unreadable_times_do_not_change_the_score(
    project: ProjectSnapshot, rng: Any
) -> None:
    # The engine reads commit windows by bisection over the sorted finite times; a snapshot from
    # another source may list them in any order or carry a NaN or infinity.
    if project.commit_times is None:
        return
    shuffled = list(project.commit_times)
    rng.shuffle(shuffled)
    a = calculate_project_growth(project, NOW, CONFIG)
    b = calculate_project_growth(
        msgspec.structs.replace(project, commit_times=tuple(shuffled)), NOW, CONFIG
    )
    assert a == b
    shuffled += [math.nan, math.inf, -math.inf]
    rng.shuffle(shuffled)
    c = calculate_project_growth(
        msgspec.structs.replace(project, commit_times=tuple(shuffled)), NOW, CONFIG
    )
    # Unreadable times count towards the lifetime total only, never as activity in a window.
    assert (a.health, a.days_since_activity) == (c.health, c.days_since_activity)
    assert a.factors["consistency"] == c.factors["consistency"]
