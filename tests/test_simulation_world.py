"""The simulation world: deterministic, real-shaped, and read by the real clients."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import settings as settings_h
from hypothesis import strategies as st

from greenhouse.config import settings_from_mapping
from greenhouse.runtime import Clock
from greenhouse.services.github import GitHubService
from greenhouse.services.social import SocialService
from greenhouse.services.spotify import SpotifyService
from greenhouse.services.wakatime import WakaTimeService
from greenhouse.services.weather import WeatherService
from greenhouse.simulation.fake_apis import WorldAPI, demo_environment
from greenhouse.simulation.world import DAY, DEFAULT_START, HOUR, World


@pytest.fixture
def autojump() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def test_same_seed_same_world_different_seed_different_world():
    a, b, c = World(seed=1), World(seed=1), World(seed=2)
    window = (DEFAULT_START, DEFAULT_START + 7 * DAY)
    assert [r.name for r in a.repos] == [r.name for r in b.repos]
    commits_a = [c.sha for r in a.repos for c in a.commits_between(r.name, *window)]
    commits_b = [c.sha for r in b.repos for c in b.commits_between(r.name, *window)]
    assert commits_a == commits_b and commits_a
    assert [r.name for r in c.repos] != [r.name for r in a.repos] or commits_a != [
        x.sha for r in c.repos for x in c.commits_between(r.name, *window)
    ]
    assert a.weather(DEFAULT_START + 5 * HOUR) == b.weather(DEFAULT_START + 5 * HOUR)


def test_rhythms_weekdays_busier_than_weekends_and_new_projects_appear():
    world = World(seed=3)
    weekday = weekend = 0
    for week in range(8):
        for day in range(7):
            start = DEFAULT_START + (week * 7 + day) * DAY  # the start is a Monday
            n = sum(len(world.commits_between(r.name, start, start + DAY)) for r in world.repos)
            if day < 5:
                weekday += n
            else:
                weekend += n
    assert weekday / 5 > 1.5 * (weekend / 2)
    assert len(world.repositories(DEFAULT_START)) < len(world.repositories(DEFAULT_START + 60 * DAY))


def test_stars_never_decrease_and_latest_commits_are_newest_first():
    world = World(seed=4)
    repo = world.repos[0]
    stars = [world.stars(repo, DEFAULT_START + d * DAY) for d in range(60)]
    assert stars == sorted(stars)
    latest = world.latest_commits(repo.name, DEFAULT_START + 30 * DAY, limit=20)
    assert [c.at for c in latest] == sorted((c.at for c in latest), reverse=True)


def _latest_by_walking_back(world: World, name: str, until: float, limit: int) -> list[Any]:
    """What `latest_commits` answers, the slow way: walk back hour by hour every time."""
    repo = world.repo(name)
    assert repo is not None
    hour = int(until // HOUR)
    found = [c for c in reversed(world.commits_in_hour(name, hour)) if c.at <= until]
    stop = max(int(repo.created_at // HOUR), hour - 120 * 24)
    before: list[Any] = []
    for back in range(hour - 1, stop - 1, -1):
        before.extend(reversed(world.commits_in_hour(name, back)))
        if len(before) >= 300:
            break
    return (found + before[:300])[:limit]


@given(
    asks=st.lists(
        st.tuples(st.integers(0, 3), st.floats(-5 * DAY, 200 * DAY), st.integers(1, 300)),
        min_size=1,
        max_size=12,
    )
)
@settings_h(max_examples=15, deadline=None)
def test_latest_commits_are_the_newest_whatever_the_order_of_the_asks(
    asks: list[tuple[int, float, int]],
) -> None:
    """The walk back is kept and extended lazily: every answer is still the newest `limit`."""
    world = World(seed=11, liveliness=3.0)
    for index, offset, limit in asks:
        repo = world.repos[index]
        until = max(repo.created_at + 1, DEFAULT_START + offset)
        expected = _latest_by_walking_back(world, repo.name, until, limit)
        assert world.latest_commits(repo.name, until, limit) == expected
        for commit in expected[:3]:
            assert world.commit(repo.name, commit.sha, until) == commit
            assert world.commit(repo.name, commit.sha, commit.at - 1) is None


def settings():
    return settings_from_mapping(demo_environment())


async def test_real_github_client_reads_the_world_with_free_conditional_polls(autojump):
    clock = Clock(start_epoch=DEFAULT_START + 10 * DAY)
    api = WorldAPI(World(seed=5), clock.time)
    service = GitHubService(settings().github, transport=api.transport(), clock=clock)
    repos = await service.get_user_repositories()
    assert repos.error is None, repos.error
    names = {r.name for r in repos.data}
    assert names == {r.name for r in api.world.repositories(clock.time())}
    first = repos.data[0]
    commits = await service.get_repository_commits(first.full_name, limit=10)
    assert commits.error is None and commits.data
    languages = await service.get_repository_languages(first.full_name)
    assert languages.data == api.world.repo(first.name).languages
    points = api.github_points
    again = await service.get_user_repositories()
    assert again.from_cache and again.status_code == 304
    assert api.github_points == points  # a 304 costs nothing
    activity = await service.get_user_activity_summary(days=7)
    assert activity.error is None
    await service.aclose()


async def test_real_spotify_weather_wakatime_and_social_clients_read_the_world(autojump):
    clock = Clock(start_epoch=DEFAULT_START + 2 * DAY + 9 * HOUR)
    api = WorldAPI(World(seed=5), clock.time)
    transport = api.transport()
    s = settings()
    spotify = SpotifyService(s.spotify, transport=transport, clock=clock)
    playing = await spotify.get_currently_playing()
    assert playing.error is None
    recent = await spotify.get_recently_played(limit=10)
    assert recent.error is None
    mood = await spotify.analyze_current_mood()
    assert mood.error is None
    weather = WeatherService(s.weather, transport=transport, clock=clock)
    current = await weather.get_current_weather()
    assert current.error is None, current.error
    expected = api.world.weather(clock.time() - clock.time() % 600)
    assert current.data.main.temp == pytest.approx(expected.temperature)
    forecast = await weather.get_weather_forecast(days=2)
    assert forecast.error is None and len(forecast.data.entries) == 16
    waka = WakaTimeService(s, transport=transport, clock=clock)
    stats = await waka.get_stats("last_7_days")
    assert stats.error is None, stats.error
    social = SocialService(s, transport=transport, clock=clock)
    collection = await social.collect()
    assert collection is not None
    for client in (spotify, weather, waka):
        await client.aclose()
    await social.aclose()
    assert api.calls["spotify"] and api.calls["weather"] and api.calls["wakatime"]
    assert api.calls["social"]


async def test_faults_are_injected_and_the_clients_survive_them(autojump):
    clock = Clock(start_epoch=DEFAULT_START + DAY)
    api = WorldAPI(World(seed=6), clock.time, fault_rate=0.5)
    service = GitHubService(settings().github, transport=api.transport(), clock=clock)
    results = [await service.get_repository_languages(f"gardener/{r.name}")
               for r in api.world.repositories(clock.time())]
    assert sum(api.faults.values()) > 0
    assert all(r.error is None or r.status_code in (0, 429, 503) for r in results)
    await service.aclose()


async def test_unknown_paths_and_hosts_are_404():
    api = WorldAPI(World(), lambda: DEFAULT_START)
    async with httpx.AsyncClient(transport=api.transport()) as client:
        assert (await client.get("http://github.sim/nope")).status_code == 404
        assert (await client.get("http://elsewhere.sim/")).status_code == 404


def _state(response: httpx.Response) -> tuple[Any, ...]:
    return (
        response.status_code, response.headers.multi_items(), response.content,
        response.is_closed, response.is_stream_consumed, response.num_bytes_downloaded,
    )


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [(200, {"ETag": 'W/"abc"', "Content-Type": "application/json"}, b'{"a":1}'),
     (304, {"ETag": 'W/"abc"', "X-RateLimit-Used": "3"}, b""), (204, {}, b"")],
)
def test_the_worlds_responses_are_what_httpx_builds_from_content(status, headers, body):
    from greenhouse.simulation.fake_apis import _response

    built = httpx.Response(status, headers=headers, content=body or None)
    final = {**headers, "Content-Length": str(len(body))} if body else headers
    assert _state(_response(status, final, body)) == _state(built)


async def test_a_world_response_reads_and_closes_like_a_read_one():
    from greenhouse.simulation.fake_apis import _response

    response = _response(200, {"Content-Length": "2"}, b"{}")
    assert await response.aread() == b"{}" and response.json() == {}
    assert [chunk async for chunk in response.aiter_bytes()] == [b"{}"]
    await response.aclose()


_ASKED = [  # one request per kind of answer the world keeps or reuses between asks
    "http://github.sim/user/repos?per_page=100",
    "http://github.sim/users/gardener/events/public?per_page=100",
    "http://github.sim/repos/gardener/{repo}/commits?per_page=100&page=2",
    "http://weather.sim/data/2.5/weather?q=Lisbon&appid=k",
    "http://weather.sim/data/2.5/forecast?q=Lisbon&cnt=40&appid=k",
    "http://wakatime.sim/api/v1/users/current/summaries?start={week_ago}&end={today}",
    "http://wakatime.sim/api/v1/users/current/stats/last_7_days",
    "http://wakatime.sim/api/v1/users/current/durations?date={today}",
    "http://mastodon.sim/api/v1/accounts/1/statuses?limit=20",
    "http://feeds.sim/blog.xml",
]


def _ask(api: WorldAPI, url: str) -> httpx.Response:
    at = api.now()
    url = url.format(
        repo=api.world.repositories(at)[0].name,
        today=datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d"),
        week_ago=datetime.fromtimestamp(at - 6 * DAY, tz=UTC).strftime("%Y-%m-%d"),
    )
    auth = "Bearer sim-access-1" if "spotify" in url else "Basic a2V5"
    request = httpx.Request("GET", url, headers={"Authorization": auth})
    return trio.run(api.handle, request)


def _seen(response: httpx.Response) -> tuple[int, str | None, bytes]:
    return response.status_code, response.headers.get("etag"), response.content


def test_answers_kept_between_asks_are_what_a_fresh_world_answers():
    """The world keeps built answers (keyed by the state they show) and the parts of them
    that never change; asked again and again as time goes on, it must answer exactly what
    a world asked for the first time at that moment answers."""
    now = [DEFAULT_START + 3 * DAY]
    kept = WorldAPI(World(seed=3), lambda: now[0])
    steps = [0, 1, 599, 600, 1800, 3 * HOUR, 3 * HOUR + 7, 9 * HOUR, 14 * HOUR, DAY, DAY + 5]
    changed = set()
    for step in steps:
        now[0] = DEFAULT_START + 3 * DAY + step
        fresh = WorldAPI(World(seed=3), lambda: now[0])
        for url in _ASKED:
            answer = _seen(_ask(kept, url))
            assert answer[0] == 200, (url, answer)
            assert answer == _seen(_ask(fresh, url)), (url, step)
            changed.add((url, answer[1]))
    # Time went by: every kind of answer moved on at least once (so a stale one would show).
    assert all(sum(1 for u, _ in changed if u == url) > 1 for url in _ASKED)


def _canonical(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """What the world says, independent of the httpx version: error answers are encoded by
    httpx's `json=` (whose separators differ between the versions pyproject allows), so their
    JSON is re-encoded compactly and their Content-Length left out."""
    headers, body = response.headers.multi_items(), response.content
    if response.status_code >= 400:
        body = msgspec.json.encode(msgspec.json.decode(body))
        headers = [(name, value) for name, value in headers if name != "content-length"]
    return response.status_code, headers, body


def test_the_worlds_answers_are_the_recorded_ones():
    """Three days of asks at a 5 % fault rate, every answer (status, headers, body) hashed:
    the digest recorded on 2026-11-26 before the world's answers were cached (the code of
    then, 84dc0c3, gives the same). Speed work on the world must leave it alone; a change of
    what the world says must update it on purpose (and says so in its commit)."""
    now = [DEFAULT_START + 3 * DAY]
    api = WorldAPI(World(seed=3), lambda: now[0], fault_rate=0.05)
    spotify = ["http://api.spotify.sim/v1/me/player/currently-playing",
               "http://api.spotify.sim/v1/me/player/recently-played?limit=50"]
    digest = hashlib.sha256()
    for step in range(0, 3 * DAY, 1700):
        now[0] = DEFAULT_START + 3 * DAY + step
        for url in _ASKED + spotify:
            digest.update(repr(_canonical(_ask(api, url))).encode())
    assert digest.hexdigest() == "d75d37b850dcf37d6a32173329879d4895b16651fe3f4373cf029c448028f720"
