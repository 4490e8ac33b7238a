"""A fake GitHub behind `httpx.MockTransport`: real-shaped payloads, ETags and point accounting.

It serves what `GitHubService` asks for, in the shapes of GitHub's own examples
(`shared/fixtures/real/github/rest/`), and charges rate-limit points the way GitHub does: one
point per request, nothing for an authorised `304 Not Modified` or for `/rate_limit`; at zero
remaining it answers 403 until the window resets. Tests, the benchmark and demo mode all use it.

    fake = FakeGitHub(repo_count=50, time=clock.time)
    service = GitHubService(config, transport=fake.transport())
    fake.push("octocat/repo-7", commits=2)   # something changes
"""

from __future__ import annotations

import hashlib
import random
import re
import time as _time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import msgspec

__all__ = ["FakeGitHub"]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user(login: str, uid: int) -> dict[str, Any]:
    base = f"https://api.github.com/users/{login}"
    return {
        "login": login,
        "id": uid,
        "node_id": "MDQ6VXNlcjE=",
        "avatar_url": "https://github.com/images/error/octocat_happy.gif",
        "gravatar_id": "",
        "url": base,
        "html_url": f"https://github.com/{login}",
        "type": "User",
        "site_admin": False,
    }


LANGUAGES = ("Python", "Rust", "TypeScript", "Go", "C", "Shell", "HTML")


class FakeGitHub:
    """An in-memory GitHub for one user; mutate it with `push`, `star`, `fail_next`."""

    def __init__(
        self,
        *,
        username: str = "octocat",
        repo_count: int = 3,
        commits_per_repo: int = 5,
        limit: int = 5000,
        window: float = 3600.0,
        poll_interval: int = 60,
        time: Callable[[], float] = _time.time,
        seed: int = 0,
        start: float = 1_700_000_000.0,
    ) -> None:
        self.username = username
        self.limit = limit
        self.remaining = limit
        self.window = window
        self.poll_interval = poll_interval
        self._time = time
        self.reset_at: float | None = None
        self.rng = random.Random(seed)
        self.start = start
        self.repos: dict[str, dict[str, Any]] = {}
        self.commits: dict[str, list[dict[str, Any]]] = {}
        self.languages: dict[str, dict[str, int]] = {}
        self.releases: dict[str, list[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        # Accounting.
        self.points = 0
        self.requests = 0
        self.not_modified = 0
        self.by_endpoint: Counter[str] = Counter()
        self.log: list[tuple[str, int]] = []  # (path?query, status)
        self._failures: list[httpx.Response] = []
        self._sha_counter = 0
        for index in range(repo_count):
            self.add_repository(f"repo-{index}", commits=commits_per_repo)

    # ---- world mutation ---------------------------------------------------------------------

    def _sha(self) -> str:
        self._sha_counter += 1
        return hashlib.sha1(f"{self.username}-{self._sha_counter}".encode()).hexdigest()

    def add_repository(self, name: str, *, commits: int = 5) -> str:
        """A new repository with `commits` commits; returns its full name."""
        full = f"{self.username}/{name}"
        rid = 1_296_269 + len(self.repos)
        created = self.start - 400 * 86400 + len(self.repos) * 3600
        language = LANGUAGES[len(self.repos) % len(LANGUAGES)]
        self.repos[full] = {
            "id": rid,
            "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
            "name": name,
            "full_name": full,
            "owner": _user(self.username, 1),
            "private": False,
            "html_url": f"https://github.com/{full}",
            "description": f"The {name} project",
            "fork": False,
            "url": f"https://api.github.com/repos/{full}",
            "homepage": "https://github.com",
            "language": language,
            "forks_count": rid % 7,
            "stargazers_count": rid % 90,
            "watchers_count": rid % 90,
            "size": 100 + rid % 1000,
            "default_branch": "main",
            "open_issues_count": rid % 5,
            "is_template": False,
            "topics": ["garden", language.lower()],
            "has_issues": True,
            "has_projects": True,
            "has_wiki": True,
            "has_pages": False,
            "has_downloads": True,
            "archived": False,
            "disabled": False,
            "visibility": "public",
            "pushed_at": _iso(created),
            "created_at": _iso(created),
            "updated_at": _iso(created),
            "permissions": {"admin": True, "push": True, "pull": True},
            "subscribers_count": rid % 11,
            "network_count": rid % 7,
        }
        self.commits[full] = []
        self.languages[full] = {language: 10_000 + rid % 5000, "Shell": 300}
        self.releases[full] = []
        for _ in range(commits):
            self._add_commit(full, created, author=self.username, event=False)
        return full

    def _add_commit(
        self,
        full: str,
        when: float,
        *,
        author: str,
        additions: int = 10,
        deletions: int = 2,
        files: int = 1,
        message: str = "Grow a little",
        event: bool = True,
    ) -> dict[str, Any]:
        sha = self._sha()
        person = {"name": author.title(), "email": f"{author}@example.com", "date": _iso(when)}
        commit = {
            "url": f"https://api.github.com/repos/{full}/commits/{sha}",
            "sha": sha,
            "node_id": "MDY6Q29tbWl0",
            "html_url": f"https://github.com/{full}/commit/{sha}",
            "commit": {
                "url": f"https://api.github.com/repos/{full}/git/commits/{sha}",
                "author": person,
                "committer": person,
                "message": message,
                "tree": {"sha": sha, "url": ""},
                "comment_count": 0,
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                },
            },
            "author": _user(author, 1),
            "committer": _user(author, 1),
            "parents": [],
            "stats": {
                "additions": additions,
                "deletions": deletions,
                "total": additions + deletions,
            },
            "files": [
                {
                    "filename": f"src/file_{i}.py",
                    "additions": additions // max(1, files),
                    "deletions": deletions // max(1, files),
                    "changes": 0,
                    "status": "modified",
                }
                for i in range(files)
            ],
        }
        self.commits[full].insert(0, commit)
        if event:
            self.events.insert(
                0,
                {
                    "id": str(22249084964 + len(self.events)),
                    "type": "PushEvent",
                    "actor": {
                        "id": 1,
                        "login": author,
                        "display_login": author,
                        "gravatar_id": "",
                        "url": "",
                        "avatar_url": "",
                    },
                    "repo": {"id": self.repos[full]["id"], "name": full, "url": ""},
                    "payload": {
                        "push_id": 1,
                        "size": 1,
                        "distinct_size": 1,
                        "ref": "refs/heads/main",
                        "head": sha,
                        "before": sha,
                        "commits": [
                            {
                                "sha": sha,
                                "author": {"email": "", "name": author},
                                "message": message,
                                "distinct": True,
                                "url": "",
                            }
                        ],
                    },
                    "public": True,
                    "created_at": _iso(when),
                },
            )
            del self.events[300:]
        return commit

    def push(
        self,
        full_name: str,
        *,
        commits: int = 1,
        author: str | None = None,
        additions: int = 40,
        deletions: int = 10,
        files: int = 3,
    ) -> list[str]:
        """New commits on a repository now; returns their shas."""
        now = self._time()
        shas = [
            self._add_commit(
                full_name,
                now,
                author=author or self.username,
                additions=additions,
                deletions=deletions,
                files=files,
                message=f"Change {i + 1}",
            )["sha"]
            for i in range(commits)
        ]
        repo = self.repos[full_name]
        repo["pushed_at"] = repo["updated_at"] = _iso(now)
        repo["size"] += 1
        return shas

    def star(self, full_name: str) -> None:
        """Someone starred the repository."""
        self.repos[full_name]["stargazers_count"] += 1
        self.repos[full_name]["watchers_count"] += 1

    def fail_next(self, *responses: httpx.Response) -> None:
        """Answer the next requests with these responses instead (500s, 429s, garbage...)."""
        self._failures.extend(responses)

    # ---- serving ----------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        """The transport to give to `GitHubService(transport=...)`."""
        return httpx.MockTransport(self.handle)

    def _limit_headers(self, now: float) -> dict[str, str]:
        assert self.reset_at is not None
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.limit - self.remaining),
            "x-ratelimit-reset": str(int(self.reset_at)),
            "x-ratelimit-resource": "core",
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Serve one request like api.github.com would."""
        now = self._time()
        if self.reset_at is None or now >= self.reset_at:
            self.reset_at = now + self.window
            self.remaining = self.limit
        self.requests += 1
        path = request.url.path
        target = path + (f"?{request.url.query.decode()}" if request.url.query else "")
        if self._failures:
            response = self._failures.pop(0)
            self.log.append((target, response.status_code))
            return response
        if path == "/rate_limit":
            body = {
                "resources": {
                    "core": {
                        "limit": self.limit,
                        "remaining": self.remaining,
                        "reset": int(self.reset_at),
                        "used": self.limit - self.remaining,
                    }
                },
                "rate": {
                    "limit": self.limit,
                    "remaining": self.remaining,
                    "reset": int(self.reset_at),
                    "used": self.limit - self.remaining,
                },
            }
            self.log.append((target, 200))
            return httpx.Response(200, json=body, headers=self._limit_headers(now))
        if self.remaining <= 0:
            self.log.append((target, 403))
            return httpx.Response(
                403,
                headers=self._limit_headers(now),
                json={
                    "message": "API rate limit exceeded for user.",
                    "documentation_url": "https://docs.github.com/rest/rate-limit",
                },
            )
        status, payload, extra = self._route(request)
        content = msgspec.json.encode(payload)
        etag = 'W/"' + hashlib.sha1(content).hexdigest() + '"'
        authorised = "authorization" in request.headers
        if status == 200 and request.headers.get("if-none-match") == etag:
            # GitHub: an authorised conditional request answered 304 costs no point.
            if not authorised:
                self._charge(target)
            self.not_modified += 1
            self.log.append((target, 304))
            return httpx.Response(304, headers={"etag": etag, **extra, **self._limit_headers(now)})
        self._charge(target)
        self.log.append((target, status))
        headers = {"etag": etag, "content-type": "application/json; charset=utf-8", **extra}
        return httpx.Response(
            status, content=content, headers={**headers, **self._limit_headers(now)}
        )

    def _charge(self, target: str) -> None:
        self.points += 1
        self.remaining -= 1
        self.by_endpoint[re.sub(r"\?.*", "", target)] += 1

    def _route(self, request: httpx.Request) -> tuple[int, Any, dict[str, str]]:
        path = request.url.path
        query = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        missing: tuple[int, Any, dict[str, str]] = (
            404,
            {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
            {},
        )
        if path in ("/user/repos", f"/users/{self.username}/repos"):
            repos = sorted(self.repos.values(), key=lambda r: r["pushed_at"], reverse=True)
            return self._page(request, repos, query)
        if path == f"/users/{self.username}/events/public":
            return (
                200,
                self.events[: int(query.get("per_page", 30))],
                {"x-poll-interval": str(self.poll_interval)},
            )
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", path)
        if not match or match.group(1) not in self.repos:
            return missing
        full, rest = match.group(1), match.group(2) or ""
        if rest == "":
            return 200, self.repos[full], {}
        if rest == "/languages":
            return 200, self.languages[full], {}
        if rest == "/releases":
            return 200, self.releases[full], {}
        if rest == "/commits":
            items = [
                {k: v for k, v in c.items() if k not in ("stats", "files")}
                for c in self.commits[full][: int(query.get("per_page", 30))]
            ]
            return 200, items, {}
        sha = re.fullmatch(r"/commits/([0-9a-f]{40})", rest)
        if sha:
            for commit in self.commits[full]:
                if commit["sha"] == sha.group(1):
                    return 200, commit, {}
        return missing

    def _page(
        self, request: httpx.Request, items: list[Any], query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = max(1, min(100, int(query.get("per_page", 30))))
        page = max(1, int(query.get("page", 1)))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def url(n: int) -> str:
            params = dict(query, page=str(n))
            return str(request.url.copy_with(params=params))

        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links += [f'<{url(1)}>; rel="first"', f'<{url(page - 1)}>; rel="prev"']
        return 200, chunk, ({"link": ", ".join(links)} if links else {})
