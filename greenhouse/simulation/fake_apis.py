"""The world's HTTP face: real-shaped API responses served through one httpx transport.

`WorldAPI(world, now)` answers GitHub, Spotify (accounts and Web API), OpenWeatherMap, WakaTime,
Mastodon and an RSS feed, each on its own host (`http://github.sim`, ...). Payloads start from
the real examples in `templates/` (copied from `shared/fixtures/real/`, provenance in
SOURCES.md there) with the world's values written in, so the real clients decode exactly what
the real APIs send. Like the real services it sends ETags and answers `If-None-Match` with 304,
sends GitHub's rate-limit headers and counts points the way GitHub does (an authorised 304 is
free), and, at `fault_rate`, answers 503s and 429s with `Retry-After`.

It also keeps score: calls and faults per service, and `limit_violations`, the requests that
arrived after the service had said its limit was spent (a correct client sends none).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import msgspec

from greenhouse.services.base import InProcessTransport

from .world import DAY, HOUR, SimCommit, SimRepo, SimTrack, World

__all__ = ["HOSTS", "SERVICE_OF_HOST", "WorldAPI", "demo_environment"]

TEMPLATES = Path(__file__).resolve().parent / "templates"

HOSTS = {
    "github": "http://github.sim",
    "spotify": "http://api.spotify.sim/v1",
    "spotify_accounts": "http://accounts.spotify.sim",
    "weather": "http://weather.sim",
    "wakatime": "http://wakatime.sim/api/v1",
    "mastodon": "http://mastodon.sim",
    "feeds": "http://feeds.sim",
}

GITHUB_HOURLY_POINTS = 5000
SERVICE_OF_HOST = {  # host -> the service it counts for
    "github.sim": "github",
    "api.spotify.sim": "spotify",
    "accounts.spotify.sim": "spotify",
    "weather.sim": "weather",
    "wakatime.sim": "wakatime",
    "mastodon.sim": "social",
    "feeds.sim": "social",
}


@cache
def _template_bytes(name: str) -> bytes:
    return (TEMPLATES / name).read_bytes()


def _template(name: str) -> Any:
    """A fresh, mutable copy of a real example payload (decoding beats deepcopy by ~10x)."""
    return msgspec.json.decode(_template_bytes(name))


@cache
def _shared(name: str) -> Any:
    """One decoded example payload, shared: read it, copy it (`dict(...)`), never change it."""
    return _template(name)


@cache
def _push_template() -> dict[str, Any]:
    """The example PushEvent (shared: clone it before changing it)."""
    return next(e for e in _shared("users.events.public.json") if e["type"] == "PushEvent")


def _roll(key: str) -> float:
    """A uniform number in [0, 1) that is a pure function of `key` (stable across runs)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _clone(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


@functools.lru_cache(maxsize=2048)  # the same moments come back in poll after poll
def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=1024)
def _day(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d")


@functools.lru_cache(maxsize=512)
def _day_range(day: int) -> dict[str, str]:
    """A WakaTime summary's `range` for epoch day `day` (shared: read it, never change it)."""
    start = datetime.fromtimestamp(day * DAY, tz=UTC)
    return {"start": start.isoformat().replace("+00:00", "Z"),
            "end": datetime.fromtimestamp((day + 1) * DAY - 1, tz=UTC).isoformat().replace("+00:00", "Z"),
            "date": start.strftime("%Y-%m-%d"), "text": start.strftime("%a %b %d"),
            "timezone": "UTC"}


def demo_environment(feeds: bool = True) -> dict[str, str]:
    """Environment variables that point every service at the world (for demo and simulate)."""
    env = {
        "GITHUB_TOKEN": "demo-github-token",
        "GITHUB_USERNAME": "gardener",
        "GITHUB_API_URL": HOSTS["github"],
        "GITHUB_WEBHOOK_SECRET": "demo-webhook-secret",
        "SPOTIFY_CLIENT_ID": "demo-client",
        "SPOTIFY_CLIENT_SECRET": "demo-client-secret",
        "SPOTIFY_REFRESH_TOKEN": "demo-refresh-token",
        "SPOTIFY_API_URL": HOSTS["spotify"],
        "SPOTIFY_ACCOUNTS_URL": HOSTS["spotify_accounts"],
        "OPENWEATHER_API_KEY": "demo-weather-key",
        "WEATHER_CITY": "Lisbon",
        "OPENWEATHER_API_URL": HOSTS["weather"],
        "WAKATIME_API_KEY": "demo-wakatime-key",
        "WAKATIME_API_URL": HOSTS["wakatime"],
        "MASTODON_BASE_URL": HOSTS["mastodon"],
        "MASTODON_ACCOUNT": "gardener",
    }
    if feeds:
        env["RSS_FEEDS"] = f"{HOSTS['feeds']}/blog.xml"
    return env


def _header_is(request: httpx.Request, name: bytes, value: bytes, prefix: bool = False) -> bool:
    """`request.headers.get(name, "") == value` (or `.startswith(value)`) for an ASCII `value`,
    read from the raw bytes: httpx's `get` first probes the encoding of every header (a new
    `Headers` for every request), several microseconds per look-up."""
    found = [raw for key, raw in request.headers.raw if key.lower() == name]
    got = found[0] if len(found) == 1 else b", ".join(found)
    return got.startswith(value) if prefix else got == value


@functools.lru_cache(maxsize=1024)
def _query(query: bytes) -> httpx.QueryParams:
    return httpx.QueryParams(query.decode("ascii"))


def _params(request: httpx.Request) -> httpx.QueryParams:
    """`request.url.params`, parsed once per distinct query (httpx parses at every access)."""
    return _query(request.url.query)


@functools.lru_cache(maxsize=1024)
def _without_page(url: httpx.URL) -> str:
    return str(url.copy_remove_param("page"))


def _response(status: int, headers: dict[str, str], body: bytes = b"") -> httpx.Response:
    """What `httpx.Response(status, headers=headers, content=body)` is once read, built without
    the read (about 15 us of httpx streaming a body it already holds through its decoders).

    `headers` must be final: with `Content-Length` where httpx would add it (last, for a
    non-empty body). tests/test_simulation_world.py checks it against httpx's own.
    """
    response = httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))
    response._content = body  # noqa: SLF001 - what `read()` leaves; the body is in memory
    response.is_stream_consumed = response.is_closed = True
    return response


def _json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    """An error or token answer, encoded by httpx itself (its JSON layout differs between
    versions; these are a few answers in a hundred, so its read of the body costs little)."""
    return httpx.Response(status, headers=headers, json=payload)


class WorldAPI:
    """One async httpx handler for every service of the world."""

    def __init__(
        self,
        world: World,
        now: Callable[[], float],
        *,
        fault_rate: float = 0.0,
        audio_features: bool = False,
        events_poll_interval: int = 60,
    ) -> None:
        self.world = world
        self.now = now
        self.fault_rate = fault_rate
        self.audio_features = audio_features
        self.calls: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.limit_violations: Counter[str] = Counter()
        self.github_points = 0
        self._github_window = -1
        self._github_used = 0
        self._fault_counts: Counter[str] = Counter()
        self._tokens_issued = 0
        self.events_poll_interval = events_poll_interval
        # Encoded answers keyed by the world state they show (see `_json_for`): polls that
        # find the world unchanged cost a dictionary look-up, not a payload build.
        self._encoded: dict[Any, tuple[bytes, str]] = {}
        self._feeds: dict[Any, tuple[bytes, dict[str, str]]] = {}  # the RSS feed, likewise
        self._repos: dict[tuple[int, int, float], msgspec.Raw] = {}  # see `_repo_raw`

    def transport(self) -> InProcessTransport:
        """An httpx transport that answers every world host (in this process: see
        `InProcessTransport`)."""
        return InProcessTransport(self.handle)

    # -- plumbing ----------------------------------------------------------------------------

    def _fault_roll(self, key: str) -> float:
        # Keyed by host, path and how often that path was asked: the same faults hit the same
        # requests whatever order concurrent pollers send them in.
        count = self._fault_counts[key] = self._fault_counts[key] + 1
        return _roll(f"{self.world.seed}:fault:{key}:{count}")

    async def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        service = SERVICE_OF_HOST.get(host)
        if service is None:
            return _json_response(404, {"message": f"no such host {host}"})
        self.calls[service] += 1
        path = request.url.path
        if service == "github":
            blocked = self._github_gate(path)
            if blocked is not None:
                return blocked
        if self.fault_rate and self._fault_roll(host + path) < self.fault_rate:
            self.faults[service] += 1
            if self._fault_roll(host + path) < 0.5:
                return _json_response(503, {"message": "simulated outage"})
            return _json_response(429, {"message": "simulated rate limit"}, {"Retry-After": "2"})
        try:
            if host == "github.sim":
                return self._github(request, path)
            if host == "accounts.spotify.sim":
                return self._spotify_token(request)
            if host == "api.spotify.sim":
                return self._spotify(request, path.removeprefix("/v1"))
            if host == "weather.sim":
                return self._weather(request, path)
            if host == "wakatime.sim":
                return self._wakatime(request, path.removeprefix("/api/v1"))
            if host == "mastodon.sim":
                return self._mastodon(request, path)
            return self._feed(request, path)
        except LookupError as missing:
            return _json_response(404, {"message": f"Not Found: {missing}"})

    def _json(
        self, request: httpx.Request, payload: Any, headers: dict[str, str] | None = None,
        service: str = "",
    ) -> httpx.Response:
        body = msgspec.json.encode(payload)
        etag = 'W/"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        return self._answer(request, body, etag, headers, service)

    @staticmethod
    def _kept(table: dict[Any, Any], key: Any, build: Callable[[], Any], limit: int) -> Any:
        """`table[key]`, built once; the table is emptied when full (its keys move on with
        time, and old ones are never asked again)."""
        found = table.get(key)
        if found is None:
            if len(table) >= limit:
                table.clear()
            found = table[key] = build()
        return found

    def _json_for(
        self, request: httpx.Request, key: Any, build: Callable[[], Any],
        headers: dict[str, str] | None = None, service: str = "",
    ) -> httpx.Response:
        """`_json` of `build()`, built and encoded once per `key` (the world state it shows)."""
        def encoded() -> tuple[bytes, str]:
            body = msgspec.json.encode(build())
            return body, 'W/"' + hashlib.sha1(body).hexdigest()[:20] + '"'

        body, etag = self._kept(self._encoded, key, encoded, 512)
        return self._answer(request, body, etag, headers, service)

    def _answer(
        self, request: httpx.Request, body: bytes, etag: str,
        headers: dict[str, str] | None, service: str,
    ) -> httpx.Response:
        all_headers = {"ETag": etag, "Content-Type": "application/json; charset=utf-8"}
        if headers:
            all_headers.update(headers)
        return self._conditional(request, body, all_headers, service)

    def _conditional(
        self, request: httpx.Request, body: bytes, all_headers: dict[str, str], service: str
    ) -> httpx.Response:
        """A 304 when the request holds the answer's ETag, else the 200 (GitHub charged as it
        charges); `all_headers` (with the ETag) is taken over, not copied."""
        if _header_is(request, b"if-none-match", all_headers["ETag"].encode()):
            self.not_modified[service or request.url.host] += 1
            status, body = 304, b""
        else:
            status = 200
            if body:  # where httpx's `content=` would put it
                all_headers["Content-Length"] = str(len(body))
        if service == "github":
            # GitHub charges one point per request, except an authorised conditional 304.
            if status != 304:
                self._github_used += 1
                self.github_points += 1
            all_headers.update(self._github_headers())
        return _response(status, all_headers, body)

    # -- GitHub ------------------------------------------------------------------------------

    def _github_headers(self) -> dict[str, str]:
        window = int(self.now() // HOUR)
        return {
            "X-RateLimit-Limit": str(GITHUB_HOURLY_POINTS),
            "X-RateLimit-Remaining": str(max(0, GITHUB_HOURLY_POINTS - self._github_used)),
            "X-RateLimit-Used": str(self._github_used),
            "X-RateLimit-Reset": str((window + 1) * HOUR),
            "X-RateLimit-Resource": "core",
        }

    def _github_gate(self, path: str) -> httpx.Response | None:
        window = int(self.now() // HOUR)
        if window != self._github_window:
            self._github_window, self._github_used = window, 0
        if path == "/rate_limit":
            return None  # free, as on GitHub
        if self._github_used >= GITHUB_HOURLY_POINTS:
            self.limit_violations["github"] += 1
            return _json_response(
                403, {"message": "API rate limit exceeded"}, self._github_headers()
            )
        return None

    def _repo_json(self, repo: SimRepo, at: float, full: bool = False) -> dict[str, Any]:
        owner = self.world.owner
        item = dict(_shared("users.repos.list.json")[0])
        stars = self.world.stars(repo, at)
        item.update(
            id=repo.id,
            node_id=f"R_{repo.id}",
            name=repo.name,
            full_name=f"{owner}/{repo.name}",
            html_url=f"https://github.com/{owner}/{repo.name}",
            description=repo.description,
            url=f"{HOSTS['github']}/repos/{owner}/{repo.name}",
            language=repo.language,
            forks_count=self.world.forks(repo, at),
            stargazers_count=stars,
            watchers_count=stars,
            size=sum(repo.languages.values()) // 1024,
            default_branch="main",
            open_issues_count=stars // 10,
            topics=list(repo.topics),
            pushed_at=_iso(self.world.pushed_at(repo, at)),
            created_at=_iso(repo.created_at),
            updated_at=_iso(self.world.pushed_at(repo, at)),
            visibility="public",
            private=False,
            fork=False,
            archived=False,
        )
        item["owner"] = dict(item["owner"], login=owner, id=1, html_url=f"https://github.com/{owner}")
        item.pop("template_repository", None)
        if full:
            item["subscribers_count"] = max(1, stars // 8)
        return item

    def _commit_json(self, commit: SimCommit, detail: bool = False) -> dict[str, Any]:
        owner = self.world.owner
        item = dict(_shared("repos.commits.list.json")[0])
        person = {"name": "Gardener", "email": "gardener@example.org", "date": _iso(commit.at)}
        item.update(
            sha=commit.sha,
            node_id=f"C_{commit.sha[:12]}",
            html_url=f"https://github.com/{owner}/{commit.repo}/commit/{commit.sha}",
            url=f"{HOSTS['github']}/repos/{owner}/{commit.repo}/commits/{commit.sha}",
        )
        item["commit"] = dict(
            item["commit"], message=commit.message, author=person, committer=person
        )
        item["author"] = dict(item["author"], login=owner, id=1)
        item["committer"] = dict(item["committer"], login=owner, id=1)
        if detail:
            per_file = max(1, len(commit.files))
            item["stats"] = {
                "additions": commit.additions,
                "deletions": commit.deletions,
                "total": commit.additions + commit.deletions,
            }
            item["files"] = [
                {
                    "filename": name,
                    "additions": commit.additions // per_file,
                    "deletions": commit.deletions // per_file,
                    "changes": (commit.additions + commit.deletions) // per_file,
                    "status": "modified",
                }
                for name in commit.files
            ]
        return item

    def _repo_raw(self, repo: SimRepo, shows: tuple[int, int, float], at: float) -> msgspec.Raw:
        """`_repo_json(repo, at)` encoded, once per what it `shows` (id, stars, pushed_at): all
        that it changes with."""
        return self._kept(
            self._repos, shows, lambda: msgspec.Raw(msgspec.json.encode(self._repo_json(repo, at))),
            512,
        )

    @functools.lru_cache(maxsize=2048)  # noqa: B019 - a commit's JSON never changes
    def _commit_raw(self, commit: SimCommit) -> msgspec.Raw:
        """`_commit_json(commit)` encoded, spliced as it is into the lists that show it."""
        return msgspec.Raw(msgspec.json.encode(self._commit_json(commit)))

    def _page(
        self, request: httpx.Request, items: list[Any], default: int = 30
    ) -> tuple[list[Any], dict[str, str]]:
        query = _params(request)
        per_page = max(1, min(100, int(query.get("per_page", default))))
        page = max(1, int(query.get("page", 1)))
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        headers: dict[str, str] = {}
        links = []
        base = _without_page(request.url)
        join = "&" if "?" in base else "?"
        if page < last:
            links.append(f'<{base}{join}page={page + 1}>; rel="next"')
            links.append(f'<{base}{join}page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{base}{join}page={page - 1}>; rel="prev"')
            links.append(f'<{base}{join}page=1>; rel="first"')
        if links:
            headers["Link"] = ", ".join(links)
        return chunk, headers

    def _github(self, request: httpx.Request, path: str) -> httpx.Response:
        at = self.now()
        parts = [p for p in path.split("/") if p]
        world = self.world
        if path == "/rate_limit":
            payload = (_template("rate_limit.json"))
            core = {
                "limit": GITHUB_HOURLY_POINTS,
                "remaining": max(0, GITHUB_HOURLY_POINTS - self._github_used),
                "reset": (int(at // HOUR) + 1) * HOUR,
                "used": self._github_used,
            }
            payload["resources"]["core"] = core
            payload["rate"] = core
            return self._json(request, payload, service="github")
        if parts[:1] == ["users"] and parts[2:] == ["repos"] or parts == ["user", "repos"]:
            listed = list(reversed(world.repositories(at)))
            # What a repository shows changes with its stars and its last push, not every second.
            state = tuple((r.id, world.stars(r, at), world.pushed_at(r, at)) for r in listed)
            chunk, headers = self._page(request, listed)
            key = ("repos", state, tuple(r.id for r in chunk))

            def build() -> list[msgspec.Raw]:
                shows = {entry[0]: entry for entry in state}
                return [self._repo_raw(r, shows[r.id], at) for r in chunk]

            return self._json_for(request, key, build, headers, "github")
        if parts[:1] == ["users"] and parts[2:] == ["events", "public"]:
            hour = int(at // HOUR)
            # The feed changes when a commit lands: keyed by the commits visible this hour.
            visible = tuple(
                sum(1 for c in world.commits_in_hour(r.name, hour) if c.at <= at)
                for r in world.repositories(at)
            )
            return self._json_for(
                request, ("events", hour, visible), lambda: self._events(at),
                {"X-Poll-Interval": str(self.events_poll_interval)}, "github",
            )
        if parts[:1] == ["repos"] and len(parts) >= 3:
            repo = world.repo(parts[2])
            if repo is None or repo.created_at > at:
                raise LookupError(path)
            rest = parts[3:]
            if not rest:
                return self._json(request, self._repo_json(repo, at, full=True), service="github")
            if rest == ["languages"]:
                return self._json(request, repo.languages, service="github")
            if rest == ["commits"]:
                query = _params(request)
                wanted = int(query.get("per_page", 30)) * int(query.get("page", 1))
                commits = world.latest_commits(repo.name, at, limit=min(300, wanted))
                since = query.get("since")
                if since:
                    floor = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp()
                    commits = [c for c in commits if c.at > floor]
                chunk, headers = self._page(request, [self._commit_raw(c) for c in commits])
                return self._json(request, chunk, headers, "github")
            if len(rest) == 2 and rest[0] == "commits":
                commit = world.commit(repo.name, rest[1], at)
                if commit is None:
                    raise LookupError(path)
                payload = self._commit_json(commit, detail=True)
                return self._json(request, payload, service="github")
            if rest == ["releases"]:
                releases = self._releases(repo, at)
                chunk, headers = self._page(request, releases)
                return self._json(request, chunk, headers, "github")
        raise LookupError(path)

    def _releases(self, repo: SimRepo, at: float) -> list[dict[str, Any]]:
        count = int(max(0.0, at - repo.created_at) // (45 * DAY))
        return [
            {
                "id": repo.id * 100 + n,
                "tag_name": f"v0.{n}.0",
                "name": f"v0.{n}.0",
                "draft": False,
                "prerelease": False,
                "created_at": _iso(repo.created_at + n * 45 * DAY),
                "published_at": _iso(repo.created_at + n * 45 * DAY),
                "html_url": f"https://github.com/{self.world.owner}/{repo.name}/releases/v0.{n}.0",
            }
            for n in range(count, 0, -1)
        ]

    def _events(self, at: float) -> list[dict[str, Any]]:
        """The public events feed: one PushEvent per repository-hour with commits, newest first."""
        hour = int(at // HOUR)
        current = self._push_events(hour, at)
        if len(current) < 30:
            current = current + self._past_events(hour)[: 30 - len(current)]
        return current[:30]

    @functools.lru_cache(maxsize=64)  # noqa: B019 - lives as long as the API object
    def _past_events(self, hour: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        back = hour - 1
        while len(events) < 30 and back > hour - 14 * 24:
            events.extend(self._hour_events(back))
            back -= 1
        return events

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - a finished hour's events never change
    def _hour_events(self, hour: int) -> list[dict[str, Any]]:
        return self._push_events(hour, (hour + 1) * HOUR - 1e-6)

    def _push_events(self, hour: int, at: float) -> list[dict[str, Any]]:
        template = _push_template()
        owner = self.world.owner
        events = []
        for repo in self.world.repositories(at):
            commits = [c for c in self.world.commits_in_hour(repo.name, hour) if c.at <= at]
            if not commits:
                continue
            event = _clone(template)
            event.update(id=str(hour * 1000 + repo.id % 1000), created_at=_iso(commits[-1].at))
            event["actor"] = dict(event["actor"], login=owner, id=1)
            event["repo"] = {
                "id": repo.id,
                "name": f"{owner}/{repo.name}",
                "url": f"{HOSTS['github']}/repos/{owner}/{repo.name}",
            }
            event["payload"] = {
                "push_id": hour,
                "size": len(commits),
                "distinct_size": len(commits),
                "ref": "refs/heads/main",
                "head": commits[-1].sha,
                "before": commits[0].sha,
                "commits": [
                    {
                        "sha": c.sha,
                        "message": c.message,
                        "distinct": True,
                        "author": {"name": "Gardener", "email": "gardener@example.org"},
                        "url": f"{HOSTS['github']}/repos/{owner}/{repo.name}/commits/{c.sha}",
                    }
                    for c in commits
                ],
            }
            events.append(event)
        return sorted(events, key=lambda e: e["created_at"], reverse=True)

    # -- Spotify -----------------------------------------------------------------------------

    def _spotify_token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        if form.get("grant_type") != ["refresh_token"] or not form.get("refresh_token"):
            return _json_response(400, {"error": "invalid_request"})
        if not _header_is(request, b"authorization", b"Basic ", prefix=True):
            return _json_response(401, {"error": "invalid_client"})
        self._tokens_issued += 1
        return _json_response(
            200,
            {
                "access_token": f"sim-access-{self._tokens_issued}",
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "user-read-currently-playing user-read-recently-played",
            },
        )

    def _track_json(self, track: SimTrack) -> dict[str, Any]:
        item = dict(_shared("currently-playing.spotify-web-api-js.json")["item"])
        item.update(
            id=track.id,
            name=track.name,
            duration_ms=track.duration_ms,
            popularity=track.popularity,
            uri=f"spotify:track:{track.id}",
            href=f"{HOSTS['spotify']}/tracks/{track.id}",
        )
        item["artists"] = [
            dict(item["artists"][0], id=track.artist_id, name=track.artist,
                 uri=f"spotify:artist:{track.artist_id}")
        ]
        item["album"] = dict(item["album"], name=track.album, id=track.id[::-1])
        return item

    @functools.lru_cache(maxsize=256)  # noqa: B019 - a track's JSON never changes
    def _track_raw(self, track: SimTrack) -> msgspec.Raw:
        return msgspec.Raw(msgspec.json.encode(self._track_json(track)))

    def _spotify(self, request: httpx.Request, path: str) -> httpx.Response:
        if not _header_is(request, b"authorization", b"Bearer sim-access-", prefix=True):
            return _json_response(
                401, {"error": {"status": 401, "message": "Invalid access token"}}
            )
        at = self.now()
        if path == "/me/player/currently-playing":
            playing = self.world.playing(at)
            if playing is None:
                return _response(204, {})
            track, progress, _ = playing
            payload = dict(_shared("currently-playing.spotify-web-api-js.json"))
            payload.update(
                timestamp=int(at * 1000), progress_ms=progress, is_playing=True,
                item=self._track_raw(track),
            )
            return self._json(request, payload, service="spotify")
        if path == "/me/player/recently-played":
            query = _params(request)
            limit = max(1, min(50, int(query.get("limit", 20))))
            after = float(query["after"]) / 1000 if "after" in query else at - 2 * DAY
            before = float(query["before"]) / 1000 if "before" in query else at
            plays = self.world.played_between(max(after, at - 7 * DAY), min(before, at))
            plays = plays[-limit:][::-1]
            payload = {
                "items": [
                    {"track": self._track_raw(t), "played_at": _iso(when), "context": None}
                    for t, when in plays
                ],
                "next": None,
                "cursors": (
                    {"after": str(int(plays[0][1] * 1000)), "before": str(int(plays[-1][1] * 1000))}
                    if plays
                    else None
                ),
                "limit": limit,
                "href": str(request.url),
            }
            return self._json(request, payload, service="spotify")
        if path == "/audio-features":
            if not self.audio_features:
                # What Spotify answers new and development-mode apps since 2024-11-27.
                return _json_response(403, {"error": {"status": 403, "message": "Forbidden"}})
            ids = _params(request).get("ids", "").split(",")
            by_id = {t.id: t for t in self.world.tracks}
            features: list[dict[str, Any] | None] = []
            for track_id in ids:
                known = by_id.get(track_id)
                if known is None:
                    features.append(None)
                    continue
                row = _template("audio-features.home-assistant.json")
                row.update(
                    id=known.id, valence=known.valence, energy=known.energy, tempo=known.tempo,
                    acousticness=known.acousticness, danceability=known.danceability,
                    duration_ms=known.duration_ms, uri=f"spotify:track:{known.id}",
                )
                features.append(row)
            return self._json(request, {"audio_features": features}, service="spotify")
        if path == "/artists":
            ids = _params(request).get("ids", "").split(",")
            artists = []
            for artist_id in ids:
                by = next((t for t in self.world.tracks if t.artist_id == artist_id), None)
                artists.append(
                    None
                    if by is None
                    else {"id": artist_id, "name": by.artist, "genres": [by.genre],
                          "popularity": by.popularity, "type": "artist"}
                )
            return self._json(request, {"artists": artists}, service="spotify")
        raise LookupError(path)

    # -- weather -----------------------------------------------------------------------------

    def _weather_json(self, at: float) -> dict[str, Any]:
        state = self.world.weather(at)
        payload = dict(_shared("weather.current.lisbon.captured.json"))
        payload.update(
            coord={"lon": self.world.longitude, "lat": self.world.latitude},
            weather=[{"id": state.condition_id, "main": state.main,
                      "description": state.description, "icon": state.icon}],
            main=dict(
                payload["main"], temp=state.temperature, feels_like=state.feels_like,
                temp_min=round(state.temperature - 1.5, 2), temp_max=round(state.temperature + 1.5, 2),
                pressure=state.pressure, humidity=state.humidity,
            ),
            wind={"speed": state.wind_speed, "deg": state.wind_deg},
            clouds={"all": state.clouds},
            dt=int(at),
            name=self.world.city,
            visibility=2000 if state.main in ("Mist", "Rain", "Snow") else 10000,
        )
        payload["sys"] = dict(payload["sys"], sunrise=int(state.sunrise), sunset=int(state.sunset))
        payload.pop("rain", None)
        payload.pop("snow", None)
        if state.rain_1h:
            payload["rain"] = {"1h": state.rain_1h}
        if state.snow_1h:
            payload["snow"] = {"1h": state.snow_1h}
        return payload

    def _weather(self, request: httpx.Request, path: str) -> httpx.Response:
        query = _params(request)
        if not query.get("appid"):
            return _json_response(401, {"cod": 401, "message": "Invalid API key."})
        at = self.now()
        # The model updates every 10 minutes: answers are the same within one.
        model_time = at - at % 600
        if path == "/data/2.5/weather":
            return self._json(request, self._weather_json(model_time), service="weather")
        if path == "/data/2.5/forecast":
            count = max(1, min(40, int(query.get("cnt", 40))))
            # The forecast moves on in 3-hour steps: one build per step, whoever asks.
            start = model_time - model_time % (3 * HOUR) + 3 * HOUR
            return self._json_for(
                request, ("forecast", start, count), lambda: self._forecast(start, count),
                service="weather",
            )
        raise LookupError(path)

    def _forecast(self, start: float, count: int) -> dict[str, Any]:
        template = _shared("forecast.5day3h.lisbon.captured.json")
        entries = [self._forecast_entry(start + n * 3 * HOUR) for n in range(count)]
        city = dict(
            template["city"], name=self.world.city,
            coord={"lat": self.world.latitude, "lon": self.world.longitude},
        )
        return {"cod": "200", "message": 0, "cnt": count, "list": entries, "city": city}

    @functools.lru_cache(maxsize=256)  # noqa: B019 - a forecast step shows one model time
    def _forecast_entry(self, moment: float) -> msgspec.Raw:
        """One 3-hour step of the forecast, encoded (each is in up to 40 forecasts)."""
        template = _shared("forecast.5day3h.lisbon.captured.json")
        now_json = self._weather_json(moment)
        entry = dict(template["list"][0])
        entry.update(
            dt=int(moment),
            main=dict(entry["main"], **{k: now_json["main"][k] for k in ("temp", "feels_like", "temp_min", "temp_max", "pressure", "humidity")}),
            weather=now_json["weather"],
            clouds=now_json["clouds"],
            wind=dict(entry.get("wind", {}), speed=now_json["wind"]["speed"], deg=now_json["wind"]["deg"]),
            dt_txt=datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%d %H:%M:%S"),
            sys={"pod": "d" if now_json["weather"][0]["icon"].endswith("d") else "n"},
        )
        entry.pop("rain", None)
        if "rain" in now_json:
            entry["rain"] = {"3h": now_json["rain"]["1h"] * 3}
        return msgspec.Raw(msgspec.json.encode(entry))

    # -- WakaTime ----------------------------------------------------------------------------

    @staticmethod
    def _named(seconds: dict[str, float]) -> list[dict[str, Any]]:
        total = sum(seconds.values()) or 1.0
        return [
            {"name": name, "total_seconds": secs, "percent": round(100 * secs / total, 2),
             "text": f"{int(secs // 3600)} hrs {int(secs % 3600 // 60)} mins"}
            for name, secs in sorted(seconds.items(), key=lambda kv: -kv[1])
        ]

    def _day_summary(self, day: int, until: float) -> dict[str, Any]:
        if (day + 1) * DAY <= until:
            return self._past_day_summary(day)  # a finished day no longer changes
        return self._summary_of(day, until)

    @functools.lru_cache(maxsize=512)  # noqa: B019 - read-only, shared by every answer
    def _past_day_summary(self, day: int) -> dict[str, Any]:
        return self._summary_of(day, (day + 1) * DAY)

    @functools.lru_cache(maxsize=64)  # noqa: B019
    def _past_day_raw(self, day: int) -> msgspec.Raw:
        return msgspec.Raw(msgspec.json.encode(self._past_day_summary(day)))

    def _summary_of(self, day: int, until: float) -> dict[str, Any]:
        projects = self.world.coding_seconds(day)
        if (day + 1) * DAY > until:  # today: only what has been coded so far
            done = max(0.0, min(1.0, (until - day * DAY) / DAY))
            projects = {k: v * done for k, v in projects.items() if v * done > 0}
        languages: dict[str, float] = {}
        for name, secs in projects.items():
            repo = self.world.repo(name)
            if repo:
                languages[repo.language] = languages.get(repo.language, 0.0) + secs
        total = sum(projects.values())
        return {
            "grand_total": {"total_seconds": total, "text": f"{int(total // 3600)} hrs {int(total % 3600 // 60)} mins",
                            "hours": int(total // 3600), "minutes": int(total % 3600 // 60),
                            "digital": f"{int(total // 3600)}:{int(total % 3600 // 60):02d}"},
            "range": _day_range(day),
            "projects": self._named(projects),
            "languages": self._named(languages),
            "editors": self._named({"VS Code": total}) if total else [],
            "categories": self._named({"Coding": total}) if total else [],
            "operating_systems": self._named({"Linux": total}) if total else [],
        }

    def _wakatime(self, request: httpx.Request, path: str) -> httpx.Response:
        if not _header_is(request, b"authorization", b"Basic ", prefix=True):
            return _json_response(401, {"error": "Unauthorized"})
        at = self.now()
        today = int(at // DAY)
        if path == "/users/current/status_bar/today":
            payload: dict[str, Any] = {"data": self._day_summary(today, at), "cached_at": _iso(at)}
            return self._json(request, payload, service="wakatime")
        if path == "/users/current/summaries":
            query = _params(request)
            start = datetime.fromisoformat(query.get("start", _day(at - 6 * DAY))).replace(tzinfo=UTC)
            end = datetime.fromisoformat(query.get("end", _day(at))).replace(tzinfo=UTC)
            first, last = int(start.timestamp() // DAY), min(today, int(end.timestamp() // DAY))
            summaries = [self._day_summary(d, at) for d in range(first, last + 1)]
            total = sum(d["grand_total"]["total_seconds"] for d in summaries)
            data = [
                self._past_day_raw(d) if (d + 1) * DAY <= at else summary
                for d, summary in zip(range(first, last + 1), summaries, strict=True)
            ]
            payload = {"data": data, "start": _iso(first * DAY), "end": _iso((last + 1) * DAY - 1),
                       "cumulative_total": {"seconds": total, "total_seconds": total, "text": ""}}
            return self._json(request, payload, service="wakatime")
        if path.startswith("/users/current/stats/"):
            span = {"last_7_days": 7, "last_30_days": 30, "last_6_months": 182, "last_year": 365}
            days = span.get(path.rsplit("/", 1)[-1], 7)
            summaries = [self._day_summary(d, at) for d in range(today - days + 1, today + 1)]
            projects: dict[str, float] = {}
            languages: dict[str, float] = {}
            for summary in summaries:
                for p in summary["projects"]:
                    projects[p["name"]] = projects.get(p["name"], 0.0) + p["total_seconds"]
                for lang in summary["languages"]:
                    languages[lang["name"]] = languages.get(lang["name"], 0.0) + lang["total_seconds"]
            total = sum(projects.values())
            best = max(summaries, key=lambda s: s["grand_total"]["total_seconds"])
            stats = dict(_shared("stats.last_7_days.waka-readme.json")["data"])  # top level replaced
            stats.update(
                range=path.rsplit("/", 1)[-1], status="ok", is_up_to_date=True,
                start=_iso((today - days + 1) * DAY), end=_iso(at), timezone="UTC",
                total_seconds=total, daily_average=total / days, days_including_holidays=days,
                human_readable_total=f"{int(total // 3600)} hrs", human_readable_daily_average=f"{int(total / days // 60)} mins",
                best_day={"date": best["range"]["date"], "total_seconds": best["grand_total"]["total_seconds"], "text": ""},
                projects=self._named(projects), languages=self._named(languages),
                editors=self._named({"VS Code": total}) if total else [],
                categories=self._named({"Coding": total}) if total else [],
                operating_systems=self._named({"Linux": total}) if total else [],
            )
            return self._json(request, {"data": stats}, service="wakatime")
        if path == "/users/current/durations":
            day_text = _params(request).get("date", _day(at))
            day = int(datetime.fromisoformat(day_text).replace(tzinfo=UTC).timestamp() // DAY)
            times, durations = self._day_durations(day)
            shown = bisect.bisect_right(times, at)  # what has been coded by now
            return self._json_for(
                request, ("durations", day, shown),
                lambda: {"data": durations[:shown], "start": _iso(day * DAY),
                         "end": _iso((day + 1) * DAY - 1), "timezone": "UTC"},
                service="wakatime",
            )
        raise LookupError(path)

    @functools.lru_cache(maxsize=64)  # noqa: B019 - a day's commits never change
    def _day_durations(self, day: int) -> tuple[list[float], list[dict[str, Any]]]:
        """The whole day's durations, oldest first, beside the times of their commits: what
        is shown at `at` is the prefix of commits at or before it."""
        found: list[tuple[float, dict[str, Any]]] = []
        for repo in self.world.repos:
            for commit in self.world.commits_between(repo.name, day * DAY, (day + 1) * DAY):
                found.append(
                    (commit.at, {"project": repo.name, "time": commit.at - 1800, "duration": 1700.0})
                )
        found.sort(key=lambda pair: pair[1]["time"])
        return [at for at, _ in found], [entry for _, entry in found]

    # -- social ------------------------------------------------------------------------------

    def _mastodon(self, request: httpx.Request, path: str) -> httpx.Response:
        at = self.now()
        if path == "/api/v1/instance":
            return self._json(request, {"uri": "mastodon.sim", "title": "Simulated"}, service="social")
        if path == "/api/v1/accounts/lookup":
            account = {"id": "1", "username": self.world.owner, "acct": self.world.owner,
                       "display_name": "Gardener", "followers_count": 120,
                       "following_count": 80, "statuses_count": 900}
            return self._json(request, account, service="social")
        if path == "/api/v1/accounts/1/statuses":
            limit = max(1, min(40, int(_params(request).get("limit", 20))))
            posts = self.world.posts_between(at - 30 * DAY, at)[-limit:][::-1]
            shown = []
            for post_id, when, text in posts:
                likes, boosts, replies = self._engagement(post_id)
                grown = min(1.0, (at - when) / DAY + 0.1)  # engagement arrives over a day
                shown.append(
                    (post_id, when, text, int(likes * grown), int(boosts * grown), int(replies))
                )
            # Built and encoded once per set of counts: they move a few times a day.
            key = ("statuses", *shown)
            return self._json_for(
                request, key, lambda: [self._status_counted(*post) for post in shown],
                service="social",
            )
        raise LookupError(path)

    @functools.lru_cache(maxsize=256)  # noqa: B019 - a post's JSON never changes; read-only
    def _status_json(self, post_id: str, when: float, text: str) -> dict[str, Any]:
        status = dict(_shared("mastodon.statuses.json")[0])
        status.update(
            id=post_id, created_at=_iso(when), content=f"<p>{text}</p>",
            url=f"https://mastodon.sim/@{self.world.owner}/{post_id}",
            uri=f"https://mastodon.sim/users/{self.world.owner}/statuses/{post_id}",
            tags=[{"name": w[1:], "url": f"https://mastodon.sim/tags/{w[1:]}"}
                  for w in text.split() if w.startswith("#")],
        )
        return status

    def _status_counted(
        self, post_id: str, when: float, text: str, likes: int, boosts: int, replies: int
    ) -> dict[str, Any]:
        return dict(
            self._status_json(post_id, when, text),
            favourites_count=likes, reblogs_count=boosts, replies_count=replies,
        )

    @functools.lru_cache(maxsize=256)  # noqa: B019
    def _engagement(self, post_id: str) -> tuple[float, float, float]:
        rng = random.Random(f"{self.world.seed}:likes:{post_id}")
        return rng.uniform(0, 20), rng.uniform(0, 5), rng.uniform(0, 4)

    def _feed(self, request: httpx.Request, path: str) -> httpx.Response:
        if path != "/blog.xml":
            raise LookupError(path)
        at = self.now()
        posts = self.world.posts_between(at - 60 * DAY, at)[::4][-15:][::-1]
        key = ("feed", *posts) if posts else ("feed", at)  # no posts: dated by `at`
        body, headers = self._kept(self._feeds, key, lambda: self._feed_body(posts, at), 64)
        return self._conditional(request, body, dict(headers), "social")

    def _feed_body(
        self, posts: list[tuple[str, float, str]], at: float
    ) -> tuple[bytes, dict[str, str]]:
        items = "".join(
            f"<item><title>{text.split(':')[0]}</title>"
            f"<link>http://feeds.sim/posts/{post_id}</link><guid>{post_id}</guid>"
            f"<pubDate>{format_datetime(datetime.fromtimestamp(when, tz=UTC), usegmt=True)}</pubDate>"
            f"<description>{text}</description></item>"
            for post_id, when, text in posts
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            "<title>The Gardener's Notes</title><link>http://feeds.sim/</link>"
            f"<description>Notes from the garden</description>{items}</channel></rss>"
        ).encode()
        etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        last = posts[0][1] if posts else at - 60 * DAY
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(datetime.fromtimestamp(last, tz=UTC), usegmt=True),
            "Content-Type": "application/rss+xml; charset=utf-8",
        }
        return body, headers
