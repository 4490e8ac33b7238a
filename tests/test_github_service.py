"""GitHubService against the fake GitHub: pagination, ETags, limits, retries, bad bodies."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import trio

from greenhouse.config import GitHubConfig, Secret
from greenhouse.models import GitHubEvent
from greenhouse.runtime.clock import Clock
from greenhouse.services.base import ErrorKind, MemoryGate, RetryPolicy
from greenhouse.services.github import (
    GitHubService,
    impact_score,
    next_link,
    summarize_events,
)
from greenhouse.simulation.github import FakeGitHub

REST = Path(__file__).parent / "fixtures" / "github" / "rest"
TOKEN = "ghp_0123456789abcdefTOKEN"
EPOCH = 1_700_000_000.0


def setup(
    *, repos: int = 3, limit: int = 5000, per_page: int = 100, **kwargs: Any
) -> tuple[GitHubService, FakeGitHub, MemoryGate]:
    clock = Clock(start_epoch=EPOCH)
    fake = FakeGitHub(repo_count=repos, limit=limit, time=clock.time)
    gate = MemoryGate(time=clock.time)
    config = GitHubConfig(token=Secret(TOKEN), username="octocat")
    service = GitHubService(
        config, transport=fake.transport(), clock=clock, gate=gate, rng=random.Random(1), **kwargs
    )
    service.per_page = per_page
    return service, fake, gate


def test_next_link_reads_the_real_fixture() -> None:
    pages = msgspec.json.decode(
        (REST / "octokit-fixtures.paginate-issues.normalized.json").read_bytes()
    )
    link = pages[0]["headers"]["link"]
    assert next_link(link) == "https://api.github.com/repositories/1000/issues?per_page=3&page=2"
    assert next_link(pages[-1]["headers"].get("link")) is None
    assert next_link(None) is None


async def test_pagination_across_three_pages(autojump_clock: Any) -> None:
    service, fake, _ = setup(repos=7, per_page=3)
    result = await service.get_user_repositories()
    assert result.ok, result.error
    assert len(result.data) == 7 and len({r.full_name for r in result.data}) == 7
    assert [status for _, status in fake.log] == [200, 200, 200]
    assert "page=3" in fake.log[-1][0]


async def test_etag_round_trip_is_free(autojump_clock: Any) -> None:
    service, fake, gate = setup(repos=7, per_page=3)
    first = await service.get_user_repositories()
    tokens, points = gate.tokens_spent["github"], fake.points
    assert tokens == 3 and points == 3
    second = await service.get_user_repositories()
    assert second.ok and second.from_cache
    assert [r.full_name for r in second.data] == [r.full_name for r in first.data]
    assert fake.not_modified == 3
    assert gate.tokens_spent["github"] == tokens  # no bucket token for the 304s
    assert fake.points == points  # and GitHub charged nothing either


async def test_change_is_seen_and_charged(autojump_clock: Any) -> None:
    service, fake, _ = setup(repos=2)
    await service.get_repository_commits("octocat/repo-0")
    fake.push("octocat/repo-0", commits=2)
    again = await service.get_repository_commits("octocat/repo-0")
    assert again.ok and not again.from_cache and again.data[0].commit.message == "Change 2"
    assert fake.points == 2


async def test_remaining_zero_waits_until_reset_without_extra_requests(autojump_clock: Any) -> None:
    service, fake, _ = setup(repos=2, limit=2)
    start = trio.current_time()
    assert (await service.get_repository("octocat/repo-0")).ok
    last = await service.get_repository("octocat/repo-1")
    assert last.ok and last.rate_limit is not None and last.rate_limit.remaining == 0
    third = await service.get_repository_languages("octocat/repo-0")
    assert third.ok
    assert [status for _, status in fake.log] == [200, 200, 200]  # never a 403
    assert trio.current_time() - start == pytest.approx(3600.0, abs=1.0)


async def test_exhausted_403_is_obeyed_not_retried_early(autojump_clock: Any) -> None:
    service, fake, _ = setup()
    reset = int(EPOCH) + 120
    fake.fail_next(
        httpx.Response(
            403,
            json={"message": "API rate limit exceeded"},
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        )
    )
    start = trio.current_time()
    result = await service.get_repository("octocat/repo-0")
    assert result.ok and len(fake.log) == 2
    assert trio.current_time() - start == pytest.approx(120.0, abs=1.0)


async def test_forbidden_without_limit_headers_is_an_error(autojump_clock: Any) -> None:
    service, fake, _ = setup()
    fake.fail_next(httpx.Response(403, json={"message": "Resource not accessible"}))
    result = await service.get_repository("octocat/repo-0")
    assert result.error_kind == ErrorKind.HTTP and len(fake.log) == 1
    assert "Resource not accessible" in (result.error or "")


async def test_retry_after_is_honoured(autojump_clock: Any) -> None:
    service, fake, _ = setup()
    fake.fail_next(httpx.Response(429, headers={"retry-after": "30"}))
    start = trio.current_time()
    result = await service.get_repository("octocat/repo-0")
    assert result.ok and trio.current_time() - start == pytest.approx(30.0, abs=0.5)


async def test_500s_retried_then_reported(autojump_clock: Any) -> None:
    service, fake, _ = setup(retry=RetryPolicy(max_retries=2, backoff_base=1.0))
    fake.fail_next(*(httpx.Response(500) for _ in range(3)))
    result = await service.get_repository("octocat/repo-0")
    assert result.error_kind == ErrorKind.SERVER and result.attempts == 3 and len(fake.log) == 3
    assert TOKEN not in (result.error or "")
    fake.fail_next(httpx.Response(502))
    assert (await service.get_repository("octocat/repo-0")).ok  # one failure, then fine


async def test_malformed_and_oversized_bodies_are_errors(autojump_clock: Any) -> None:
    service, fake, _ = setup(max_body_bytes=50_000)
    fake.fail_next(httpx.Response(200, content=b'[{"id": 1, "name": '))
    bad = await service.get_user_repositories()
    assert bad.error_kind == ErrorKind.DECODE and bad.data is None
    fake.fail_next(httpx.Response(200, json={"id": "one"}))
    wrong = await service.get_repository("octocat/repo-0")
    assert wrong.error_kind == ErrorKind.DECODE and "$.id" in (wrong.error or "")
    fake.fail_next(httpx.Response(200, content=b"[" + b"0," * 60_000 + b"0]"))
    big = await service.get_repository_commits("octocat/repo-0")
    assert big.error_kind == ErrorKind.TOO_LARGE


async def test_events_honour_poll_interval(autojump_clock: Any) -> None:
    service, fake, _ = setup()
    fake.poll_interval = 90
    fake.push("octocat/repo-1")
    first = await service.get_user_events()
    assert first.ok and len(first.data) == 1 and service.events_poll_interval == 90
    await trio.sleep(60)
    early = await service.get_user_events()
    assert early.from_cache and len(fake.log) == 1  # not asked again inside the interval
    await trio.sleep(31)
    late = await service.get_user_events()
    assert late.ok and len(fake.log) == 2 and fake.log[-1][1] == 304


async def test_growth_metrics_and_summary(autojump_clock: Any) -> None:
    service, fake, _ = setup()
    fake.push("octocat/repo-2", commits=3)
    metrics = await service.calculate_growth_metrics("octocat/repo-2")
    assert metrics.ok, metrics.error
    m = metrics.data
    assert m.commit_count == 8 and m.commits_last_7_days == 3
    assert (
        m.primary_language == "TypeScript"
        and m.watchers == fake.repos["octocat/repo-2"]["subscribers_count"]
    )
    assert m.topics == ("garden", "typescript") and m.created_at is not None
    summary = await service.get_user_activity_summary(days=30)
    assert summary.ok and summary.data.totals == {"commits": 3}
    assert summary.data.per_repository == {"octocat/repo-2": {"commits": 3}}


def test_summary_of_real_events() -> None:
    events = msgspec.json.decode(
        (REST / "users.events.public.json").read_bytes(), type=list[GitHubEvent]
    )
    now = 1654819200.0  # 2022-06-10
    summary = summarize_events(events, days=30, now=now)
    assert summary.totals == {"stars": 1, "commits": 1}
    assert summary.per_day == {"2022-06-08": {"commits": 1}, "2022-06-09": {"stars": 1}}
    assert summarize_events(events, days=1, now=now + 5 * 86400).events == 0


def test_impact_score_is_bounded_and_monotonic() -> None:
    assert impact_score(None, None) == 0.1
    assert impact_score(0, 0) == 0.0 and impact_score(100_000, 500) == 1.0
    assert impact_score(10, 1) < impact_score(100, 1) < impact_score(100, 10)
    assert 0 < impact_score(None, 3) < impact_score(None, 30) == 1.0


async def test_enterprise_base_url_and_auth(autojump_clock: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"C": 1})

    config = GitHubConfig(
        token=Secret(TOKEN), username="me", api_base_url="https://ghe.example.com/api/v3"
    )
    service = GitHubService(config, transport=httpx.MockTransport(handler))
    result = await service.get_repository_languages("me/x")
    assert result.data == {"C": 1}
    assert str(seen[0].url) == "https://ghe.example.com/api/v3/repos/me/x/languages"
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert seen[0].headers["x-github-api-version"] == "2022-11-28"
    assert TOKEN not in repr(service) and TOKEN not in repr(config)


async def test_health_check_is_free(autojump_clock: Any) -> None:
    service, fake, _ = setup()
    health = await service.health_check()
    assert health.available and health.rate_limit is not None and fake.points == 0


async def test_an_unchanged_body_is_decoded_once(autojump_clock: Any) -> None:
    service, fake, _ = setup(repos=4)
    first = await service.get_user_repositories()
    second = await service.get_user_repositories()  # a 304: the cached body again
    assert second.from_cache and fake.not_modified == 1
    assert second.data == first.data
    # The same frozen values, in a list of its own: a caller changing it changes only its copy.
    assert second.data is not first.data
    assert all(a is b for a, b in zip(first.data, second.data, strict=True))
    second.data.clear()
    third = await service.get_user_repositories()
    assert len(third.data) == 4
    # A changed body is decoded afresh.
    fake.star("octocat/repo-1")
    fourth = await service.get_user_repositories()
    assert not fourth.from_cache
    starred = {r.full_name: r.stargazers_count for r in fourth.data}
    before = {r.full_name: r.stargazers_count for r in first.data}
    assert starred["octocat/repo-1"] == before["octocat/repo-1"] + 1
