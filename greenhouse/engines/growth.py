"""The growth engine: how much a project (a plant) has grown, and what stage it is in.

Pure and deterministic: every function takes its inputs (and `now`, epoch seconds) and returns
values; nothing here reads a clock, a file or the network.

Factors, each normalised to [0, 1] (see `FACTOR_DOCS`), are combined with the configured weights,
renormalised over the factors whose data exists: a project without WakaTime (or whose host does
not report stars) is scored on what is known, and the result says which factors were used.
"""

from __future__ import annotations

import math
import operator
import statistics
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import msgspec

from greenhouse.config import GROWTH_STAGES, GrowthConfig
from greenhouse.engines.growth_fit import ScoreHistory

__all__ = [
    "FACTOR_DOCS",
    "STAGES",
    "FactorContribution",
    "GrowthMetrics",
    "GrowthPrediction",
    "PlantSummary",
    "PortfolioOverview",
    "ProjectSnapshot",
    "calculate_project_growth",
    "classify_health",
    "factor_values",
    "portfolio_overview",
    "predict_growth",
    "stage_for_score",
]

STAGES: tuple[str, ...] = GROWTH_STAGES
DAY = 86400.0
WEEK = 7 * DAY

FACTOR_DOCS: dict[str, str] = {
    "commits": "commits in the window per week, 1 - exp(-rate/3), blended 70/30 with lifetime "
    "commits on a log scale (1000 commits = 1)",
    "consistency": "share of active weeks in the window (0.5), longest run of active weeks (0.3) "
    "and share of active days (0.2): more commits can only add activity, never remove it",
    "complexity": "code size, log10(bytes)/7 (10 MB = 1), 60%; language diversity 1 - 1/exp(H) "
    "(H the Shannon entropy of the byte shares: one language 0, two equal 0.5), 40%",
    "time": "WakaTime hours on the project, 1 - exp(-hours/40)",
    "engagement": "stars + 2 x forks + watchers, log1p scaled so that 1000 = 1",
    "age": "age since creation, 1 - exp(-days/365)",
    "innovation": "releases (log, 20 = 1) 50%, topics (5 = 1) 25%, language count (5 = 1) 25%, "
    "renormalised over the parts that are known",
}


class ProjectSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What is known about one project. `None` means "no data", not zero."""

    name: str
    created_at: float | None = None  # epoch seconds
    pushed_at: float | None = None
    commit_times: tuple[float, ...] | None = None  # recent commit times (epoch seconds)
    total_commits: int | None = None  # lifetime, when known
    languages: dict[str, int] | None = None  # bytes per language
    stars: int | None = None
    forks: int | None = None
    watchers: int | None = None
    releases: int | None = None
    topics: tuple[str, ...] | None = None
    coding_seconds: float | None = None  # WakaTime time on this project


class FactorContribution(msgspec.Struct, frozen=True):
    """One factor: its normalised value, its weight after renormalising, and value x weight."""

    value: float
    weight: float
    contribution: float


class GrowthPrediction(msgspec.Struct, frozen=True, kw_only=True):
    """Expected time to the next stage from the recent growth velocity."""

    status: str  # "growing" | "not_growing" | "insufficient_history" | "fully_grown" | "disabled"
    next_stage: str | None = None
    seconds_to_next_stage: float | None = None
    velocity_per_day: float = 0.0
    confidence: float = 0.0


class GrowthMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """The growth engine's verdict on one project."""

    name: str
    score: float
    stage: str
    factors: dict[str, FactorContribution]
    factors_used: tuple[str, ...]
    factors_missing: tuple[str, ...]
    health: str  # thriving | healthy | dormant | wilting
    days_since_activity: float | None
    prediction: GrowthPrediction


def _clamp(value: float) -> float:
    if value != value:  # NaN from absurd inputs must not leak out
        return 0.0
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


def _saturate(amount: float, scale: float) -> float:
    """1 - exp(-amount/scale): 0 at 0, rising and never reaching 1."""
    if amount <= 0:
        return 0.0
    return _clamp(1.0 - math.exp(-amount / scale))


def _log_scale(amount: float, full: float) -> float:
    if amount <= 0:
        return 0.0
    return _clamp(math.log1p(amount) / math.log1p(full))


def _timeline(times: tuple[float, ...]) -> tuple[float, ...]:
    """The finite commit times in order, which every window reads by bisection.

    Memoised: a plant is scored several times an hour while its commits seldom change, and the
    walk over up to `MAX_COMMITS_KEPT` times was most of a score's cost. One score reads the
    same tuple five times: the last one is recognised by identity, without hashing it again.
    """
    seen, timeline = _last_timeline[0]
    if seen is times:
        return timeline
    timeline = _sorted_finite(times)
    _last_timeline[0] = (times, timeline)  # one pair, replaced whole: safe from a worker thread
    return timeline


_last_timeline: list[tuple[tuple[float, ...] | None, tuple[float, ...]]] = [(None, ())]


@lru_cache(maxsize=128)
def _sorted_finite(times: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(sorted(t for t in times if math.isfinite(t)))


def _window_commits(project: ProjectSnapshot, now: float, window: float) -> Sequence[float]:
    """The commit times in [now - window, now], oldest first."""
    start = now - window
    if not start <= now:  # a NaN `now` (or a negative window) holds no commit
        return ()
    times = _timeline(project.commit_times or ())
    return times[bisect_left(times, start) : bisect_right(times, now)]


def _commits_factor(project: ProjectSnapshot, now: float, window: float) -> float | None:
    if project.commit_times is None and project.total_commits is None:
        return None
    recent = _window_commits(project, now, window)
    rate = len(recent) / (window / WEEK)
    # A commit seen in the window is also a lifetime commit even if the total lags behind.
    lifetime = max(project.total_commits or 0, len(project.commit_times or ()))
    return _clamp(0.7 * _saturate(rate, 3.0) + 0.3 * _log_scale(lifetime, 1000.0))


def _consistency_factor(project: ProjectSnapshot, now: float, window: float) -> float | None:
    if project.commit_times is None:
        return None
    recent = _window_commits(project, now, window)
    weeks = max(1, math.ceil(window / WEEK))
    days = max(1, math.ceil(window / DAY))
    # The distinct ages first (floats, in one C-level pass each), then clamped: the same sets.
    active_weeks = {min(weeks - 1, int(w)) for w in {(now - t) // WEEK for t in recent}}
    active_days = {min(days - 1, int(d)) for d in {(now - t) // DAY for t in recent}}
    longest = run = 0
    for week in range(weeks):
        run = run + 1 if week in active_weeks else 0
        longest = max(longest, run)
    # Active days saturate at 3 a week: a daily committer is not "more consistent" than that.
    day_share = min(1.0, len(active_days) / (weeks * 3))
    return _clamp(0.5 * len(active_weeks) / weeks + 0.3 * longest / weeks + 0.2 * day_share)


def _diversity(languages: Mapping[str, int]) -> float:
    sizes = [b for b in languages.values() if b > 0]
    total = sum(sizes)
    if total <= 0:
        return 0.0
    entropy = -sum((b / total) * math.log(b / total) for b in sizes)
    return _clamp(1.0 - math.exp(-entropy))


def _complexity_factor(project: ProjectSnapshot) -> float | None:
    if project.languages is None:
        return None
    total = sum(b for b in project.languages.values() if b > 0)
    size = _clamp(math.log10(total) / 7.0) if total > 1 else 0.0
    return _clamp(0.6 * size + 0.4 * _diversity(project.languages))


def _time_factor(project: ProjectSnapshot) -> float | None:
    if project.coding_seconds is None:
        return None
    return _saturate(project.coding_seconds / 3600.0, 40.0)


def _engagement_factor(project: ProjectSnapshot) -> float | None:
    parts = (project.stars, project.forks, project.watchers)
    if all(p is None for p in parts):
        return None
    stars, forks, watchers = (max(0, p or 0) for p in parts)
    return _log_scale(stars + 2 * forks + watchers, 1000.0)


def _age_factor(project: ProjectSnapshot, now: float) -> float | None:
    if project.created_at is None:
        return None
    return _saturate((now - project.created_at) / DAY, 365.0)


def _innovation_factor(project: ProjectSnapshot) -> float | None:
    # Renormalised over the parts that are known, like the factors themselves: a host that does
    # not report releases does not make a project less innovative.
    parts: list[tuple[float, float]] = []
    if project.releases is not None:
        parts.append((0.5, _log_scale(project.releases, 20.0)))
    if project.topics is not None:
        parts.append((0.25, min(1.0, len(project.topics) / 5.0)))
    if project.languages is not None:
        count = sum(1 for b in project.languages.values() if b > 0)
        parts.append((0.25, min(1.0, count / 5.0)))
    if not parts:
        return None
    return _clamp(sum(w * v for w, v in parts) / sum(w for w, _ in parts))


def factor_values(
    project: ProjectSnapshot, now: float, config: GrowthConfig | None = None
) -> dict[str, float | None]:
    """Each factor's value in [0, 1], or None when the project has no data for it."""
    config = config or GrowthConfig()
    window = config.window_days * DAY
    return {
        "commits": _commits_factor(project, now, window),
        "complexity": _complexity_factor(project),
        "time": _time_factor(project),
        "engagement": _engagement_factor(project),
        "age": _age_factor(project, now),
        "consistency": _consistency_factor(project, now, window),
        "innovation": _innovation_factor(project),
    }


def _last_activity(project: ProjectSnapshot, now: float) -> float | None:
    moments: list[float] = []
    if now == now:  # a NaN `now` follows no commit
        times = _timeline(project.commit_times or ())
        index = bisect_right(times, now)
        if index:
            moments.append(times[index - 1])
    if project.pushed_at is not None and math.isfinite(project.pushed_at):
        moments.append(min(project.pushed_at, now))
    return max(moments) if moments else None


def classify_health(project: ProjectSnapshot, now: float, config: GrowthConfig) -> str:
    """thriving / healthy / dormant / wilting, from days since the last activity."""
    last = _last_activity(project, now)
    if last is None:
        return "dormant"
    idle_days = (now - last) / DAY
    month = len(_window_commits(project, now, 30 * DAY))
    if idle_days <= config.thriving_days and month >= config.thriving_commits_30d:
        return "thriving"
    if idle_days <= config.healthy_days:
        return "healthy"
    if idle_days <= config.wilting_days:
        return "dormant"
    return "wilting"


def _plain_stage(score: float, thresholds: Mapping[str, float]) -> int:
    index = 0
    for i, stage in enumerate(STAGES):
        if score >= thresholds[stage]:
            index = i
    return index


def stage_for_score(score: float, previous: str | None, config: GrowthConfig) -> str:
    """The stage for `score`, with hysteresis around every threshold when a previous stage exists.

    Going up to a stage needs `threshold + hysteresis/2`; leaving a stage downwards needs a score
    below `its threshold - hysteresis/2`. A score that wanders inside a band changes nothing.
    """
    thresholds = config.thresholds
    if previous not in STAGES:
        return STAGES[_plain_stage(score, thresholds)]
    margin = config.hysteresis / 2.0
    current = STAGES.index(previous)
    while current + 1 < len(STAGES) and score >= thresholds[STAGES[current + 1]] + margin:
        current += 1
    while current > 0 and score < thresholds[STAGES[current]] - margin:
        current -= 1
    return STAGES[current]


def _least_squares(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """(slope, correlation) of the least-squares line through the points (x not constant).

    The same sums as `statistics.linear_regression` and `statistics.correlation`, so the same
    results to the last bit, computed once for both: a month of hourly points is scored for
    every plant several times an hour.
    """
    n = len(xs)
    xbar = math.fsum(xs) / n
    ybar = math.fsum(ys) / n
    dx = [x - xbar for x in xs]
    dy = [y - ybar for y in ys]
    sxy = math.fsum(map(operator.mul, dx, dy))
    sxx = math.fsum(map(operator.mul, dx, dx))
    syy = math.fsum(map(operator.mul, dy, dy))
    correlation = sxy / math.sqrt(sxx * syy) if syy > 0 else 0.0
    return sxy / sxx, correlation


def _trend(
    history: Sequence[tuple[float, float]] | ScoreHistory,
    score: float,
    since: float,
    now: float,
    config: GrowthConfig,
) -> tuple[int, float, float] | None:
    """(points, slope per day, r^2) of the line through the window and (now, score), or None.

    None: too few points, or all at one instant. A `ScoreHistory` answers from its running sums
    (a few operations); a plain sequence is filtered and fitted point by point.
    """
    fit = history.fit(since, now, score) if isinstance(history, ScoreHistory) else None
    if fit is not None:
        if fit.n < config.min_history_points or fit.same_times:
            return None
        correlation = fit.sxy / math.sqrt(fit.sxx * fit.syy) if fit.syy > 0 else 0.0
        # A perfectly flat history is perfectly explained by a flat line.
        r_squared = correlation**2 if not fit.same_scores else 1.0
        return fit.n, fit.sxy / fit.sxx * DAY, r_squared
    # One filtering pass, no sorting.
    isfinite = math.isfinite
    window = [(t, s) for t, s in history if since <= t <= now and isfinite(s)]
    xs = [(t - now) / DAY for t, _ in window]
    ys = [s for _, s in window]
    xs.append(0.0)
    ys.append(score)
    if len(xs) < config.min_history_points or all(x == 0.0 for x in xs):
        return None
    slope, correlation = _least_squares(xs, ys)
    first = ys[0]
    r_squared = correlation**2 if any(y != first for y in ys) else 1.0
    return len(xs), slope, r_squared


def predict_growth(
    history: Sequence[tuple[float, float]] | ScoreHistory,
    score: float,
    stage: str,
    now: float,
    config: GrowthConfig | None = None,
) -> GrowthPrediction:
    """Time to the next stage from a least-squares line through recent (time, score) points.

    Confidence is the fit's r^2 scaled down when there are few points. A flat or falling line
    says "not_growing" rather than inventing a date.
    """
    config = config or GrowthConfig()
    if stage == STAGES[-1]:
        return GrowthPrediction(status="fully_grown", confidence=1.0)
    next_stage = STAGES[STAGES.index(stage) + 1]
    since = now - config.history_days * DAY
    line = _trend(history, score, since, now, config)
    if line is None:
        return GrowthPrediction(status="insufficient_history", next_stage=next_stage)
    count, slope, r_squared = line
    confidence = _clamp(r_squared * min(1.0, count / 10.0))
    if slope <= 1e-9:
        return GrowthPrediction(
            status="not_growing",
            next_stage=next_stage,
            velocity_per_day=slope,
            confidence=confidence,
        )
    target = config.thresholds[next_stage] + config.hysteresis / 2.0
    days = max(0.0, (target - score) / slope)
    return GrowthPrediction(
        status="growing",
        next_stage=next_stage,
        seconds_to_next_stage=days * DAY,
        velocity_per_day=slope,
        confidence=confidence,
    )


def calculate_project_growth(
    project: ProjectSnapshot,
    now: float,
    config: GrowthConfig | None = None,
    *,
    previous_stage: str | None = None,
    history: Sequence[tuple[float, float]] | ScoreHistory = (),
    predict: bool = True,
) -> GrowthMetrics:
    """Score, stage (with hysteresis against `previous_stage`), factors, health and prediction."""
    config = config or GrowthConfig()
    values = factor_values(project, now, config)
    available = {
        name: value
        for name, value in values.items()
        if value is not None and config.weights.get(name, 0.0) > 0
    }
    total_weight = sum(config.weights[name] for name in available)
    factors: dict[str, FactorContribution] = {}
    score = 0.0
    if total_weight > 0:
        for name, value in available.items():
            weight = config.weights[name] / total_weight
            factors[name] = FactorContribution(value, weight, value * weight)
            score += value * weight
    score = _clamp(score)
    stage = stage_for_score(score, previous_stage, config)
    last = _last_activity(project, now)
    prediction = (
        predict_growth(history, score, stage, now, config)
        if predict
        else GrowthPrediction(status="disabled")
    )
    return GrowthMetrics(
        name=project.name,
        score=score,
        stage=stage,
        factors=factors,
        factors_used=tuple(sorted(factors)),
        factors_missing=tuple(sorted(set(values) - set(factors))),
        health=classify_health(project, now, config),
        days_since_activity=None if last is None else (now - last) / DAY,
        prediction=prediction,
    )


class PortfolioOverview(msgspec.Struct, frozen=True, kw_only=True):
    """The whole garden at a glance."""

    total_plants: int
    plants_per_stage: dict[str, int]
    average_score: float
    fastest_growing: list[dict[str, float | str]]
    dormant: list[str]
    total_coding_hours: float
    languages: dict[str, int]  # bytes per language across the garden, largest first


class PlantSummary(msgspec.Struct, frozen=True, kw_only=True):
    """What the overview needs about one plant (a row of the `plant_growth` table)."""

    name: str
    score: float
    stage: str
    health: str
    velocity_per_day: float = 0.0
    coding_seconds: float | None = None
    languages: dict[str, int] | None = None


def portfolio_overview(plants: Iterable[PlantSummary], top: int = 5) -> PortfolioOverview:
    """Plants per stage, the fastest growing, the dormant, coding time and languages."""
    plants = list(plants)
    per_stage = {stage: 0 for stage in STAGES}
    languages: Counter[str] = Counter()
    for plant in plants:
        per_stage[plant.stage] = per_stage.get(plant.stage, 0) + 1
        for language, size in (plant.languages or {}).items():
            if size > 0:
                languages[language] += size
    growing = sorted(
        (p for p in plants if p.velocity_per_day > 0),
        key=lambda p: (-p.velocity_per_day, p.name),
    )[:top]
    return PortfolioOverview(
        total_plants=len(plants),
        plants_per_stage=per_stage,
        average_score=statistics.fmean(p.score for p in plants) if plants else 0.0,
        fastest_growing=[
            {"name": p.name, "velocity_per_day": p.velocity_per_day, "stage": p.stage}
            for p in growing
        ],
        dormant=sorted(p.name for p in plants if p.health in ("dormant", "wilting")),
        total_coding_hours=sum(p.coding_seconds or 0.0 for p in plants) / 3600.0,
        languages=dict(languages.most_common()),
    )
