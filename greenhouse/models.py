"""Domain records decoded from external APIs (msgspec Structs; unknown fields are ignored).

Each service owns a section. Structs here validate the shapes the clients rely on, built against
the real payloads in `shared/fixtures/real/`; a payload of the wrong shape fails to decode with a
message naming the field, which the client turns into an `APIResponse.error`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

__all__ = [
    "ActivitySummary",
    "CommitFile",
    "CommitStats",
    "GitHubCommit",
    "GitHubCommitData",
    "GitHubEvent",
    "GitHubEventPayload",
    "GitHubEventRepo",
    "GitHubGitPerson",
    "GitHubRelease",
    "GitHubRepository",
    "GitHubUser",
    "GrowthMetrics",
    "parse_github_time",
]


def parse_github_time(value: str | None) -> float | None:
    """An ISO-8601 GitHub timestamp (`2011-01-26T19:06:43Z`) as epoch seconds; None if absent."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# GitHub (issue 3): REST API shapes.


class GitHubUser(msgspec.Struct, frozen=True, kw_only=True):
    """An account as GitHub embeds it (`owner`, `author`, `actor`, `sender`)."""

    login: str
    id: int = 0
    type: str = "User"
    html_url: str | None = None


class GitHubRepository(msgspec.Struct, frozen=True, kw_only=True):
    """GET /user/repos, /users/{u}/repos, /repos/{o}/{r}."""

    id: int
    name: str
    full_name: str
    owner: GitHubUser
    private: bool = False
    description: str | None = None
    fork: bool = False
    html_url: str | None = None
    homepage: str | None = None
    language: str | None = None
    forks_count: int = 0
    stargazers_count: int = 0
    watchers_count: int = 0
    subscribers_count: int | None = None  # only on GET /repos/{o}/{r}: the real "watchers"
    size: int = 0
    default_branch: str = "main"
    open_issues_count: int = 0
    topics: list[str] = msgspec.field(default_factory=list)
    archived: bool = False
    disabled: bool = False
    visibility: str | None = None
    pushed_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class GitHubGitPerson(msgspec.Struct, frozen=True, kw_only=True):
    """The git-level author or committer of a commit."""

    name: str | None = None
    email: str | None = None
    date: str | None = None


class GitHubCommitData(msgspec.Struct, frozen=True, kw_only=True):
    """The `commit` object inside a commit listing."""

    message: str = ""
    author: GitHubGitPerson | None = None
    committer: GitHubGitPerson | None = None
    comment_count: int = 0


class CommitStats(msgspec.Struct, frozen=True, kw_only=True):
    """Line counts; only on GET /repos/{o}/{r}/commits/{sha}."""

    additions: int = 0
    deletions: int = 0
    total: int = 0


class CommitFile(msgspec.Struct, frozen=True, kw_only=True):
    """One file of a single-commit response."""

    filename: str
    additions: int = 0
    deletions: int = 0
    changes: int = 0
    status: str | None = None


class GitHubCommit(msgspec.Struct, frozen=True, kw_only=True):
    """GET /repos/{o}/{r}/commits (list) and /commits/{sha} (with stats and files)."""

    sha: str
    commit: GitHubCommitData
    html_url: str | None = None
    author: GitHubUser | None = None  # null when the email matches no GitHub account
    committer: GitHubUser | None = None
    stats: CommitStats | None = None
    files: list[CommitFile] | None = None

    @property
    def author_name(self) -> str:
        """The GitHub login when known, else the git author's name."""
        if self.author is not None:
            return self.author.login
        person = self.commit.author
        return (person.name if person and person.name else None) or "unknown"

    @property
    def timestamp(self) -> float | None:
        """When the commit was authored, epoch seconds."""
        person = self.commit.author or self.commit.committer
        return parse_github_time(person.date if person else None)


class GitHubRelease(msgspec.Struct, frozen=True, kw_only=True):
    """GET /repos/{o}/{r}/releases items, and `release` in webhooks."""

    id: int
    tag_name: str
    name: str | None = None
    draft: bool = False
    prerelease: bool = False
    created_at: str | None = None
    published_at: str | None = None
    html_url: str | None = None


class GitHubEventRepo(msgspec.Struct, frozen=True, kw_only=True):
    """`repo` in a public event (`name` is `owner/repo`)."""

    id: int = 0
    name: str = ""


class GitHubPushCommit(msgspec.Struct, frozen=True, kw_only=True):
    """A commit inside a PushEvent payload."""

    sha: str
    message: str = ""
    distinct: bool = True


class GitHubEventPayload(msgspec.Struct, frozen=True, kw_only=True):
    """The fields of event payloads the activity summary reads; the rest are ignored."""

    action: str | None = None
    size: int | None = None
    distinct_size: int | None = None
    ref: str | None = None
    ref_type: str | None = None
    commits: list[GitHubPushCommit] | None = None


class GitHubEvent(msgspec.Struct, frozen=True, kw_only=True):
    """GET /users/{u}/events/public items."""

    id: str
    type: str | None
    actor: GitHubUser
    repo: GitHubEventRepo
    payload: GitHubEventPayload = GitHubEventPayload()
    public: bool = True
    created_at: str | None = None


class ActivitySummary(msgspec.Struct, frozen=True, kw_only=True):
    """Counts from the public events feed over `days`: per day (`YYYY-MM-DD`) and per repository.

    Each inner dict maps a kind (`commits`, `pull_requests`, `issues`, `releases`, `stars`,
    `creates`, `other`) to a count.
    """

    days: int
    events: int
    totals: dict[str, int]
    per_day: dict[str, dict[str, int]]
    per_repository: dict[str, dict[str, int]]


class GrowthMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """The raw inputs the growth engine needs for one repository."""

    repository: str
    commit_count: int  # commits seen in the recent window (up to the fetch limit)
    commits_last_7_days: int
    commits_last_30_days: int
    mean_days_between_commits: float | None
    last_commit_at: float | None
    languages: dict[str, int]
    primary_language: str | None
    stars: int
    forks: int
    watchers: int
    open_issues: int
    size_kb: int
    created_at: float | None
    pushed_at: float | None
    releases: int
    latest_release_at: float | None
    topics: tuple[str, ...]
    archived: bool = False

    def to_builtins(self) -> dict[str, Any]:
        """A plain dict (for JSON and the growth engine's tests)."""
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]
