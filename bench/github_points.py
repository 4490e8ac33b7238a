"""GitHub rate-limit points spent per hour by a garden of 50 repositories, and per change.

The fake GitHub (`greenhouse.simulation.github.FakeGitHub`) charges points as api.github.com
does: 1 per request, 0 for an authorised `304 Not Modified` and for `/rate_limit`. Everything
runs in virtual time under `trio.testing.MockClock`, so an hour takes milliseconds.

* naive: every 30 minutes, unconditional GETs of the repository listing and of each
  repository's commits (what a poller without ETags does).
* greenhouse: the real `GitHubPoller` (conditional GETs, commits only for repositories whose
  `pushed_at` moved), syncing every 30 or 5 minutes and reading the events feed every 60 s
  (GitHub's `X-Poll-Interval`).

The hour measured is the second one: the first sync (the baseline download) is excluded.

    python bench/github_points.py [--repos 50]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import trio
import trio.testing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.github import GitHubPoller, GitHubState  # noqa: E402
from bench._report import report  # noqa: E402
from greenhouse.config import GitHubConfig, Secret  # noqa: E402
from greenhouse.runtime import Bus, Clock  # noqa: E402
from greenhouse.services.github import GitHubService  # noqa: E402
from greenhouse.simulation.github import FakeGitHub  # noqa: E402

HOUR = 3600.0
EPOCH = 1_700_000_000.0


def world(repos: int) -> tuple[FakeGitHub, GitHubService, Clock]:
    clock = Clock(start_epoch=EPOCH)
    fake = FakeGitHub(repo_count=repos, time=clock.time, limit=100_000)
    config = GitHubConfig(token=Secret("ghp_bench"), username="octocat")
    service = GitHubService(config, transport=fake.transport(), clock=clock, rng=random.Random(0))
    return fake, service, clock


async def naive_hour(repos: int, interval: float) -> tuple[int, int]:
    fake, service, clock = world(repos)

    async def poll() -> None:
        await service.make_request(
            "GET", "/user/repos", params={"per_page": 100}, conditional=False
        )
        for full in list(fake.repos):
            await service.make_request(
                "GET", f"/repos/{full}/commits", params={"per_page": 30}, conditional=False
            )

    await poll()  # baseline, excluded
    points, requests = fake.points, fake.requests
    end = clock.monotonic() + HOUR
    while clock.monotonic() + interval <= end + 1e-6:
        await clock.sleep(interval)
        await poll()
    return fake.points - points, fake.requests - requests


async def greenhouse_hour(
    repos: int, interval: float, events_every: float, changes: int = 0, commits: int = 1
) -> tuple[int, int]:
    fake, service, clock = world(repos)
    poller = GitHubPoller(None, Bus(), GitHubState(service), clock=clock)
    await poller.sync()  # baseline, excluded
    await poller.poll_events()
    points, requests = fake.points, fake.requests
    names = list(fake.repos)
    next_sync, next_events = interval, events_every
    t = 0.0
    changed = 0
    while t < HOUR - 1e-6:
        step = min(next_sync, next_events) - t
        await clock.sleep(step)
        t += step
        if changed < changes:  # one change just before each of the first `changes` polls
            fake.push(names[changed % len(names)], commits=commits)
            changed += 1
        if abs(t - next_events) < 1e-6:
            await poller.poll_events()
            next_events += events_every
        if abs(t - next_sync) < 1e-6:
            await poller.sync()
            next_sync += interval
    return fake.points - points, fake.requests - requests


async def per_change(repos: int, commits: int) -> int:
    """Points for one repository changing by `commits` commits, seen by one sync + events poll."""
    fake, service, clock = world(repos)
    poller = GitHubPoller(None, Bus(), GitHubState(service), clock=clock)
    await poller.sync()
    await poller.poll_events()
    await clock.sleep(120)
    before = fake.points
    fake.push("octocat/repo-7", commits=commits)
    await poller.poll_events()
    await poller.sync()
    return fake.points - before


def run(coro_fn, *args):  # type: ignore[no-untyped-def]
    return trio.run(coro_fn, *args, clock=trio.testing.MockClock(autojump_threshold=0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=50)
    args = parser.parse_args()
    n = args.repos
    rows = []
    points, requests = run(naive_hour, n, 1800.0)
    rows.append(["naive: unconditional listing + commits every 30 min", n, points, requests])
    points, requests = run(greenhouse_hour, n, 1800.0, 60.0)
    rows.append(["greenhouse: conditional, sync 30 min + events 60 s", n, points, requests])
    points, requests = run(greenhouse_hour, n, 300.0, 60.0)
    rows.append(["greenhouse: conditional, sync 5 min + events 60 s", n, points, requests])
    points, requests = run(greenhouse_hour, n, 300.0, 60.0, 3, 1)
    rows.append(["greenhouse, sync 5 min, 3 repos change once each", n, points, requests])
    change_rows = [
        [f"{c} new commit(s) in one repository", run(per_change, n, c)] for c in (1, 3, 10)
    ]
    report(
        "github_points",
        ["strategy (one hour, unchanged garden unless stated)", "repos", "points", "requests"],
        rows,
        {
            "per_change": {"columns": ["change", "points"], "rows": change_rows},
            "notes": "points counted by FakeGitHub: 1 per request, 0 for authorised 304s and "
            "/rate_limit; the baseline sync is excluded",
        },
    )
    print()
    for label, points in change_rows:
        print(f"{label}: {points} points")


if __name__ == "__main__":
    main()
