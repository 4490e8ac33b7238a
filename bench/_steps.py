"""A trio instrument for the benches: wall time and count of task steps, by task name."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import trio

__all__ = ["StepTimer"]


class StepTimer(trio.abc.Instrument):
    """Seconds and steps per task name (`group` may fold several names into one)."""

    def __init__(self, group: Callable[[str], str] = str) -> None:
        self.group = group
        self.seconds: dict[str, float] = {}
        self.steps: dict[str, int] = {}
        self._started = 0.0

    def before_task_step(self, task: Any) -> None:
        self._started = time.perf_counter()

    def after_task_step(self, task: Any) -> None:
        spent = time.perf_counter() - self._started
        name = self.group(task.name)
        self.seconds[name] = self.seconds.get(name, 0.0) + spent
        self.steps[name] = self.steps.get(name, 0) + 1

    def total(self, part: str) -> tuple[float, int]:
        """Seconds and steps of the tasks whose name contains `part`."""
        names = [name for name in self.seconds if part in name]
        return sum(self.seconds[n] for n in names), sum(self.steps[n] for n in names)
