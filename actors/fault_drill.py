"""Fault drills: the whole tree against a hostile world, in virtual time, with a score sheet.

Like `simulation.py` this composes actors and holds none. One drill runs the real tree (every
poller, engine and the persistence actor) under `trio.testing.MockClock` against the simulation
world behind a `HostileTransport`: a calm warm-up, a window in which one kind of fault hits
every service's host, then a calm settle period. It reports what a Raspberry Pi owner cares
about: did each service come back when its API did, how long it took, how many actor restarts
there were (and whether any reached the root), whether any request broke a rate limit, and
whether any event was lost: published but not stored, or a commit of the world that the garden
never recorded (compared with a fault-free control run of the same world).
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import trio
import trio.testing

from greenhouse.config import settings_from_mapping
from greenhouse.messages import GardenEvent, PersistenceBarrier, RunTask, ServiceStatusChanged
from greenhouse.runtime import Clock, ask
from greenhouse.runtime.supervisor import SupervisorEscalation
from greenhouse.simulation.fake_apis import HOSTS, WorldAPI
from greenhouse.simulation.faults import Fault, FaultPlan, HostileTransport
from greenhouse.simulation.world import DEFAULT_START, HOUR, World

from .simulation import SERVICES, SIMULATION_ENV, SIMULATION_EVENTS_POLL_INTERVAL, world_settings
from .tree import build_garden, run_garden

__all__ = ["CLOCK_JUMPS", "DrillReport", "DrillTimes", "run_drill"]

WORLD_HOSTS = frozenset(h.split("//", 1)[1].split("/", 1)[0] for h in HOSTS.values())
# Pseudo-faults that are not answers but wall-clock jumps (an RTC-less Pi syncing NTP).
CLOCK_JUMPS = {"clock_jump_forward": 6 * HOUR, "clock_jump_back": -6 * HOUR}
JUMP_AFTER = 10 * 60.0  # seconds into the fault window when the clock jumps


@dataclass(frozen=True)
class DrillTimes:
    """Virtual seconds of calm before, fault, and calm after (long enough for hourly polls)."""

    warmup: float = 1 * HOUR
    fault: float = 2 * HOUR + 7 * 60  # ends off the hour, where no poll is due
    settle: float = 2.5 * HOUR


@dataclass
class DrillReport:
    """The score sheet of one drill."""

    fault: str
    injected: int
    went_down: list[str]
    recoveries: int
    time_to_recover: dict[str, float]  # seconds after the fault ended, per service that was down
    restarts: int
    escalated: bool
    unavailable_at_end: list[str]
    events_published: int
    events_stored: int
    commits_seen: int
    commits_expected: int
    events_lost: int
    limit_violations: int
    requests: int
    events_during_fault: int  # events stored while the fault was on: the garden kept living
    restarted_actors: dict[str, int] = field(default_factory=dict)

    @property
    def max_recover(self) -> float:
        """The slowest recovery in seconds (0 when nothing went down)."""
        return max(self.time_to_recover.values(), default=0.0)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {**asdict(self), "max_recover": self.max_recover}


def _restarts(status: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    for child in status.children:
        if child.restarts:
            found[child.name] = child.restarts
        found.update(_restarts(child))
    return found


def _commit_totals(db: Path) -> tuple[int, int]:
    """(commits recorded by commit_pushed events, commit_pushed events)."""
    conn = sqlite3.connect(db)
    try:
        total, count = conn.execute(
            "SELECT COALESCE(SUM(json_extract(data, '$.commit_count')), 0), COUNT(*) "
            "FROM events WHERE type = 'commit_pushed'"
        ).fetchone()
        return int(total), int(count)
    finally:
        conn.close()


def _stored_events(db: Path, since: float, until: float) -> tuple[int, int]:
    """(all events, events stamped in [since, until) of the garden's wall time)."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        # Timestamps are ISO strings; compare by id range instead would need clock math, so
        # count events whose epoch falls inside the window.
        during = conn.execute(
            "SELECT COUNT(*) FROM events WHERE unixepoch(timestamp) >= ? AND unixepoch(timestamp) < ?",
            (int(since), int(until)),
        ).fetchone()[0]
        return int(rows), int(during)
    finally:
        conn.close()


def run_drill(
    fault: str | None,
    db_path: str | Path,
    *,
    seed: int = 7,
    times: DrillTimes | None = None,
    expected_commits: int | None = None,
) -> DrillReport:
    """Run the tree through one fault (None: a calm control run) and score it.

    `fault` is a `Fault` value or a key of `CLOCK_JUMPS`. `expected_commits` is the control
    run's `commits_seen`: fewer here is a commit lost, more a commit announced twice.
    """
    times = times or DrillTimes()
    path = Path(db_path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    random.seed(seed)
    trio._core._run._r.seed(seed)  # noqa: SLF001 - determinism, as in simulate()
    fault_start, fault_end = times.warmup, times.warmup + times.fault
    plan = FaultPlan()
    if fault in CLOCK_JUMPS:
        # The clock jumps while every host's Retry-After is running: a wait kept in wall time
        # would end 6 hours early or late.
        plan = FaultPlan.single(Fault.RATE_LIMIT, fault_start, fault_end, WORLD_HOSTS)
    elif fault is not None:
        plan = FaultPlan.single(Fault(fault), fault_start, fault_end, WORLD_HOSTS)
    result: dict[str, Any] = {}

    async def main() -> None:
        clock = Clock(start_epoch=DEFAULT_START)
        world = World(seed=seed, start=DEFAULT_START)
        api = WorldAPI(world, clock.time, events_poll_interval=SIMULATION_EVENTS_POLL_INTERVAL)
        hostile = HostileTransport(api.transport(), plan, clock)
        garden = build_garden(
            world_settings(settings_from_mapping({}), SIMULATION_ENV),
            clock=clock,
            db_path=str(path),
            extras={
                "transports": {name: hostile for name in SERVICES},
                "world": api,
                "web": False,
            },
        )
        observed = garden.bus.subscribe("fault-drill", (GardenEvent,), capacity=100_000)
        published: Counter[str] = Counter()
        timeline: list[tuple[float, str, bool]] = []
        escalated = False

        async def watch() -> None:
            async for event in observed:
                published[event.event_type.value] += 1
                if isinstance(event, ServiceStatusChanged):
                    timeline.append((clock.monotonic(), event.service, event.available))

        async def run_tree() -> None:
            nonlocal escalated
            try:
                await run_garden(garden)
            except SupervisorEscalation:
                escalated = True
            except BaseExceptionGroup as group:
                if group.subgroup(SupervisorEscalation) is None:
                    raise
                escalated = True

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            nursery.start_soon(run_tree)
            await clock.sleep(fault_start)
            wall_fault_start = clock.time()
            jump = CLOCK_JUMPS.get(fault or "")
            if jump is not None:
                await clock.sleep(JUMP_AFTER)
                clock.jump(jump)
                await clock.sleep(times.fault - JUMP_AFTER)
            else:
                await clock.sleep(times.fault)
            wall_fault_end = clock.time()
            await clock.sleep(times.settle)
            if not escalated:
                # One last sync at the same world moment in every drill, so the commits seen
                # can be compared with the control run's, then everything queued is committed.
                sync = RunTask(task_id="github_sync", execution_id="fault-drill-final")
                await ask(garden.mailbox("github"), sync, timeout=600)
                await ask(garden.mailbox("persistence"), PersistenceBarrier(), timeout=60)
            nursery.cancel_scope.cancel()
        # Whatever the watcher had not taken yet was published all the same.
        while True:
            try:
                event = observed.get_nowait()
            except (trio.WouldBlock, Exception):
                break
            published[event.event_type.value] += 1
        result.update(
            api=api, hostile=hostile, garden=garden, published=published, timeline=timeline,
            escalated=escalated, wall=(wall_fault_start, wall_fault_end),
        )

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return _score(fault, path, result, fault_end, expected_commits)


def _score(
    fault: str | None, path: Path, result: dict[str, Any], fault_end: float,
    expected_commits: int | None,
) -> DrillReport:
    api: WorldAPI = result["api"]
    hostile: HostileTransport = result["hostile"]
    timeline: list[tuple[float, str, bool]] = result["timeline"]
    went_down = sorted({svc for _, svc, up in timeline if not up})
    recover: dict[str, float] = {}
    last: dict[str, bool] = {}
    for at, svc, up in timeline:
        last[svc] = up
        if up and svc in went_down and at >= fault_end and svc not in recover:
            recover[svc] = at - fault_end
    # A service that came back before the fault ended (retries got through) needs no recovery.
    for svc in went_down:
        if svc not in recover and last.get(svc):
            recover[svc] = 0.0
    recoveries = 0
    state: dict[str, bool] = {}
    for _at, svc, up in timeline:
        recoveries += up and state.get(svc) is False
        state[svc] = up
    stored, during = _stored_events(path, *result["wall"])
    commits, _ = _commit_totals(path)
    published = sum(result["published"].values())
    lost = max(0, published - stored)
    if expected_commits is not None:
        lost += abs(expected_commits - commits)
    restarted = _restarts(result["garden"].root.status)
    injected = sum(hostile.injected.values())
    return DrillReport(
        fault=fault or "none",
        injected=injected,
        went_down=went_down,
        recoveries=recoveries,
        time_to_recover=recover,
        restarts=sum(restarted.values()),
        escalated=result["escalated"],
        unavailable_at_end=sorted(svc for svc, up in last.items() if not up),
        events_published=published,
        events_stored=stored,
        commits_seen=commits,
        commits_expected=expected_commits if expected_commits is not None else commits,
        events_lost=lost,
        limit_violations=sum(api.limit_violations.values()) + sum(hostile.violations.values()),
        requests=sum(hostile.requests.values()),
        events_during_fault=during,
        restarted_actors=restarted,
    )
