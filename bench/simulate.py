"""`run.py simulate` speed: wall and CPU seconds per simulated day, against the 30 s goal.

    python -m bench.simulate            # 30 simulated days, best of 1
    python -m bench.simulate --quick    # 3 days, best of 2 (a projection, not the figure)
    python bench/simulate.py --days 3 --by-actor   # plus where the time goes, task by task

The machine is shared, so each run is bracketed by a fixed pure-Python workload (the
calibration); its time says how busy the machine was, and the figure is reported with it.
Startup (imports, building the tree) and the summary's queries are included, as the user sees
them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._report import report  # noqa: E402
from bench._steps import StepTimer  # noqa: E402

GOAL_SECONDS = 30.0  # for 30 simulated days


def calibrate() -> float:
    """CPU seconds of a fixed pure-Python workload (about 0.2 s on a quiet core)."""
    started = time.process_time()
    total = 0
    for i in range(2_000_000):
        total += i % 7
    return time.process_time() - started


def one_run(days: int, seed: int, db: Path) -> dict[str, float]:
    """One simulation; its wall and CPU seconds and API calls."""
    from actors.simulation import simulate

    wall, cpu = time.perf_counter(), time.process_time()
    summary = simulate(days, seed, db, progress=None)
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "calls": float(sum(summary.api_calls.values())),
    }


def by_actor(days: int, seed: int, db: Path) -> None:
    """One more run with a `StepTimer`: milliseconds and steps per simulated day per task."""
    from actors.simulation import simulate

    timer = StepTimer(
        lambda name: "rate_limit.* (buckets)" if name.startswith("rate_limit.") else name
    )
    wall = time.perf_counter()
    simulate(days, seed, db, progress=None, instruments=[timer])
    wall = time.perf_counter() - wall
    in_steps = sum(timer.seconds.values())
    ranked = sorted(timer.seconds.items(), key=lambda item: -item[1])
    rows: list[list[Any]] = [
        [name[-40:], round(spent * 1000 / days, 1), round(timer.steps[name] / days),
         round(spent * 1e6 / timer.steps[name], 1)]
        for name, spent in ranked[:20]
    ]
    rows.append(["(the rest: trio's loop, start-up, summary)", round((wall - in_steps) * 1000 / days,
                                                                      1), "", ""])
    report("simulate_by_actor", ["task", "ms per day", "steps per day", "us per step"], rows,
           {"days": days, "wall": wall})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 days, 2 rounds")
    parser.add_argument("--by-actor", action="store_true",
                        help="then one more run timing every task step (slower; not the figure)")
    args = parser.parse_args()
    days, rounds = (3, 2) if args.quick else (args.days, args.rounds)
    runs, calibrations = [], [calibrate()]
    with tempfile.TemporaryDirectory() as folder:
        for n in range(rounds):
            runs.append(one_run(days, args.seed, Path(folder) / f"sim{n}.db"))
            calibrations.append(calibrate())
    best = min(runs, key=lambda r: r["wall"])
    load = os.getloadavg()[0]
    per_day = best["cpu"] / days
    rows = [
        ["simulated days", days],
        ["wall seconds (best)", round(best["wall"], 2)],
        ["CPU seconds (best)", round(best["cpu"], 2)],
        ["CPU seconds per simulated day", round(per_day, 3)],
        ["API calls per simulated day", round(best["calls"] / days)],
        ["30 days projected, CPU seconds", round(per_day * 30, 1)],
        ["calibration CPU seconds (median)", round(sorted(calibrations)[len(calibrations) // 2], 3)],
        ["load average (1 min)", round(load, 2)],
    ]
    report(
        "simulate",
        ["measure", "value"],
        rows,
        {"goal_seconds_for_30_days": GOAL_SECONDS, "runs": runs, "calibrations": calibrations},
    )
    if args.by_actor:
        print()
        with tempfile.TemporaryDirectory() as folder:
            by_actor(days, args.seed, Path(folder) / "profiled.db")


if __name__ == "__main__":
    main()
