"""The GitHub poller against the fake GitHub: baselines, free unchanged polls, pushes, failures,
webhooks, RunTask, and the whole tree under a mock clock."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from actors.github import GitHubPoller, GitHubState
from actors.tree import build_garden, run_garden
from greenhouse.config import GitHubConfig, IntegrationSettings, Secret
from greenhouse.messages import (
    CommitPushed,
    CommitSnapshot,
    CommitsObserved,
    GitHubActivity,
    RepositoriesObserved,
    RunTask,
    ServiceStatusChanged,
    TaskFinished,
    WebhookReceived,
)
from greenhouse.runtime import Bus, Clock
from greenhouse.services.base import RetryPolicy
from greenhouse.services.github import GitHubService
from greenhouse.simulation.github import FakeGitHub
from greenhouse.store import events_since

HOOKS = Path(__file__).parent / "fixtures" / "github" / "webhooks"
EPOCH = 1_700_000_000.0
WATCHED = (
    RepositoriesObserved,
    CommitsObserved,
    CommitPushed,
    GitHubActivity,
    ServiceStatusChanged,
    TaskFinished,
)


def setup(repos: int = 3) -> tuple[GitHubPoller, FakeGitHub, Any]:
    clock = Clock(start_epoch=EPOCH)
    fake = FakeGitHub(repo_count=repos, time=clock.time)
    config = GitHubConfig(token=Secret("ghp_token_for_tests"), username="octocat")
    service = GitHubService(
        config,
        transport=fake.transport(),
        clock=clock,
        rng=random.Random(3),
        retry=RetryPolicy(max_retries=1, backoff_base=0.1),
    )
    bus = Bus()
    watch = bus.subscribe("watch", WATCHED, capacity=10_000)
    poller = GitHubPoller(None, bus, GitHubState(service), clock=clock)
    return poller, fake, watch


def drain(box: Any) -> list[Any]:
    items = []
    while len(box):
        items.append(box.get_nowait())
    return items


def of(kind: type, items: list[Any]) -> list[Any]:
    return [m for m in items if isinstance(m, kind)]


async def test_first_sync_is_a_baseline(autojump_clock: Any) -> None:
    poller, fake, watch = setup()
    assert await poller.sync()
    seen = drain(watch)
    repos = of(RepositoriesObserved, seen)[0]
    assert {r.full_name for r in repos.repositories} == {f"octocat/repo-{i}" for i in range(3)}
    assert all(r.languages for r in repos.repositories)
    commits = of(CommitsObserved, seen)
    assert len(commits) == 3 and all(c.new_count == 0 and len(c.commits) == 5 for c in commits)
    assert of(CommitPushed, seen) == []
    assert [s.available for s in of(ServiceStatusChanged, seen)] == [True]


async def test_unchanged_garden_costs_nothing(autojump_clock: Any) -> None:
    poller, fake, watch = setup(repos=5)
    await poller.sync()
    drain(watch)
    points, requests = fake.points, fake.requests
    for _ in range(3):
        assert await poller.sync()
    assert fake.points == points  # every poll was a free 304
    assert fake.requests == requests + 3  # one conditional request per sync: the listing
    seen = drain(watch)
    assert len(of(RepositoriesObserved, seen)) == 3 and of(CommitsObserved, seen) == []
    assert all(r.from_cache and r.changed == () for r in of(RepositoriesObserved, seen))


async def test_push_becomes_commit_pushed_with_impact(autojump_clock: Any) -> None:
    poller, fake, watch = setup()
    await poller.sync()
    drain(watch)
    fake.push("octocat/repo-1", commits=2, additions=300, deletions=50, files=6)
    before = fake.points
    await poller.sync()
    seen = drain(watch)
    pushed = of(CommitPushed, seen)
    assert len(pushed) == 1
    event = pushed[0]
    assert event.repository == "octocat/repo-1" and event.commit_count == 2
    assert event.author == "octocat" and 0.5 < event.impact_score <= 1.0
    observed = of(CommitsObserved, seen)[0]
    assert observed.new_count == 2 and observed.commits[0].additions == 300
    assert of(RepositoriesObserved, seen)[0].changed == ("octocat/repo-1",)
    # listing page + commits list + 2 commit details (+ languages, unchanged: a free 304)
    assert fake.points - before == 4


async def test_failing_github_marks_unavailable_and_keeps_data(autojump_clock: Any) -> None:
    poller, fake, watch = setup()
    await poller.sync()
    drain(watch)
    fake.fail_next(*(httpx.Response(500) for _ in range(2)))
    assert not await poller.sync()
    seen = drain(watch)
    status = of(ServiceStatusChanged, seen)
    assert [s.available for s in status] == [False] and "500" in (status[0].error or "")
    assert len(poller.state.repositories) == 3  # last good data kept
    assert await poller.sync()
    assert [s.available for s in of(ServiceStatusChanged, drain(watch))] == [True]


async def test_unexpected_errors_do_not_escape(autojump_clock: Any) -> None:
    poller, fake, watch = setup()

    async def broken() -> Any:
        raise RuntimeError("surprise")

    poller.service.get_user_repositories = broken  # type: ignore[method-assign]
    assert not await poller.sync()
    assert of(ServiceStatusChanged, drain(watch))[0].available is False


async def test_webhook_push_dedup_by_delivery_and_sha(autojump_clock: Any) -> None:
    poller, fake, watch = setup()
    body = (HOOKS / "push.new-branch.json").read_bytes()
    message = WebhookReceived(event="push", delivery_id="abc-1", body=body, received_at=EPOCH)
    assert await poller.handle(message) == 2
    seen = drain(watch)
    assert of(CommitPushed, seen)[0].delivery_id == "abc-1"
    assert await poller.handle(message) == 0  # redelivery: same id
    again = WebhookReceived(event="push", delivery_id="abc-2", body=body, received_at=EPOCH)
    await poller.handle(again)
    seen = drain(watch)
    assert of(CommitPushed, seen) == []  # same commit by another delivery: counted once
    assert of(CommitsObserved, seen)[0].new_count == 0


async def test_webhook_after_poll_does_not_double_count(autojump_clock: Any) -> None:
    poller, fake, watch = setup()
    await poller.sync()
    (sha,) = fake.push("octocat/repo-0")
    await poller.sync()
    assert len(of(CommitPushed, drain(watch))) == 1
    body = (
        b'{"ref": "refs/heads/main", "repository": {"full_name": "octocat/repo-0"},'
        b' "commits": [{"id": "' + sha.encode() + b'", "message": "x", "added": ["a"]}]}'
    )
    await poller.handle(WebhookReceived(event="push", delivery_id="d9", body=body))
    assert of(CommitPushed, drain(watch)) == []


async def test_webhook_activity_and_bad_payload(autojump_clock: Any) -> None:
    poller, fake, watch = setup()
    body = (HOOKS / "release.published.json").read_bytes()
    await poller.handle(WebhookReceived(event="release", delivery_id="r1", body=body))
    assert of(GitHubActivity, drain(watch))[0].kind == "release"
    assert await poller.handle(WebhookReceived(event="push", delivery_id="r2", body=b"[]")) == 0


async def test_run_task_reports_task_finished(autojump_clock: Any) -> None:
    poller, fake, watch = setup()
    reply = await poller.handle(RunTask(task_id="github_sync", execution_id="e1"))
    assert isinstance(reply, TaskFinished) and reply.ok and reply.retry_after is None
    assert await poller.handle(RunTask(task_id="weather_sync", execution_id="e2")) is None
    finished = of(TaskFinished, drain(watch))
    assert finished == [reply] and finished[0].execution_id == "e1"


async def test_events_feed_publishes_activity_and_wakes_sync(autojump_clock: Any) -> None:
    poller, fake, watch = setup()
    await poller.poll_events()  # baseline
    fake.events.insert(
        0,
        {
            "id": "999",
            "type": "WatchEvent",
            "actor": {"id": 2, "login": "friend"},
            "repo": {"id": 1, "name": "octocat/repo-2"},
            "payload": {"action": "started"},
            "created_at": "2023-11-14T22:00:00Z",
        },
    )
    await trio.sleep(61)
    await poller.poll_events()
    activity = of(GitHubActivity, drain(watch))
    assert [(a.kind, a.actor, a.repository) for a in activity] == [
        ("star", "friend", "octocat/repo-2")
    ]


async def test_tree_runs_poller_only_when_configured_or_faked(
    autojump_clock: Any, tmp_path: Path
) -> None:
    plain = build_garden(IntegrationSettings(), db_path=str(tmp_path / "a.db"))
    assert "github" not in plain.mailboxes
    plain.store.close()

    clock = Clock(start_epoch=EPOCH)
    fake = FakeGitHub(repo_count=2, time=clock.time)
    settings = IntegrationSettings(github=GitHubConfig(username="octocat", sync_interval=600))
    garden = build_garden(
        settings,
        clock=clock,
        db_path=str(tmp_path / "b.db"),
        extras={"transports": {"github": fake.transport()}},
    )
    assert "github" in garden.mailboxes and "github" in garden.describe()
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        await trio.sleep(60)
        fake.push("octocat/repo-1", commits=3)
        await trio.sleep(700)  # the next scheduled sync sees the push
        # Persistence commits in a worker thread, in real time: wait for the row itself.
        for _ in range(500):
            rows = events_since(garden.store.reader(), 0, types=["commit_pushed"])
            if rows:
                break
            await trio.to_thread.run_sync(time.sleep, 0.01)
        nursery.cancel_scope.cancel()
    assert len(rows) == 1 and '"commit_count":3' in rows[0].data
    assert rows[0].source == "github_sync"


async def test_commits_delivered_elsewhere_are_not_announced_again(autojump_clock: Any) -> None:
    poller, fake, watch = setup()
    await poller.sync()
    (sha,) = fake.push("octocat/repo-2")
    # The HTTP layer converted the webhook itself and published its CommitsObserved.
    webhook_view = CommitsObserved(
        repository="octocat/repo-2",
        commits=(CommitSnapshot(sha=sha, repository="octocat/repo-2", author="octocat"),),
        new_count=1,
        via="webhook",
    )
    await poller.handle(webhook_view)
    drain(watch)
    await poller.sync()
    seen = drain(watch)
    assert of(CommitPushed, seen) == []
    assert of(CommitsObserved, seen)[0].new_count == 0
