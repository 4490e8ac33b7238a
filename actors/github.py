"""The GitHub poller: keeps the garden's view of GitHub fresh for almost no rate limit.

When the scheduler sends `RunTask(task_id="github_sync")` (every `GITHUB_SYNC_INTERVAL`; in the
tree the poller has no loop of its own, `own_schedule=False`) it lists the repositories
(conditional GETs: an unchanged garden costs zero points), and only for repositories whose
`pushed_at` moved it asks for commits and languages, and for the details (line counts) of a few
new commits. Its `TaskFinished.retry_after` passes on a wait GitHub asked for (`Retry-After`, an
exhausted limit's reset), so the scheduler runs no sync before it. The public events feed is read
on `RunTask(task_id="github_events")` (when a username is configured), whose `retry_after` is
GitHub's `X-Poll-Interval`: the scheduler asks again no sooner than GitHub allows. A new push
there triggers a sync early (through the scheduler's `ExecuteTaskNow`, so that sync too keeps to
the scheduler's rules). A standalone poller (`own_schedule=True`) runs both on loops of its own.
Verified webhook deliveries (`WebhookReceived`) become the same messages, de-duplicated by
delivery id and by commit sha, so the garden does not care how a commit arrived.

A failing GitHub marks the service unavailable (`ServiceStatusChanged`), keeps the last good
data, and is tried again on the next run; the actor does not crash.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any

import trio

from greenhouse.messages import (
    CommitPushed,
    CommitSnapshot,
    CommitsObserved,
    ExecuteTaskNow,
    GitHubActivity,
    Message,
    RepositoriesObserved,
    RepositorySnapshot,
    RunTask,
    ServiceStatusChanged,
    TaskFinished,
    WebhookReceived,
)
from greenhouse.models import GitHubCommit, GitHubEvent, GitHubRepository, parse_github_time
from greenhouse.polling import SCHEDULED_RATE_LIMIT_WAIT
from greenhouse.runtime import (
    Actor,
    AskError,
    AskTimeout,
    Bus,
    ChildSpec,
    Clock,
    Mailbox,
    Restart,
    ask,
)
from greenhouse.services.base import RetryPolicy
from greenhouse.services.github import GitHubService, impact_score
from greenhouse.services.github_webhooks import (
    SUPPORTED_EVENTS,
    DeliveryDeduplicator,
    WebhookDelivery,
    WebhookPayloadError,
    observations,
)

__all__ = ["EVENTS_TASK_ID", "TASK_ID", "GitHubPoller", "GitHubState", "add_github"]

TASK_ID = "github_sync"
EVENTS_TASK_ID = "github_events"
SOURCE = "github_sync"
KNOWN_SHAS_PER_REPO = 500

# Public-feed event types mapped onto GitHubActivity kinds (pushes arrive as commits instead).
ACTIVITY_KINDS = {
    "PullRequestEvent": "pull_request",
    "IssuesEvent": "issues",
    "ReleaseEvent": "release",
    "WatchEvent": "star",
    "CreateEvent": "create",
    "ForkEvent": "fork",
}


class GitHubState:
    """What outlives a poller restart: the client (and its ETag cache) and the last good data."""

    def __init__(self, service: GitHubService) -> None:
        self.service = service
        self.repositories: dict[str, RepositorySnapshot] = {}
        self.pushed_at: dict[str, str | None] = {}
        self.known_shas: dict[str, OrderedDict[str, None]] = {}
        self.seen_events: OrderedDict[str, None] = OrderedDict()
        self.events_baseline = False
        self.deliveries = DeliveryDeduplicator()
        self.available: bool | None = None
        self.last_error: str | None = None
        self.syncs = 0
        self.last_sync_at: float | None = None

    def remember(self, repo: str, shas: list[str]) -> list[str]:
        """Record shas for `repo`; return the ones not seen before (in the given order)."""
        known = self.known_shas.setdefault(repo, OrderedDict())
        new = [sha for sha in shas if sha not in known]
        for sha in shas:
            known[sha] = None
            known.move_to_end(sha)
        while len(known) > KNOWN_SHAS_PER_REPO:
            known.popitem(last=False)
        return new


def snapshot(repo: GitHubRepository, languages: dict[str, int]) -> RepositorySnapshot:
    """The garden's record of a repository."""
    return RepositorySnapshot(
        full_name=repo.full_name,
        name=repo.name,
        description=repo.description,
        language=repo.language,
        languages=dict(languages),
        stars=repo.stargazers_count,
        forks=repo.forks_count,
        watchers=repo.subscribers_count
        if repo.subscribers_count is not None
        else repo.watchers_count,
        open_issues=repo.open_issues_count,
        size_kb=repo.size,
        topics=tuple(repo.topics),
        created_at=parse_github_time(repo.created_at),
        pushed_at=parse_github_time(repo.pushed_at),
        archived=repo.archived,
        private=repo.private,
        fork=repo.fork,
        html_url=repo.html_url,
    )


def commit_snapshot(repo: str, commit: GitHubCommit) -> CommitSnapshot:
    """A commit as the garden records it; line counts only when the detail was fetched."""
    stats, files = commit.stats, commit.files
    lines = stats.additions + stats.deletions if stats is not None else None
    touched = len(files) if files is not None else None
    return CommitSnapshot(
        sha=commit.sha,
        repository=repo,
        author=commit.author_name,
        message=commit.commit.message.split("\n", 1)[0][:200],
        timestamp=commit.timestamp,
        additions=stats.additions if stats is not None else None,
        deletions=stats.deletions if stats is not None else None,
        files_changed=touched,
        impact_score=impact_score(lines, touched),
    )


class GitHubPoller(Actor):
    """Owns GitHub polling for the garden (see the module docstring)."""

    def __init__(
        self,
        inbox: Mailbox | None,
        bus: Bus | None,
        state: GitHubState,
        *,
        clock: Clock | None = None,
        interval: float = 1800.0,
        own_schedule: bool = True,
        scheduler: Mailbox | None = None,
        watch_events: bool = True,
        commit_limit: int = 30,
        detail_limit: int = 5,
        name: str = "github",
    ) -> None:
        super().__init__(name, inbox, bus, clock)
        self.state = state
        self.service = state.service
        self.interval = interval
        # True: a standalone poller syncs every `interval` by itself. False (the tree): the
        # scheduler decides, and a push seen in the events feed asks `scheduler` for a run.
        self.own_schedule = own_schedule
        self.scheduler = scheduler
        self.watch_events = watch_events and bool(self.service.config.username)
        self.commit_limit = commit_limit
        self.detail_limit = detail_limit
        self._lock = trio.Lock()
        self._wake = trio.Event()

    # ---- lifetime -----------------------------------------------------------------------------

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            if self.own_schedule:
                nursery.start_soon(self._schedule_loop)
                if self.watch_events:
                    nursery.start_soon(self._events_loop)
            await super().run()
            nursery.cancel_scope.cancel()

    async def _schedule_loop(self) -> None:
        while True:
            await self.sync()
            with trio.move_on_after(self.interval):
                await self._wake.wait()
            self._wake = trio.Event()

    async def _events_loop(self) -> None:
        while True:
            await self.poll_events()
            await self.clock.sleep(max(self.service.events_poll_interval, 1.0))

    async def handle(self, message: Any) -> Any:
        if isinstance(message, RunTask) and message.task_id == EVENTS_TASK_ID:
            return await self._events_task(message)
        if isinstance(message, RunTask):
            if message.task_id != TASK_ID:
                return None
            started = self.clock.monotonic()
            ok = await self.sync()
            wait = self.service.server_wait()
            finished = TaskFinished(
                task_id=TASK_ID,
                execution_id=message.execution_id,
                ok=ok,
                error=None if ok else self.state.last_error,
                duration=self.clock.monotonic() - started,
                retry_after=wait if wait > 0 else None,
            )
            await self.publish(finished)
            return finished
        if isinstance(message, WebhookReceived):
            return await self.on_webhook(message)
        if isinstance(message, CommitsObserved) and message.via == "webhook":
            # The HTTP layer may convert deliveries itself; knowing their shas keeps the next
            # poll from announcing the same commits a second time.
            self.state.remember(message.repository, [c.sha for c in message.commits])
            return None
        return None

    async def _events_task(self, message: RunTask) -> TaskFinished | None:
        if not self.watch_events:
            return None
        started = self.clock.monotonic()
        await self.poll_events()
        elapsed = self.clock.monotonic() - started
        # GitHub's X-Poll-Interval (or a Retry-After) is when the feed may be read again.
        wait = max(self.service.server_wait(), self.service.events_poll_interval - elapsed)
        return TaskFinished(
            task_id=EVENTS_TASK_ID,
            execution_id=message.execution_id,
            ok=True,  # a feed that did not answer is read again next time; syncs carry status
            duration=elapsed,
            retry_after=wait if wait > 0 else None,
        )

    # ---- polling ------------------------------------------------------------------------------

    async def sync(self) -> bool:
        """One full sync; True when GitHub answered. Never raises for GitHub's failures."""
        async with self._lock:
            try:
                return await self._sync()
            except Exception as exc:  # a bug or a surprise must not take the garden down
                self.log.exception("github sync failed unexpectedly")
                await self._set_available(False, f"{type(exc).__name__}: {exc}")
                return False

    async def _sync(self) -> bool:
        now = self.clock.time()
        listing = await self.service.get_user_repositories()
        if not listing.ok:
            await self._set_available(False, listing.error)
            return False
        repos: list[GitHubRepository] = listing.data or []
        changed: list[str] = []
        for repo in repos:
            name = repo.full_name
            first_sight = name not in self.state.repositories
            if first_sight or self.state.pushed_at.get(name) != repo.pushed_at:
                ok = await self._refresh_repository(repo, first_sight, now)
                if not ok:
                    return False
                self.state.pushed_at[name] = repo.pushed_at
                changed.append(name)
            else:
                previous = self.state.repositories[name]
                current = snapshot(repo, previous.languages)
                if current != previous:  # stars, issues... moved without a push
                    self.state.repositories[name] = current
                    changed.append(name)
        gone = set(self.state.repositories) - {r.full_name for r in repos}
        for name in gone:
            self.state.repositories.pop(name, None)
            self.state.pushed_at.pop(name, None)
        self.state.syncs += 1
        self.state.last_sync_at = now
        await self.publish(
            RepositoriesObserved(
                repositories=tuple(self.state.repositories.values()),
                changed=tuple(changed),
                observed_at=now,
                from_cache=listing.from_cache,
            )
        )
        await self._set_available(True, None)
        return True

    async def _refresh_repository(self, repo: GitHubRepository, first: bool, now: float) -> bool:
        name = repo.full_name
        languages = await self.service.get_repository_languages(name)
        if not languages.ok:
            await self._set_available(False, languages.error)
            return False
        self.state.repositories[name] = snapshot(repo, languages.data or {})
        commits = await self.service.get_repository_commits(name, limit=self.commit_limit)
        if not commits.ok:
            # An empty repository answers 409; it simply has no commits yet.
            if commits.status_code == 409:
                return True
            await self._set_available(False, commits.error)
            return False
        listed: list[GitHubCommit] = commits.data or []
        new = set(self.state.remember(name, [c.sha for c in listed]))
        if first and not self._is_fresh(name):
            new = set()  # the first sight of a repository is a baseline, not news
        detailed: list[GitHubCommit] = []
        for commit in listed:
            if commit.sha in new and len(detailed) < self.detail_limit:
                detail = await self.service.get_commit(name, commit.sha)
                detailed.append(detail.data if detail.ok and detail.data else commit)
            elif commit.sha in new:
                detailed.append(commit)
        by_sha = {c.sha: c for c in detailed}
        snapshots = tuple(commit_snapshot(name, by_sha.get(c.sha, c)) for c in listed)
        await self.publish(
            CommitsObserved(repository=name, commits=snapshots, new_count=len(new), observed_at=now)
        )
        if new:
            await self.publish(self._commit_pushed(name, detailed, now))
        return True

    def _is_fresh(self, name: str) -> bool:
        # A repository that appears after the first sync is new: its commits are news.
        return self.state.syncs > 0

    def _commit_pushed(self, repo: str, commits: list[GitHubCommit], now: float) -> CommitPushed:
        lines = [c.stats.additions + c.stats.deletions for c in commits if c.stats is not None]
        files = [len(c.files) for c in commits if c.files is not None]
        authors = Counter(c.author_name for c in commits)
        return CommitPushed(
            repository=repo,
            commit_count=len(commits),
            author=authors.most_common(1)[0][0] if authors else "unknown",
            impact_score=impact_score(sum(lines) if lines else None, sum(files) if files else None),
            source=SOURCE,
            timestamp=now,
        )

    async def poll_events(self) -> None:
        """Read the public events feed; publish new non-push activity, sync early on a push."""
        response = await self.service.get_user_events()
        if not response.ok or response.from_cache:
            return
        events: list[GitHubEvent] = response.data or []
        fresh = [e for e in events if e.id not in self.state.seen_events]
        for event in events:
            self.state.seen_events[event.id] = None
        while len(self.state.seen_events) > 1000:
            self.state.seen_events.popitem(last=False)
        if not self.state.events_baseline:
            self.state.events_baseline = True
            return
        now = self.clock.time()
        pushed = False
        for event in reversed(fresh):  # oldest first
            if event.type == "PushEvent":
                pushed = True
                continue
            kind = ACTIVITY_KINDS.get(event.type or "")
            if kind is None:
                continue
            await self.publish(
                GitHubActivity(
                    kind=kind,
                    repository=event.repo.name,
                    actor=event.actor.login,
                    action=event.payload.action or event.payload.ref_type,
                    title=event.payload.ref,
                    at=parse_github_time(event.created_at) or now,
                    via="poll",
                )
            )
        if pushed:
            await self._sync_early()

    async def _sync_early(self) -> None:
        if self.own_schedule:
            self._wake.set()
            return
        if self.scheduler is None:
            return  # nothing schedules syncs here (a test tree without the scheduler)
        try:
            await ask(self.scheduler, ExecuteTaskNow(task_id=TASK_ID),
                      timeout=self.clock.to_trio(30.0))
        except (AskError, AskTimeout) as error:
            # The next scheduled sync picks the push up all the same.
            self.log.warning("early github sync not queued: %s", type(error).__name__)

    # ---- webhooks -----------------------------------------------------------------------------

    async def on_webhook(self, message: WebhookReceived) -> int:
        """Turn one verified delivery into observations; returns how many were published."""
        if self.state.deliveries.seen(message.delivery_id):
            self.log.info("ignoring redelivery %s", message.delivery_id)
            return 0
        delivery = WebhookDelivery(
            event=message.event,
            delivery_id=message.delivery_id,
            body=message.body,
            supported=message.event in SUPPORTED_EVENTS,
        )
        now = message.received_at or self.clock.time()
        try:
            produced = observations(delivery, now)
        except WebhookPayloadError as exc:
            self.log.warning("webhook %s: %s", message.delivery_id, exc)
            return 0
        published = 0
        for item in self._dedupe_commits(produced):
            await self.publish(item)
            published += 1
        return published

    def _dedupe_commits(self, produced: list[Message]) -> list[Message]:
        """Drop commits the poller already saw, so a push is counted once however it came."""
        result: list[Message] = []
        fresh: list[CommitSnapshot] = []
        for item in produced:
            if isinstance(item, CommitsObserved):
                new = set(self.state.remember(item.repository, [c.sha for c in item.commits]))
                fresh = [c for c in item.commits if c.sha in new]
                result.append(item.__class__(**{**_fields(item), "new_count": len(fresh)}))
            elif isinstance(item, CommitPushed):
                if not fresh:
                    continue
                files = [c.files_changed for c in fresh if c.files_changed is not None]
                result.append(
                    item.__class__(
                        **{
                            **_fields(item),
                            "commit_count": len(fresh),
                            "impact_score": impact_score(None, sum(files) if files else None),
                        }
                    )
                )
            else:
                result.append(item)
        return result

    # ---- status -------------------------------------------------------------------------------

    async def _set_available(self, available: bool, error: str | None) -> None:
        self.state.last_error = error
        if self.state.available is available:
            return
        self.state.available = available
        if available:
            self.log.info("github available")
        else:
            self.log.warning("github unavailable: %s", error)
        await self.publish(
            ServiceStatusChanged(
                service="github",
                available=available,
                error=error,
                source=SOURCE,
                timestamp=self.clock.time(),
            )
        )


def _fields(item: Any) -> dict[str, Any]:
    return {f: getattr(item, f) for f in item.__struct_fields__}


def add_github(garden: Any, children: list[ChildSpec]) -> None:
    """Tree adder: the poller runs when GitHub is configured or a transport is injected.

    `garden.extras["transports"]["github"]` (an httpx transport: demo mode, simulation, tests),
    `garden.extras["request_gates"]["github"]` and `garden.extras["response_caches"]["github"]`
    (the rate-limit and cache owners' hooks) are used when present.
    """
    settings = garden.settings
    transport = garden.extras.get("transports", {}).get("github")
    if transport is None and not settings.is_configured("github"):
        return
    service = GitHubService(
        settings.github,
        transport=transport,
        clock=garden.clock,
        # A longer wait fails the sync and holds github_sync in the scheduler (retry_after).
        retry=RetryPolicy(max_rate_limit_wait=SCHEDULED_RATE_LIMIT_WAIT),
        gate=garden.extras.get("request_gates", {}).get("github"),
        cache=garden.extras.get("response_caches", {}).get("github"),
    )
    state = GitHubState(service)
    garden.extras.setdefault("github", state)
    box = garden.bus.subscribe("github", (RunTask, WebhookReceived, CommitsObserved), capacity=256)
    garden.mailboxes["github"] = box
    if settings.github.username:
        # The owner of `github_events` (the scheduler finds owners by mailbox name): only a
        # poller that knows whose feed to read has that task.
        garden.mailboxes[EVENTS_TASK_ID] = box
    children.append(
        ChildSpec(
            "github",
            lambda: GitHubPoller(
                box,
                garden.bus,
                state,
                clock=garden.clock,
                # The scheduler runs `github_sync` every GITHUB_SYNC_INTERVAL.
                own_schedule=False,
                scheduler=garden.mailboxes.get("scheduler"),
            ),
            Restart.PERMANENT,
        )
    )
