"""Fault drills: the whole garden against a hostile world, one fault at a time.

For each fault (and two wall-clock jumps during a 429 flood) the real tree runs in virtual time:
1 h calm, 2 h 7 min of the fault on every service's host, 2.5 h calm. Reported per fault:
answers sabotaged, services that went down, recoveries, the slowest time to recover after the
API did (virtual seconds), actor restarts, rate-limit violations, and events lost (published but
not stored, plus commits of the world recorded a different number of times than in a calm run).

    python bench/faults.py [--seed 7]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.fault_drill import CLOCK_JUMPS, DrillTimes, run_drill  # noqa: E402
from bench._report import report  # noqa: E402
from greenhouse.simulation.faults import Fault  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rows = []
    details = {}
    with tempfile.TemporaryDirectory() as tmp:
        control = run_drill(None, Path(tmp) / "control.db", seed=args.seed)
        for fault in [f.value for f in Fault] + list(CLOCK_JUMPS):
            started = time.perf_counter()
            expected = None if fault in CLOCK_JUMPS else control.commits_seen
            drill = run_drill(
                fault, Path(tmp) / f"{fault}.db", seed=args.seed, expected_commits=expected
            )
            wall = time.perf_counter() - started
            details[fault] = drill.as_dict()
            rows.append([
                fault, drill.injected, len(drill.went_down), drill.recoveries,
                " ".join(f"{svc[:2]}:{sec:.0f}" for svc, sec in sorted(drill.time_to_recover.items()))
                or "-",
                drill.restarts,
                "yes" if drill.escalated else "no", drill.limit_violations,
                drill.events_lost, ",".join(drill.unavailable_at_end) or "-", round(wall, 2),
            ])
    times = DrillTimes()
    report(
        "faults",
        ["fault", "injected", "down", "recoveries", "recover s (per service)", "restarts", "escalated",
         "limit viol", "events lost", "down at end", "wall s"],
        rows,
        {"seed": args.seed, "times": vars(times), "control": control.as_dict(), "drills": details},
    )


if __name__ == "__main__":
    main()
