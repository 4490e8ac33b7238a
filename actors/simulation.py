"""The actor tree against the simulation world: the demo garden and `run.py simulate`.

Like `tree.py` this module composes actors; it holds none. The world (greenhouse/simulation/)
answers the real service clients through an httpx transport, so what runs here is the same
pollers, engines and persistence as in production, only fed by the world.

* Demo (`python run.py` with no API keys, or `ENABLE_MOCK_DATA=true`): real time, with the
  garden's clock sped up by `GREENHOUSE_DEMO_SPEED` (default 60: a garden minute per real
  second), so a viewer sees commits, music changes and weather shifts within a minute. Sockets
  and server timeouts stay on real time.
* Simulate: the whole tree under `trio.testing.MockClock` (virtual time jumps whenever every
  task waits); a month of garden life in seconds, deterministic for a given seed: the world is
  a function of (seed, time), trio's scheduler and every client's jitter are seeded, and the
  persistence actor writes inline instead of in a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import itertools
import random
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import msgspec
import trio

from greenhouse.config import IntegrationSettings, settings_from_mapping
from greenhouse.messages import VisitReceived
from greenhouse.runtime import AskError, AskTimeout, Clock, ask
from greenhouse.runtime.alarms import VirtualTimers
from greenhouse.simulation.fake_apis import WorldAPI, demo_environment
from greenhouse.simulation.world import DAY, DEFAULT_START, World
from greenhouse.store import Store

from .tree import Garden, build_garden, run_garden

__all__ = [
    "SimulationSummary",
    "demo_garden",
    "event_log_hash",
    "simulate",
    "world_settings",
]

SERVICES = ("github", "spotify", "weather", "wakatime", "social")


# Simulation polls Spotify every 4 minutes instead of 30 s (about one poll per track) and the
# world asks for the events feed every 15 minutes instead of GitHub's usual 60 s: the same code
# paths, a fraction of the requests, so a simulated month fits in seconds.
SIMULATION_ENV = {"SPOTIFY_POLL_INTERVAL": "240"}
SIMULATION_EVENTS_POLL_INTERVAL = 900
# History rows (task runs, mood and growth history, observations) are committed in batches of
# fifteen garden minutes instead of a second: the same rows, a fraction of the transactions
# (about 230 a simulated day; 365 at five garden minutes, 880 at one; a commit, not a row, is
# most of the persistence actor's cost). Garden events are still committed at once, with the
# rows pending, so most history rows ride along with an event's commit anyway.
SIMULATION_FLUSH_INTERVAL = 900.0
# SQLite checkpoints the WAL into the database file every 4000 pages instead of its default 1000:
# each checkpoint syncs both files, and inline under the mock clock those waits were about a
# quarter of the persistence actor's time. Commits still go to the WAL at once (a killed process
# loses nothing); only a power cut could take more of the last commits.
SIMULATION_CHECKPOINT_PAGES = 4000
# Printed with every summary: where the simulated garden runs differently from production.
SIMULATION_DIFFERENCES = (
    ("Spotify poll", "240 s", "30 s, SPOTIFY_POLL_INTERVAL"),
    ("GitHub events feed", "900 s", "60 s, GitHub's X-Poll-Interval"),
    ("history rows batched", "900 s", "1 s, GREENHOUSE_FLUSH_INTERVAL"),
    ("WAL checkpoint", "4000 pages", "1000 pages, SQLite's default"),
    ("API requests", "in process", "httpx AsyncClient.send"),
)


def world_settings(
    settings: IntegrationSettings, overrides: dict[str, str] | None = None
) -> IntegrationSettings:
    """`settings` with every service pointed at the world (web, runtime and the rest kept)."""
    world = settings_from_mapping({**demo_environment(), **(overrides or {})})
    return msgspec.structs.replace(
        settings,
        github=world.github,
        spotify=world.spotify,
        weather=world.weather,
        wakatime=world.wakatime,
        social=world.social,
    )


def _extras(api: WorldAPI, **more: Any) -> dict[str, Any]:
    transport = api.transport()
    return {"transports": {name: transport for name in SERVICES}, "world": api, **more}


def demo_garden(
    settings: IntegrationSettings, *, db_path: str, seed: int = 7
) -> tuple[Garden, WorldAPI]:
    """The garden fed by the world in real time, its clock sped up by the demo speed."""
    clock = Clock(scale=settings.runtime.demo_speed)
    world = World(
        seed=seed, start=time.time(), liveliness=4.0, always_listening=True, weather_block_hours=1
    )
    api = WorldAPI(world, clock.time, fault_rate=0.01)
    # At 60x a 30 s Spotify poll would be two requests a real second; every 2 garden minutes
    # still catches every track (they last about 4) and keeps an idle demo under 1 % of a core.
    demo = world_settings(settings, {"SPOTIFY_POLL_INTERVAL": "120"})
    garden = build_garden(demo, clock=clock, db_path=db_path, extras=_extras(api))
    return garden, api


@dataclass
class SimulationSummary:
    """What `simulate` reports at the end."""

    days: int
    seed: int
    db_path: str
    wall_seconds: float
    event_hash: str
    events_by_type: dict[str, int]
    plants: dict[str, str]
    api_calls: dict[str, int]
    faults: dict[str, int]
    not_modified: dict[str, int]
    limit_violations: dict[str, int]
    github_points: int
    restarts: dict[str, int] = field(default_factory=dict)

    def table(self) -> str:
        """The summary as aligned text tables."""
        lines = [
            f"simulated {self.days} days (seed {self.seed}) in {self.wall_seconds:.1f} s "
            f"of wall time -> {self.db_path}",
            "",
            "plants per stage",
        ]
        per_stage: dict[str, int] = {}
        for stage in self.plants.values():
            per_stage[stage] = per_stage.get(stage, 0) + 1
        lines += [f"  {stage:<14} {count}" for stage, count in sorted(per_stage.items())] or [
            "  (no growth events yet)"
        ]
        lines += ["", "events by type"]
        lines += [f"  {kind:<22} {n}" for kind, n in sorted(self.events_by_type.items())]
        lines += ["", f"  {'service':<10} {'calls':>7} {'304s':>6} {'faults':>7} {'over limit':>10}"]
        for name in SERVICES:
            lines.append(
                f"  {name:<10} {self.api_calls.get(name, 0):>7} "
                f"{self.not_modified.get(name, 0):>6} {self.faults.get(name, 0):>7} "
                f"{self.limit_violations.get(name, 0):>10}"
            )
        lines.append(f"  GitHub points spent: {self.github_points} (5000 per hour allowed)")
        lines += ["", "where the simulation differs from production"]
        lines += [
            f"  {what:<20} {sim:>10}  (production: {prod})"
            for what, sim, prod in SIMULATION_DIFFERENCES
        ]
        restarts = sum(self.restarts.values())
        lines += ["", f"actor restarts: {restarts} {self.restarts if restarts else ''}".rstrip()]
        lines += ["", f"event log sha256: {self.event_hash}"]
        return "\n".join(lines)


def event_log_hash(db_path: str | Path) -> str:
    """sha256 over every event (timestamp, type, data, source) in time order.

    Ids are left out on purpose: trio breaks ties between timers that fire at the same virtual
    instant by object identity, so two events of the same instant can be stored in either
    order. Everything else, the times included, is identical for the same seed.
    """
    digest = hashlib.sha256()
    conn = sqlite3.connect(db_path)
    try:
        query = "SELECT timestamp, type, data, source FROM events ORDER BY timestamp, type, data"
        for row in conn.execute(query):
            digest.update(repr(row).encode())
    finally:
        conn.close()
    return digest.hexdigest()


def _latest_stages(db_path: str | Path) -> dict[str, str]:
    conn = sqlite3.connect(db_path)
    try:
        # growth_updated carries the stage of every scored plant, also one that never changed.
        rows = conn.execute(
            "SELECT json_extract(data, '$.repository'), "
            "COALESCE(json_extract(data, '$.new_stage'), json_extract(data, '$.stage')) "
            "FROM events WHERE type IN ('growth_stage_changed', 'growth_updated') ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return {repo: stage for repo, stage in rows if repo}


def _events_by_type(db_path: str | Path) -> dict[str, int]:
    conn = sqlite3.connect(db_path)
    try:
        return dict(conn.execute("SELECT type, COUNT(*) FROM events GROUP BY type").fetchall())
    finally:
        conn.close()


def _restarts(garden: Garden) -> dict[str, int]:
    found: dict[str, int] = {}

    def walk(status: Any) -> None:
        for child in status.children:
            if child.restarts:
                found[child.name] = child.restarts
            walk(child)

    walk(garden.root.status)
    return found


def _progress(out: TextIO, day: float, days: int) -> None:
    width = 30
    done = int(width * min(1.0, day / days))
    out.write(f"\r  [{'#' * done}{'.' * (width - done)}] day {min(day, days):5.1f}/{days}")
    out.flush()


async def _visit(garden: Garden, world: World, hour: int) -> None:
    """The hour's visitors, through the privacy actor as the HTTP beacon would hand them over."""
    box = garden.mailboxes.get("privacy")
    if box is None:
        return
    for _at, ip, agent, path in world.visits_in_hour(hour):
        try:
            await ask(box, VisitReceived(ip=ip, user_agent=agent, path=path), 30.0)
        except (AskError, AskTimeout):
            return  # the privacy actor is restarting; the next hour's visitors still come


@contextlib.contextmanager
def _ordered_timer_ties() -> Iterator[None]:
    """Break ties between timers that expire at the same virtual instant by registration order.

    trio orders equal deadlines by `id()` of their cancel scopes, that is by memory address,
    which differs from run to run; two actors waking at the same virtual second (a poll and the
    mood engine's tick) then see each other's messages in either order. For the simulation only,
    the tiebreaker becomes a counter. This reaches into trio's private `Deadlines.add`; if trio
    changes it, the patch steps aside and only the same-instant order may vary.
    """
    deadlines = getattr(trio._core._run, "Deadlines", None)  # noqa: SLF001
    original = getattr(deadlines, "add", None)
    if deadlines is None or original is None or not hasattr(deadlines, "_heap"):
        yield
        return
    counter = itertools.count()

    def add(self: Any, deadline: float, cancel_scope: Any) -> None:
        heapq.heappush(self._heap, (deadline, next(counter), cancel_scope))
        self._active += 1

    deadlines.add = add
    try:
        yield
    finally:
        deadlines.add = original


def simulate(
    days: int,
    seed: int,
    db_path: str | Path,
    *,
    settings: IntegrationSettings | None = None,
    fault_rate: float = 0.02,
    progress: TextIO | None = sys.stderr,
    instruments: Sequence[trio.abc.Instrument] = (),
) -> SimulationSummary:
    """Run the whole tree for `days` of virtual time against the world with `seed`.

    `instruments` are passed to `trio.run` (bench/simulate.py --by-actor times every task step).
    """
    path = Path(db_path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    base = settings if settings is not None else settings_from_mapping({})
    base = msgspec.structs.replace(
        base, runtime=msgspec.structs.replace(base.runtime, flush_interval=SIMULATION_FLUSH_INTERVAL)
    )
    # Determinism: seed everything that draws random numbers (the clients' jitter, the
    # supervisors' backoff jitter, trio's scheduler batch order).
    random.seed(seed)
    trio._core._run._r.seed(seed)  # noqa: SLF001 - trio keeps no public knob for this
    holder: dict[str, Any] = {}
    started = time.perf_counter()

    async def main() -> None:
        timers = VirtualTimers()
        timers.install()
        clock = Clock(start_epoch=DEFAULT_START, threads=False, timers=timers)
        world = World(seed=seed, start=DEFAULT_START)
        api = WorldAPI(
            world, clock.time, fault_rate=fault_rate,
            events_poll_interval=SIMULATION_EVENTS_POLL_INTERVAL,
        )
        garden = build_garden(
            world_settings(base, SIMULATION_ENV),
            clock=clock,
            store=Store(path, checkpoint_pages=SIMULATION_CHECKPOINT_PAGES),
            extras=_extras(api, web=False),
        )
        holder.update(api=api, garden=garden)
        end = DEFAULT_START + days * DAY
        async with trio.open_nursery() as nursery:
            await nursery.start(run_garden, garden)
            while clock.time() < end:
                await clock.sleep(min(3600.0, end - clock.time()))
                await _visit(garden, world, int(clock.time() // 3600) - 1)
                if progress is not None:
                    _progress(progress, (clock.time() - DEFAULT_START) / DAY, days)
            nursery.cancel_scope.cancel()

    with _ordered_timer_ties():
        # Imported here, not at the top: trio.testing imports pytest (10 MB resident), which
        # the demo garden (`python run.py`, which imports this module) must not carry.
        from trio.testing import MockClock

        trio.run(main, clock=MockClock(autojump_threshold=0), instruments=instruments)
    if progress is not None:
        progress.write("\n")
    api: WorldAPI = holder["api"]
    return SimulationSummary(
        days=days,
        seed=seed,
        db_path=str(path),
        wall_seconds=time.perf_counter() - started,
        event_hash=event_log_hash(path),
        events_by_type=_events_by_type(path),
        plants=_latest_stages(path),
        api_calls=dict(api.calls),
        faults=dict(api.faults),
        not_modified=dict(api.not_modified),
        limit_violations=dict(api.limit_violations),
        github_points=api.github_points,
        restarts=_restarts(holder["garden"]),
    )
