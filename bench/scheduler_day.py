"""24 virtual hours of the default schedule under MockClock: wall time and runs per task.

Two target kinds, as in the garden: plain async functions, and owner actors answering `RunTask`
by `ask` (a mailbox round trip per run). Every task of `schedule_default_tasks` is scheduled
(Spotify every 30 s dominates: 2880 of the ~3900 runs). The best of `--repeat` runs is kept;
CPU seconds (process time) are shown beside wall seconds because the 2-core sandbox is shared,
so wall time there includes waiting for a core. One more run per kind times the scheduler's own
trio task steps (an instrument, as `bench/simulate.py --by-actor` does): its milliseconds and
steps for the day (for actor targets the owners' answers are recorded in the owners' steps).

    python bench/scheduler_day.py [--repeat 5]
    python bench/scheduler_day.py --quick      # one run per kind
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio
import trio.testing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.scheduler import SchedulerActor  # noqa: E402
from bench._report import report  # noqa: E402
from bench._steps import StepTimer  # noqa: E402
from greenhouse.config import IntegrationSettings  # noqa: E402
from greenhouse.messages import RunTask  # noqa: E402
from greenhouse.runtime import Actor, Bus, Clock, Mailbox  # noqa: E402
from greenhouse.scheduling import default_tasks  # noqa: E402

START = datetime(2026, 11, 26, tzinfo=UTC).timestamp()
DAY = 86400.0


class Owner(Actor):
    """Answers RunTask with None (the convention's "it went well")."""

    def __init__(self, name: str, inbox: Mailbox, counts: Counter[str]) -> None:
        super().__init__(name, inbox)
        self.counts = counts

    async def handle(self, message: Any) -> Any:
        if isinstance(message, RunTask):
            self.counts[message.task_id] += 1
        return None


def one_day(
    kind: str, steps: StepTimer | None = None
) -> tuple[float, float, Counter[str]]:
    """Run a virtual day; returns wall seconds, CPU seconds and runs per task."""
    counts: Counter[str] = Counter()
    settings = IntegrationSettings()

    async def main() -> None:
        bus = Bus()
        scheduler = SchedulerActor(bus.mailbox("scheduler"), bus, clock=Clock(START), seed=1)
        owners: list[Owner] = []
        targets: dict[str, Any] = {}
        for task in default_tasks(settings):
            if kind == "actor":
                box = bus.mailbox(task.owner)
                owners.append(Owner(task.owner, box, counts))
                targets[task.owner] = box
            else:
                async def run(task_id: str = task.task_id) -> None:
                    counts[task_id] += 1

                targets[task.owner] = run
        scheduler.schedule_default_tasks(settings, targets)
        async with trio.open_nursery() as nursery:
            for owner in owners:
                nursery.start_soon(owner.run)
            nursery.start_soon(scheduler.run)
            await trio.sleep(DAY - 1)
            nursery.cancel_scope.cancel()

    started, cpu = time.perf_counter(), time.process_time()
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0),
             instruments=[steps] if steps is not None else [])
    return time.perf_counter() - started, time.process_time() - cpu, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run per kind")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 1
    rows = []
    per_task: dict[str, int] = {}
    for kind in ("function", "actor"):
        wall, cpu, counts = min((one_day(kind) for _ in range(args.repeat)), key=lambda r: r[0])
        total = sum(counts.values())
        steps = StepTimer()
        one_day(kind, steps)
        rows.append([kind, total, wall, cpu, total / wall, steps.total("SchedulerActor")[0] * 1000,
                     steps.total("SchedulerActor")[1]])
        per_task = dict(sorted(counts.items()))
    report(
        "scheduler_day",
        ["targets", "runs in 24 h", "wall s (best)", "CPU s", "runs per wall second",
         "scheduler steps ms", "scheduler steps"],
        rows,
        {"repeat": args.repeat, "runs_per_task": per_task},
    )
    print("runs per task:", ", ".join(f"{k} {v}" for k, v in per_task.items()))


if __name__ == "__main__":
    main()
