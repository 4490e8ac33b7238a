"""The growth actor: keeps what is known about each project and publishes how its plant grows.

Inputs: `RepositoriesObserved` and `CommitsObserved` (GitHub, however they arrived),
`CodingActivityObserved` / `ProductivitySignal.project_seconds` (WakaTime time per project), `ProjectSnapshot` (any other
source, merged field by field), and `RunTask("growth_calculation")`, which rescores every plant.
Outputs: `GrowthUpdated` when a score moves, `GrowthStageChanged` only when the stage really
changes (hysteresis is in the engine), and `GrowthScored` rows for the history tables.

Plants are keyed by the repository's full name (`owner/name`), as `commit_pushed` events are, so
a viewer sees one plant per repository; WakaTime projects match on the name after the slash,
case-insensitively.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import msgspec

from greenhouse.config import GrowthConfig
from greenhouse.engines.growth import (
    DAY,
    GrowthMetrics,
    ProjectSnapshot,
    calculate_project_growth,
)
from greenhouse.engines.growth_fit import ScoreHistory
from greenhouse.engines.mood import ProductivitySignal
from greenhouse.histories import GrowthState
from greenhouse.messages import (
    CodingActivityObserved,
    CommitsObserved,
    GitHubActivity,
    GrowthScored,
    GrowthStageChanged,
    GrowthUpdated,
    HistoryTrimmed,
    RepositoriesObserved,
    RunTask,
)
from greenhouse.runtime import Bus, Clock, Mailbox
from greenhouse.signals import productivity_signal
from greenhouse.task_actor import TaskActor, offer_or_publish

__all__ = ["GROWTH_INPUTS", "GrowthActor", "short_name"]

GROWTH_INPUTS: tuple[type, ...] = (
    RepositoriesObserved,
    CommitsObserved,
    ProjectSnapshot,
    ProductivitySignal,
    CodingActivityObserved,
    GitHubActivity,
    RunTask,
)
MAX_COMMITS_KEPT = 1000  # per project: the newest commits are all the factors look at
SCORE_EPSILON = 0.001  # smaller moves are not news

_json = msgspec.json.Encoder()


def short_name(repository: str) -> str:
    """`owner/name` -> `name`, lower-cased: how a WakaTime project finds its repository."""
    return repository.rsplit("/", 1)[-1].lower()


class GrowthActor(TaskActor):
    """Owns per-project growth state; scores projects with the pure growth engine."""

    task_ids = frozenset({"growth_calculation"})

    def __init__(
        self,
        inbox: Mailbox,
        bus: Bus,
        clock: Clock | None = None,
        *,
        config: GrowthConfig | None = None,
        predict: bool = True,
        load_state: Callable[[float], GrowthState] | None = None,
        name: str = "growth",
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        self.config = config or GrowthConfig()
        self.predict = predict
        self.load_state = load_state
        self.projects: dict[str, ProjectSnapshot] = {}
        self.commits: dict[str, dict[str, float]] = {}  # plant -> sha -> time
        self.stages: dict[str, str] = {}
        self.scores: dict[str, float] = {}
        # The score history with its trend line's running sums (the prediction's fit).
        self.history: dict[str, ScoreHistory] = {}
        self.coding_seconds: dict[str, float] = {}  # lower-cased WakaTime project -> seconds
        self.latest: dict[str, GrowthMetrics] = {}
        self.releases_seen: dict[str, set[str]] = {}  # plant -> release urls counted

    async def started(self) -> None:
        if self.load_state is None:
            return
        since = self.clock.time() - self.config.history_days * DAY
        try:
            state = await self.clock.run_sync(self.load_state, since)
        except Exception:  # an unreadable history costs predictions, not the garden
            self.log.exception("could not restore growth state; starting fresh")
            return
        for name, plant in state.plants.items():
            self.stages[name] = plant.stage
            self.scores[name] = plant.score
            try:
                self.projects[name] = msgspec.convert(plant.snapshot, ProjectSnapshot)
            except msgspec.ValidationError:
                self.projects[name] = ProjectSnapshot(name=name)
        for name, points in state.history.items():
            self.history[name] = ScoreHistory(points, maxlen=self._history_cap())

    def _history_cap(self) -> int:
        return 5000

    # -- inputs ----------------------------------------------------------------------------------

    async def handle(self, message: Any) -> Any:
        now = self.clock.time()
        if isinstance(message, RunTask):
            if message.task_id not in self.task_ids:
                return None
            return await self.run_task(message, lambda: self.rescore_all(now))
        before = dict(self.projects)  # a shallow copy: which plants did this input change?
        names: list[str] = []
        if isinstance(message, RepositoriesObserved):
            names = [self._take_repository(repo) for repo in message.repositories]
        elif isinstance(message, CommitsObserved):
            names = [self._take_commits(message)]
        elif isinstance(message, ProjectSnapshot):
            names = [self._merge(message)]
        elif isinstance(message, ProductivitySignal):
            names = self._take_coding_time(message)
        elif isinstance(message, CodingActivityObserved):
            names = self._take_coding_time(productivity_signal(message))
        elif isinstance(message, GitHubActivity) and message.kind == "release":
            name = self._take_release(message)
            names = [] if name is None else [name]
        # An input that repeats what is known (GitHub's half-hourly repository list, the same
        # coding time) rescores nothing: the hourly growth_calculation moves scores with time.
        changed = [
            name for name in names
            if name not in self.latest or self.projects.get(name) != before.get(name)
        ]
        if changed:
            await self.rescore(changed, now)
        return None

    def _merge(self, update: ProjectSnapshot) -> str:
        name = update.name
        current = self.projects.get(name, ProjectSnapshot(name=name))
        fields = {
            field: getattr(update, field)
            for field in update.__struct_fields__
            if field != "name" and getattr(update, field) is not None
        }
        if "coding_seconds" not in fields and short_name(name) in self.coding_seconds:
            fields["coding_seconds"] = self.coding_seconds[short_name(name)]
        self.projects[name] = msgspec.structs.replace(current, **fields)
        return name

    def _take_repository(self, repo: Any) -> str:
        return self._merge(
            ProjectSnapshot(
                name=repo.full_name or repo.name,
                created_at=repo.created_at,
                pushed_at=repo.pushed_at,
                # An empty language map means GitHub did not say, not "no code".
                languages=dict(repo.languages) or None,
                stars=repo.stars,
                forks=repo.forks,
                watchers=repo.watchers,
                topics=tuple(repo.topics),
            )
        )

    def _take_commits(self, message: CommitsObserved) -> str:
        name = message.repository
        previous = self.projects.get(name, ProjectSnapshot(name=name))
        if name not in self.commits:
            # After a restart only the times survive (in the stored snapshot), not the shas.
            self.commits[name] = {f"t:{t!r}": t for t in previous.commit_times or ()}
        known = self.commits[name]
        for commit in message.commits:
            if commit.timestamp is not None and math.isfinite(commit.timestamp):
                known.pop(f"t:{commit.timestamp!r}", None)  # the restored time, now with its sha
                known[commit.sha] = commit.timestamp
        if len(known) > MAX_COMMITS_KEPT:
            newest = sorted(known.items(), key=lambda kv: kv[1])[-MAX_COMMITS_KEPT:]
            known.clear()
            known.update(newest)
        total = previous.total_commits
        return self._merge(
            ProjectSnapshot(
                name=name,
                commit_times=tuple(sorted(known.values())),
                total_commits=None if total is None else max(total, len(known)),
            )
        )

    def _take_release(self, activity: GitHubActivity) -> str | None:
        """Count a published release once, by its URL (webhooks carry it; the events feed
        does not, so releases seen only by polling are not counted rather than counted twice)."""
        if not activity.url or activity.action not in (None, "published", "released"):
            return None
        name = activity.repository
        seen = self.releases_seen.setdefault(name, set())
        if activity.url in seen:
            return None
        seen.add(activity.url)
        current = self.projects.get(name, ProjectSnapshot(name=name))
        return self._merge(
            ProjectSnapshot(name=name, releases=(current.releases or 0) + 1)
        )

    def _take_coding_time(self, signal: ProductivitySignal) -> list[str]:
        touched = []
        plants: dict[str, list[str]] = {}  # short name -> plants, once per signal, not per project
        for name in self.projects:
            plants.setdefault(short_name(name), []).append(name)
        for project, seconds in signal.project_seconds.items():
            if not math.isfinite(seconds) or seconds < 0:
                continue
            key = short_name(project)
            self.coding_seconds[key] = seconds
            for name in plants.get(key, ()):
                self.projects[name] = msgspec.structs.replace(
                    self.projects[name], coding_seconds=seconds
                )
                touched.append(name)
        return touched

    # -- scoring ---------------------------------------------------------------------------------

    async def rescore_all(self, now: float) -> None:
        """Score every plant and record a history point for each (the hourly task)."""
        # A whole garden (about 4 ms a plant) is scored off the trio thread so a Pi keeps serving
        # viewers meanwhile; under MockClock `clock.run_sync` runs it inline, which keeps the
        # simulation's event log independent of thread timing.
        keep = self.config.keep_history_days * DAY
        trim = HistoryTrimmed(table="growth_history", before=now - keep)
        await self.rescore(
            sorted(self.projects), now, record_always=True, in_thread=True, then=[trim]
        )

    async def rescore(
        self,
        names: list[str],
        now: float,
        *,
        record_always: bool = False,
        in_thread: bool = False,
        then: list[Any] | None = None,
    ) -> None:
        """Score the named plants and publish what changed (and `then`, after it)."""
        jobs = [
            # The history itself, not a copy: the thread only reads it (and moves its window)
            # while this actor waits, and the running sums make the fit cheap.
            (name, self.projects[name], self.stages.get(name), self.history.get(name, ()))
            for name in dict.fromkeys(names)
            if name in self.projects
        ]

        def compute() -> list[GrowthMetrics]:
            return [
                calculate_project_growth(
                    project,
                    now,
                    self.config,
                    previous_stage=stage,
                    history=history,
                    predict=self.predict,
                )
                for _, project, stage, history in jobs
            ]

        # The actor handles one message at a time, so its state cannot move under the thread.
        results = await self.clock.run_sync(compute) if in_thread else compute()
        out: list[Any] = []
        for (name, project, _, _), metrics in zip(jobs, results, strict=True):
            self._apply(name, project, metrics, now, record_always, out)
        out.extend(then or ())
        # Scoring is the last thing a handler does, after the schedule point of getting its
        # message: the whole batch goes out in order without one trip through trio per message.
        await offer_or_publish(self, out)

    def _apply(
        self,
        name: str,
        project: ProjectSnapshot,
        metrics: GrowthMetrics,
        now: float,
        record_always: bool,
        out: list[Any],
    ) -> None:
        history = self.history.get(name)
        if history is None:
            history = self.history[name] = ScoreHistory(maxlen=self._history_cap())
        old_stage = self.stages.get(name)
        old_score = self.scores.get(name)
        self.latest[name] = metrics
        self.stages[name] = metrics.stage
        self.scores[name] = metrics.score
        moved = old_score is None or abs(metrics.score - old_score) >= SCORE_EPSILON
        if old_stage is not None and old_stage != metrics.stage:
            out.append(
                GrowthStageChanged(
                    repository=name,
                    old_stage=old_stage,
                    new_stage=metrics.stage,
                    score=metrics.score,
                    source="growth_engine",
                    timestamp=now,
                )
            )
        if moved or old_stage != metrics.stage:
            out.append(self._updated(metrics, now))
        if moved or record_always:
            history.append((now, metrics.score))
            out.append(self._scored(project, metrics, now))

    def _updated(self, metrics: GrowthMetrics, now: float) -> GrowthUpdated:
        prediction = metrics.prediction
        seconds = prediction.seconds_to_next_stage
        return GrowthUpdated(
            repository=metrics.name,
            score=metrics.score,
            stage=metrics.stage,
            health=metrics.health,
            factors={name: f.contribution for name, f in metrics.factors.items()},
            factors_missing=metrics.factors_missing,
            prediction=prediction.status,
            next_stage=prediction.next_stage,
            days_to_next_stage=None if seconds is None else seconds / DAY,
            prediction_confidence=prediction.confidence,
            source="growth_engine",
            timestamp=now,
        )

    def _scored(self, project: ProjectSnapshot, metrics: GrowthMetrics, now: float) -> GrowthScored:
        return GrowthScored(
            repository=metrics.name,
            at=now,
            score=metrics.score,
            stage=metrics.stage,
            health=metrics.health,
            velocity_per_day=metrics.prediction.velocity_per_day,
            prediction=_json.encode(metrics.prediction).decode(),
            factors=_json.encode(metrics.factors).decode(),
            snapshot=_json.encode(project).decode(),
            coding_seconds=project.coding_seconds,
            languages=dict(project.languages or {}),
        )
