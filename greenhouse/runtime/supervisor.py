"""Erlang/OTP-style supervision for trio actors.

A `Supervisor` runs its children (actors or nested supervisors) in one nursery and restarts them
one_for_one: only the child that stopped is restarted.

* Restart policies: `permanent` children are always restarted, `transient` ones only after a
  crash (a normal return is final), `temporary` ones never.
* Backoff: the n-th consecutive restart of a child waits `min(cap, base * 2**(n-1))`, with up to
  10 % jitter; a child that ran for longer than `period` starts again from `base`.
* Intensity: more than `max_restarts` restarts of all children within `period` seconds makes the
  supervisor give up: it cancels its children and raises `SupervisorEscalation` to its parent,
  which counts that as a crash of the supervisor (the child). The root's escalation ends the run.
  OTP's default is 1 restart in 5 s; pollers here fail for reasons outside our control (a flaky
  home network), so the default is 5 restarts in 60 s, with backoff so a failing child costs
  little while it retries.

Every crash is logged with the actor's name and traceback and counted in `ActorStatus`.
"""

from __future__ import annotations

import enum
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from .clock import Clock

__all__ = [
    "ActorStatus",
    "ChildSpec",
    "Restart",
    "Runnable",
    "Supervisor",
    "SupervisorEscalation",
]

log = logging.getLogger("greenhouse.supervisor")


class Runnable(Protocol):
    """Anything a supervisor can run: actors and supervisors."""

    name: str

    async def run(self) -> None: ...


class Restart(enum.StrEnum):
    """When a stopped child is started again."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class SupervisorEscalation(Exception):
    """A supervisor exceeded its restart intensity and gave up."""


@dataclass
class ChildSpec:
    """How to make and restart one child."""

    name: str
    factory: Callable[[], Runnable]
    restart: Restart = Restart.PERMANENT


@dataclass
class ActorStatus:
    """What the runtime knows about one child, shown by `/api/status` and `run.py status`."""

    name: str
    state: str = "starting"  # starting, running, restarting, stopped, failed
    restarts: int = 0
    crashes: int = 0
    last_error: str | None = None
    started_at: float | None = None
    children: list[ActorStatus] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "restarts": self.restarts,
            "crashes": self.crashes,
            "last_error": self.last_error,
            "started_at": self.started_at,
            "children": [child.as_dict() for child in self.children],
        }


class Supervisor:
    """Runs children one_for_one with backoff and restart intensity; supervisors nest."""

    def __init__(
        self,
        name: str,
        children: list[ChildSpec],
        *,
        max_restarts: int = 5,
        period: float = 60.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        clock: Clock | None = None,
        seed: int | None = None,
    ) -> None:
        names = [c.name for c in children]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate child names in supervisor {name!r}: {names}")
        self.name = name
        self.specs = list(children)
        self.max_restarts = max_restarts
        self.period = period
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.clock = clock if clock is not None else Clock()
        self.status = ActorStatus(name)
        self.status.children = [ActorStatus(c.name) for c in children]
        self._restart_times: deque[float] = deque()
        self._random = random.Random(random.getrandbits(64) if seed is None else seed)
        self._instances: dict[str, Runnable] = {}

    def child(self, name: str) -> Runnable | None:
        """The running instance of a child (for tests and status), if any."""
        return self._instances.get(name)

    def backoff(self, consecutive: int) -> float:
        """Delay before the `consecutive`-th restart in a row (1-based), jitter included."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** max(0, consecutive - 1))
        return delay * (1.0 + 0.1 * self._random.random())

    async def run(self) -> None:
        """Run all children until cancelled, or until intensity is exceeded (escalates)."""
        self.status.state = "running"
        self.status.started_at = self.clock.time()
        log.info("supervisor %s starting children: %s", self.name, [c.name for c in self.specs])
        try:
            async with trio.open_nursery() as nursery:
                for spec, status in zip(self.specs, self.status.children, strict=True):
                    nursery.start_soon(self._supervise, spec, status, name=spec.name)
        except BaseExceptionGroup as group:
            if _escalated(group):
                self.status.state = "failed"
                raise SupervisorEscalation(f"supervisor {self.name} gave up: {group.exceptions[0]}") from group
            self.status.state = "stopped"
            raise
        except BaseException:
            self.status.state = "stopped"
            raise
        self.status.state = "stopped"

    def _note_restart(self) -> None:
        now = self.clock.monotonic()
        self._restart_times.append(now)
        while self._restart_times and self._restart_times[0] <= now - self.period:
            self._restart_times.popleft()
        if len(self._restart_times) > self.max_restarts:
            raise SupervisorEscalation(
                f"supervisor {self.name} exceeded {self.max_restarts} restarts "
                f"in {self.period:g}s; escalating"
            )

    async def _supervise(self, spec: ChildSpec, status: ActorStatus) -> None:
        consecutive = 0
        while True:
            instance = spec.factory()
            self._instances[spec.name] = instance
            if isinstance(instance, Supervisor):
                status.children = instance.status.children
            status.state = "running"
            started = self.clock.monotonic()
            status.started_at = self.clock.time()
            try:
                await instance.run()
            except Exception as error:
                status.crashes += 1
                status.last_error = f"{type(error).__name__}: {error}"
                log.error(
                    "actor %s crashed (%s)", spec.name, status.last_error, exc_info=error,
                    extra={"actor": spec.name},
                )
                if spec.restart is Restart.TEMPORARY:
                    status.state = "failed"
                    return
            else:
                if spec.restart is not Restart.PERMANENT:
                    status.state = "stopped"
                    log.info("actor %s finished", spec.name)
                    return
                log.warning("permanent actor %s returned; restarting", spec.name)
            finally:
                self._instances.pop(spec.name, None)
            if self.clock.monotonic() - started > self.period:
                consecutive = 0
            consecutive += 1
            status.state = "restarting"
            self._note_restart()
            status.restarts += 1
            delay = self.backoff(consecutive)
            log.info("restarting %s in %.2fs (restart %d)", spec.name, delay, status.restarts)
            await self.clock.sleep(delay)


def _escalated(error: BaseException) -> bool:
    if isinstance(error, SupervisorEscalation):
        return True
    if isinstance(error, BaseExceptionGroup):
        return any(_escalated(e) for e in error.exceptions)
    return False
