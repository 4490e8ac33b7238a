"""Trends over a mood history: averages, extremes and turning points per component (pure)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence

import msgspec

__all__ = [
    "ComponentTrend",
    "MoodSample",
    "MoodTrends",
    "TurningPoint",
    "mood_trends",
    "turning_points",
]


class MoodSample(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the mood history."""

    at: float
    components: dict[str, float]
    atmosphere: str
    confidence: float = 1.0


class TurningPoint(msgspec.Struct, frozen=True):
    """A peak or a trough that the series swung away from by at least the swing."""

    at: float
    value: float
    kind: str  # "peak" | "trough"


class ComponentTrend(msgspec.Struct, frozen=True, kw_only=True):
    """One component over the window."""

    average: float
    minimum: float
    maximum: float
    latest: float
    change: float  # latest - first
    turning_points: list[TurningPoint]


class MoodTrends(msgspec.Struct, frozen=True, kw_only=True):
    """The mood history of the last `hours`, summarised."""

    hours: float
    samples: int
    components: dict[str, ComponentTrend]
    atmospheres: dict[str, float]  # share of samples per atmosphere, largest first
    current_atmosphere: str | None


def turning_points(series: Sequence[tuple[float, float]], swing: float) -> list[TurningPoint]:
    """Zig-zag turning points: an extreme counts once the series moves `swing` away from it."""
    points: list[TurningPoint] = []
    if len(series) < 3:
        return points
    first = series[0]
    high = low = first
    direction = 0  # +1 rising, -1 falling, 0 until the first swing
    extreme = first
    for at, value in series[1:]:
        if direction == 0:
            high = (at, value) if value > high[1] else high
            low = (at, value) if value < low[1] else low
            if high[1] - low[1] < swing:
                continue
            # The later extreme sets the direction; the earlier one is a turning point only if
            # the series had already swung to it from the start.
            direction, extreme, earlier = (1, high, low) if high[0] > low[0] else (-1, low, high)
            if abs(earlier[1] - first[1]) >= swing:
                kind = "trough" if direction > 0 else "peak"
                points.append(TurningPoint(earlier[0], earlier[1], kind))
            continue
        if direction > 0:
            if value > extreme[1]:
                extreme = (at, value)
            elif extreme[1] - value >= swing:
                points.append(TurningPoint(extreme[0], extreme[1], "peak"))
                direction, extreme = -1, (at, value)
        else:
            if value < extreme[1]:
                extreme = (at, value)
            elif value - extreme[1] >= swing:
                points.append(TurningPoint(extreme[0], extreme[1], "trough"))
                direction, extreme = 1, (at, value)
    return points


def mood_trends(
    samples: Sequence[MoodSample],
    hours: float,
    components: Sequence[str],
    swing: float = 0.1,
) -> MoodTrends:
    """Per component: average, min, max, latest, change and turning points; atmosphere shares."""
    ordered = sorted(samples, key=lambda s: s.at)
    trends: dict[str, ComponentTrend] = {}
    for name in components:
        series = [(s.at, s.components[name]) for s in ordered if name in s.components]
        if not series:
            continue
        values = [v for _, v in series]
        trends[name] = ComponentTrend(
            average=statistics.fmean(values),
            minimum=min(values),
            maximum=max(values),
            latest=values[-1],
            change=values[-1] - values[0],
            turning_points=turning_points(series, swing),
        )
    counts: Mapping[str, int] = Counter(s.atmosphere for s in ordered)
    total = len(ordered)
    return MoodTrends(
        hours=hours,
        samples=total,
        components=trends,
        atmospheres={
            name: count / total
            for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        },
        current_atmosphere=ordered[-1].atmosphere if ordered else None,
    )
