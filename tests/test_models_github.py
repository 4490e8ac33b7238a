"""GitHub models decode the real example payloads and reject wrong shapes clearly."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from greenhouse.models import (
    GitHubCommit,
    GitHubEvent,
    GitHubRepository,
    parse_github_time,
)

REST = Path(__file__).parent / "fixtures" / "github" / "rest"


def test_repositories_list_decodes() -> None:
    repos = msgspec.json.decode(
        (REST / "users.repos.list.json").read_bytes(), type=list[GitHubRepository]
    )
    assert len(repos) == 1
    repo = repos[0]
    assert repo.full_name == "octocat/Hello-World" and repo.owner.login == "octocat"
    assert repo.stargazers_count == 80 and repo.forks_count == 9
    assert repo.topics == ["octocat", "atom", "electron", "api"]
    assert parse_github_time(repo.pushed_at) == pytest.approx(1296068803.0)


def test_single_repository_has_subscribers() -> None:
    repo = msgspec.json.decode((REST / "repos.get.json").read_bytes(), type=GitHubRepository)
    assert repo.subscribers_count is not None and repo.subscribers_count > 0


def test_commits_decode_with_author_and_time() -> None:
    commits = msgspec.json.decode(
        (REST / "repos.commits.list.json").read_bytes(), type=list[GitHubCommit]
    )
    commit = commits[0]
    assert commit.sha == "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    assert commit.author_name == "octocat" and commit.commit.message == "Fix all the bugs"
    assert commit.timestamp == pytest.approx(1302796849.0)
    assert commit.stats is None  # list items carry no line counts


def test_events_decode() -> None:
    events = msgspec.json.decode(
        (REST / "users.events.public.json").read_bytes(), type=list[GitHubEvent]
    )
    assert [e.type for e in events] == ["WatchEvent", "PushEvent"]
    assert events[1].payload.size == 1 and events[1].repo.name == "octocat/Hello-World"


def test_wrong_shape_names_the_field() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\[0\]\.stargazers_count"):
        msgspec.json.decode(
            b'[{"id": 1, "name": "a", "full_name": "o/a", "owner": {"login": "o"},'
            b' "stargazers_count": "many"}]',
            type=list[GitHubRepository],
        )


def test_bad_times_are_none() -> None:
    assert parse_github_time(None) is None and parse_github_time("yesterday") is None
