"""How fast the pure engines are: growth scores, mood syntheses and analytics over visits.

What a Raspberry Pi pays each hour: scoring every plant (50 repositories, 500 commits each),
a mood synthesis every 3 minutes, and sessionising a busy day of visits.

    python bench/engines.py [--plants 50] [--visits 100000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import report  # noqa: E402
from greenhouse.engines.analytics import Visit, engagement_metrics, sessionize  # noqa: E402
from greenhouse.engines.growth import ProjectSnapshot, calculate_project_growth  # noqa: E402
from greenhouse.engines.mood import (  # noqa: E402
    MoodInputs,
    MusicSignal,
    ProductivitySignal,
    WeatherSignal,
    synthesize_current_mood,
)

NOW = 1_800_000_000.0
DAY = 86400.0


def best_rate(work: Callable[[], int], repeat: int) -> tuple[float, float]:
    """Best items/s and the matching seconds per call over `repeat` runs."""
    best = (0.0, 0.0)
    for _ in range(repeat):
        started = time.perf_counter()
        items = work()
        elapsed = time.perf_counter() - started
        best = max(best, (items / elapsed, elapsed))
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plants", type=int, default=50)
    parser.add_argument("--commits", type=int, default=500)
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(7)
    projects = [
        ProjectSnapshot(
            name=f"repo-{i}",
            created_at=NOW - rng.uniform(10, 2000) * DAY,
            commit_times=tuple(NOW - rng.uniform(0, 365) * DAY for _ in range(args.commits)),
            total_commits=args.commits * 3,
            languages={"Python": rng.randint(1, 10**6), "C": rng.randint(0, 10**5)},
            stars=rng.randint(0, 500),
            forks=rng.randint(0, 50),
            watchers=rng.randint(0, 500),
            releases=rng.randint(0, 30),
            topics=("a", "b"),
            coding_seconds=rng.uniform(0, 400) * 3600,
        )
        for i in range(args.plants)
    ]
    history = [(NOW - d * 3600.0, 0.3 + d * 0.0001) for d in range(720)]  # 30 days, hourly

    def growth() -> int:
        for project in projects:
            calculate_project_growth(project, NOW, previous_stage="sapling", history=history)
        return len(projects)

    inputs = MoodInputs(
        music=MusicSignal(at=NOW, valence=0.6, energy=0.7, tempo=128, acousticness=0.2),
        weather=WeatherSignal(at=NOW, condition="Rain", temperature=12, clouds=80, rain_mm_h=1,
                              wind_speed=3, is_day=True),
        productivity=ProductivitySignal(at=NOW, recent_seconds=5400, baseline_seconds=7200),
    )

    def mood() -> int:
        for i in range(2000):
            synthesize_current_mood(inputs, NOW + i * 180)
        return 2000

    visits = [
        Visit(visitor_id=f"v{rng.randint(0, args.visits // 10)}",
              path=rng.choice(["/", "/plants/a", "/plants/b", "/about"]),
              at=NOW - rng.uniform(0, DAY))
        for _ in range(args.visits)
    ]

    def analytics() -> int:
        sessionize(visits)
        return len(visits)

    def metrics() -> int:
        engagement_metrics(visits, NOW, 24)
        return len(visits)

    rows = []
    rate, seconds = best_rate(growth, args.repeat)
    rows.append([f"growth: score {args.plants} plants ({args.commits} commits, 720-point "
                 "history)", rate, "plants/s", seconds * 1000])
    rate, seconds = best_rate(mood, args.repeat)
    rows.append(["mood: synthesise (all 4 sources)", rate, "syntheses/s", seconds * 1000])
    rate, seconds = best_rate(analytics, args.repeat)
    rows.append([f"analytics: sessionise {args.visits:,} visits", rate, "visits/s",
                 seconds * 1000])
    rate, seconds = best_rate(metrics, args.repeat)
    rows.append([f"analytics: engagement metrics over {args.visits:,} visits", rate, "visits/s",
                 seconds * 1000])
    report("engines", ["work", "rate", "unit", "ms per run"], rows, vars(args))


if __name__ == "__main__":
    main()
