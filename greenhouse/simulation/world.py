"""A seeded model of one developer's life, queried by time.

Everything is a pure function of `(seed, time)`: the world keeps no history, it recomputes what
happened in any hour from a random generator seeded with that hour's key (cached). So the same
seed always gives the same commits, tracks and weather, whatever order the pollers ask in, and
the world can answer "the 50 latest commits before t" without having simulated the past.

The rhythms:
* repositories with their own activity level; weekdays busier than weekends, working hours
  busier than nights; each repository has weeks of bursts and weeks of dormancy; new projects
  appear now and then (`created_at` after the world's start);
* stars and forks arrive over time (monotone);
* listening sessions in two-hour blocks whose chance follows the hour of day, tracks played
  back to back from a small catalogue;
* weather with a seasonal mean, a diurnal cycle, and conditions drawn per three-hour block
  (rain and storms more likely in winter, snow only when cold), sunrise and sunset from the day
  of the year and the latitude;
* coding time (WakaTime) that follows the commits of the day;
* social posts a few times a day.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

__all__ = ["SimCommit", "SimRepo", "SimTrack", "WeatherState", "World", "DEFAULT_START"]

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
DEFAULT_START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC).timestamp()  # a Monday morning

_LANGUAGES = ["Python", "TypeScript", "Rust", "Go", "JavaScript", "Shell", "HTML", "CSS", "C"]
_TOPICS = ["garden", "music", "cli", "data", "web", "iot", "raspberry-pi", "trio", "sqlite", "ml"]
_NAMES = [
    "digital-greenhouse", "moss-cli", "fern-api", "sprout-ui", "lichen-db", "bonsai-bot",
    "ivy-sync", "clover-notes", "willow-lights", "maple-metrics", "cedar-deploy", "orchid-art",
]
_MESSAGES = [
    "Fix flaky test in {area}", "Add {area} support", "Refactor {area}", "Update docs for {area}",
    "Speed up {area}", "Handle empty {area}", "Bump dependencies", "Tidy {area} module",
    "Initial {area} prototype", "Make {area} configurable",
]
_AREAS = ["parser", "scheduler", "cache", "viewer", "webhooks", "config", "storage", "metrics"]

_ARTISTS = [
    ("Nils Frahm", "neo-classical"), ("Bonobo", "downtempo"), ("Daft Punk", "french house"),
    ("Khruangbin", "psychedelic soul"), ("Radiohead", "alternative rock"),
    ("Tycho", "chillwave"), ("Caribou", "electronic"), ("Ólafur Arnalds", "ambient"),
    ("The Killers", "rock"), ("Fred again..", "house"), ("Bicep", "electronic"),
    ("Hiatus Kaiyote", "neo soul"),
]
_TRACK_WORDS = ["Morning", "Glass", "Signal", "Drift", "Bloom", "Static", "Echo", "Harbor",
                "Lantern", "Tide", "Orbit", "Velvet", "Ember", "Pulse", "Meadow", "Neon"]


_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
]


def _rng(*key: object) -> random.Random:
    # Seeding with a string uses SHA-512 of it: stable across runs and Python versions
    # (unlike hash(), which is salted per process).
    return random.Random(":".join(str(k) for k in key))


def _poisson(rng: random.Random, rate: float) -> int:
    if rate <= 0:
        return 0
    threshold, k, product = math.exp(-rate), 0, rng.random()
    while product > threshold:
        k += 1
        product *= rng.random()
    return k


@dataclass(frozen=True)
class SimRepo:
    """One project of the developer."""

    id: int
    name: str
    description: str
    language: str
    languages: dict[str, int]
    topics: tuple[str, ...]
    created_at: float
    activity: float  # mean commits per active weekday
    base_stars: int
    star_rate: float  # stars per day


@dataclass(frozen=True)
class SimCommit:
    """One commit."""

    sha: str
    repo: str
    at: float
    message: str
    additions: int
    deletions: int
    files: tuple[str, ...]


@dataclass(frozen=True)
class SimTrack:
    """One track of the listening catalogue."""

    id: str
    name: str
    artist: str
    artist_id: str
    genre: str
    album: str
    duration_ms: int
    popularity: int
    valence: float
    energy: float
    tempo: float
    acousticness: float
    danceability: float


@dataclass(frozen=True)
class WeatherState:
    """The weather at one moment."""

    temperature: float
    feels_like: float
    humidity: int
    pressure: int
    wind_speed: float
    wind_deg: int
    clouds: int
    condition_id: int
    main: str
    description: str
    icon: str
    rain_1h: float
    snow_1h: float
    sunrise: float
    sunset: float
    is_day: bool


class _WeatherDraws(NamedTuple):
    """The random part of one weather block (the rest follows the time of day and year)."""

    temperature: float
    roll: float
    clouds: int
    wind: float
    humidity: int
    pressure: float
    wind_deg: int


_BEFORE_MAX = 300  # the most commits `latest_commits` looks up before the current hour


@dataclass
class _Walk:
    """A repository's walk back through its hours: every commit in `[reached, hour)`, newest
    first (the window keeps it to 120 days of commits)."""

    hour: int
    found: list[SimCommit]
    reached: int


@dataclass(eq=False)  # identity hash: the lru caches key on the world
class World:
    """The seeded world; every query takes the time it is asked about."""

    seed: int = 7
    start: float = DEFAULT_START
    owner: str = "gardener"
    latitude: float = 38.72
    longitude: float = -9.14
    city: str = "Lisbon"
    repo_count: int = 6
    future_repos: int = 2
    # The demo turns these up so that something happens every real minute.
    liveliness: float = 1.0  # multiplies commit rates
    always_listening: bool = False
    weather_block_hours: int = 3
    repos: list[SimRepo] = field(init=False)
    tracks: list[SimTrack] = field(init=False)
    _before: dict[str, _Walk] = field(init=False, default_factory=dict, repr=False)
    # Every commit the world has told anyone about, by sha (GitHub serves any commit by sha).
    _by_sha: dict[str, SimCommit] = field(init=False, default_factory=dict, repr=False)
    _by_name: dict[str, SimRepo] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        rng = _rng(self.seed, "repos")
        names = rng.sample(_NAMES, self.repo_count + self.future_repos)
        self.repos = []
        for index, name in enumerate(names):
            if index < self.repo_count:
                created = self.start - rng.uniform(30, 900) * DAY
            else:  # a new project appears during the run
                created = self.start + rng.uniform(3, 40) * DAY
            langs = rng.sample(_LANGUAGES, rng.randint(1, 4))
            sizes = {lang: int(rng.lognormvariate(10, 1.2)) for lang in langs}
            primary = max(sizes, key=lambda lang: sizes[lang])
            self.repos.append(
                SimRepo(
                    id=100_000 + index,
                    name=name,
                    description=f"{name.replace('-', ' ').title()}: a project in the garden",
                    language=primary,
                    languages=dict(sorted(sizes.items(), key=lambda kv: -kv[1])),
                    topics=tuple(rng.sample(_TOPICS, rng.randint(0, 3))),
                    created_at=created,
                    activity=rng.choice([0.3, 0.8, 1.5, 3.0, 5.0]),
                    base_stars=int(rng.lognormvariate(2.0, 1.5)),
                    star_rate=rng.choice([0.01, 0.05, 0.2, 0.6]),
                )
            )
        self._by_name = {repo.name: repo for repo in reversed(self.repos)}  # the first wins
        trng = _rng(self.seed, "tracks")
        self.tracks = []
        for index in range(40):
            artist, genre = trng.choice(_ARTISTS)
            energy = trng.random()
            self.tracks.append(
                SimTrack(
                    id=hashlib.sha1(f"{self.seed}:track:{index}".encode()).hexdigest()[:22],
                    name=f"{trng.choice(_TRACK_WORDS)} {trng.choice(_TRACK_WORDS)}",
                    artist=artist,
                    artist_id=hashlib.sha1(artist.encode()).hexdigest()[:22],
                    genre=genre,
                    album=f"{trng.choice(_TRACK_WORDS)} Sessions",
                    duration_ms=trng.randint(150_000, 330_000),
                    popularity=trng.randint(20, 90),
                    valence=round(trng.random(), 3),
                    energy=round(energy, 3),
                    tempo=round(70 + energy * 90 + trng.uniform(-10, 10), 3),
                    acousticness=round(max(0.0, 1 - energy - trng.uniform(0, 0.3)), 3),
                    danceability=round(trng.uniform(0.2, 0.9), 3),
                )
            )

    # -- repositories and commits ------------------------------------------------------------

    def repositories(self, at: float) -> list[SimRepo]:
        """Repositories that exist at `at`, oldest first."""
        return sorted((r for r in self.repos if r.created_at <= at), key=lambda r: r.created_at)

    def repo(self, name: str) -> SimRepo | None:
        """The repository called `name`, if the world has one."""
        return self._by_name.get(name)

    @functools.lru_cache(maxsize=10_000)  # noqa: B019
    def _phase(self, name: str, week: int) -> float:
        # Weeks of bursts, normal work and dormancy, per repository.
        roll = _rng(self.seed, "phase", name, week).random()
        if roll < 0.2:
            return 0.0  # dormant
        if roll < 0.35:
            return 2.5  # burst
        return 1.0

    @functools.lru_cache(maxsize=200_000)  # noqa: B019 - the world lives as long as the run
    def commits_in_hour(self, name: str, hour: int) -> tuple[SimCommit, ...]:
        """Commits of repository `name` in hour number `hour` (epoch hours)."""
        repo = self._by_name.get(name)
        if repo is None or hour * HOUR < repo.created_at:
            return ()
        # The UTC weekday and hour of epoch hour `hour` (1970-01-01 was a Thursday, weekday 3).
        weekday = 1.0 if (hour // 24 + 3) % 7 < 5 else 0.35
        local_hour = (hour % 24 + round(self.longitude / 15)) % 24
        if 9 <= local_hour < 18:
            daypart = 2.2
        elif 18 <= local_hour < 23:
            daypart = 1.0
        else:
            daypart = 0.08
        rate = repo.activity / 24 * weekday * daypart * self._phase(name, hour * HOUR // WEEK)
        rate *= self.liveliness
        if hour * HOUR - repo.created_at < 3 * DAY:
            rate *= 3  # a new project gets a flurry of commits
        if rate <= 0:
            return ()
        rng = _rng(self.seed, "commits", name, hour)
        count = _poisson(rng, rate)
        commits = []
        for i in range(count):
            area = rng.choice(_AREAS)
            files = tuple(
                f"{rng.choice(['src', 'tests', 'docs'])}/{area}_{rng.randint(1, 9)}.py"
                for _ in range(rng.randint(1, 6))
            )
            commits.append(
                SimCommit(
                    sha=hashlib.sha1(f"{self.seed}:{name}:{hour}:{i}".encode()).hexdigest(),
                    repo=name,
                    at=hour * HOUR + rng.uniform(0, HOUR - 1),
                    message=rng.choice(_MESSAGES).format(area=area),
                    additions=int(rng.lognormvariate(3, 1.2)),
                    deletions=int(rng.lognormvariate(2, 1.2)),
                    files=files,
                )
            )
        for commit in commits:
            self._by_sha[commit.sha] = commit
        return tuple(sorted(commits, key=lambda c: c.at))

    def commit(self, name: str, sha: str, at: float) -> SimCommit | None:
        """The commit `sha` of repository `name`, if it exists at `at` and the world has listed
        it already (its hour was generated: a client asks only about commits it was shown)."""
        found = self._by_sha.get(sha)
        if found is None or found.repo != name or found.at > at:
            return None
        return found

    def commits_between(self, name: str, since: float, until: float) -> list[SimCommit]:
        """Commits with `since < at <= until`, oldest first."""
        found: list[SimCommit] = []
        for hour in range(int(since // HOUR), int(until // HOUR) + 1):
            commits = self.commits_in_hour(name, hour)
            if commits:  # most hours have none: no generator for them
                found.extend(c for c in commits if since < c.at <= until)
        return found

    def latest_commits(self, name: str, until: float, limit: int = 50) -> list[SimCommit]:
        """The `limit` newest commits at or before `until`, newest first (looks back 120 days)."""
        repo = self.repo(name)
        if repo is None:
            return []
        hour = int(until // HOUR)
        found = [c for c in reversed(self.commits_in_hour(name, hour)) if c.at <= until]
        if len(found) < limit:
            found.extend(self._commits_before(name, hour, limit - len(found)))
        return found[:limit]

    def _commits_before(self, name: str, hour: int, need: int) -> list[SimCommit]:
        """The `need` (at most 300) newest commits before hour `hour` within 120 days, newest
        first: the first `need` of the whole such list, however it was walked.

        The walk back is kept per repository and taken only as far as the answers have
        needed: a later hour adds the hours in between, a bigger `need` walks on from where it
        stopped, so a poll does not walk back through weeks of dormancy again.
        """
        repo = self.repo(name)
        assert repo is not None
        stop = max(int(repo.created_at // HOUR), hour - 120 * 24)
        walk = self._before.get(name)
        if walk is None or walk.hour > hour:  # a first walk, or one about the past (not kept)
            fresh = _Walk(hour=hour, found=[], reached=hour)
            if walk is None:
                self._before[name] = fresh
            walk = fresh
        elif walk.hour < hour:
            newer: list[SimCommit] = []
            for back in range(hour - 1, max(walk.hour, stop) - 1, -1):
                newer.extend(reversed(self.commits_in_hour(name, back)))
            newer.extend(c for c in walk.found if c.at >= stop * HOUR)
            # It held [reached, walk.hour); it now holds that within the window, and the rest.
            walk.found, walk.hour, walk.reached = newer, hour, max(walk.reached, stop)
        need = min(need, _BEFORE_MAX)
        back = walk.reached - 1
        while back >= stop and len(walk.found) < need:
            walk.found.extend(reversed(self.commits_in_hour(name, back)))
            back -= 1
        walk.reached = min(walk.reached, back + 1)
        return walk.found[:need]

    def stars(self, repo: SimRepo, at: float) -> int:
        """Stars of `repo` at `at` (never decreases)."""
        days = max(0.0, (at - max(repo.created_at, self.start - 60 * DAY)) / DAY)
        return repo.base_stars + int(repo.star_rate * days)

    def forks(self, repo: SimRepo, at: float) -> int:
        """Forks at `at`."""
        return self.stars(repo, at) // 6

    def pushed_at(self, repo: SimRepo, at: float) -> float:
        """Time of the newest commit at or before `at` (creation time when there is none)."""
        hour = int(at // HOUR)
        current = [c.at for c in self.commits_in_hour(repo.name, hour) if c.at <= at]
        return current[-1] if current else self._last_commit_before(repo.name, hour)

    @functools.lru_cache(maxsize=100_000)  # noqa: B019
    def _last_commit_before(self, name: str, hour: int) -> float:
        repo = self.repo(name)
        assert repo is not None
        start = int(repo.created_at // HOUR)
        # Walk back one hour at a time (memoised per hour, so a poll an hour later only looks
        # at the hour in between before finding this answer again).
        for back in range(hour - 1, start - 1, -1):
            commits = self.commits_in_hour(name, back)
            if commits:
                return commits[-1].at
        return repo.created_at

    # -- music -------------------------------------------------------------------------------

    @functools.lru_cache(maxsize=10_000)  # noqa: B019
    def _listening(self, block: int) -> bool:
        if self.always_listening:
            return True
        hour = (block * 2 + round(self.longitude / 15)) % 24
        chance = {0: 0.1, 2: 0.02, 4: 0.02, 6: 0.4, 8: 0.7, 10: 0.6, 12: 0.5, 14: 0.7,
                  16: 0.7, 18: 0.5, 20: 0.6, 22: 0.3}.get(hour - hour % 2, 0.3)
        return _rng(self.seed, "listen", block).random() < chance

    def playing(self, at: float) -> tuple[SimTrack, int, float] | None:
        """(track, progress_ms, started_at) playing at `at`, or None when nothing plays."""
        block = int(at // (2 * HOUR))
        if not self._listening(block):
            return None
        for started, end, track in self._playlist(block):
            if at < end:
                return track, int((at - started) * 1000), started
        raise AssertionError("a block's playlist covers the whole block")

    @functools.lru_cache(maxsize=64)  # noqa: B019 - Spotify polls ask about the same block
    def _playlist(self, block: int) -> tuple[tuple[float, float, SimTrack], ...]:
        # (start, end, track) back to back from the block's start past its end.
        rng = _rng(self.seed, "playlist", block)
        moment: float = block * 2 * HOUR
        plays = []
        while moment < (block + 1) * 2 * HOUR:
            track = rng.choice(self.tracks)
            end = moment + track.duration_ms / 1000
            plays.append((moment, end, track))
            moment = end
        return tuple(plays)

    def played_between(self, since: float, until: float) -> list[tuple[SimTrack, float]]:
        """(track, played_at) for tracks that finished in (since, until], oldest first."""
        plays: list[tuple[SimTrack, float]] = []
        for block in range(int(since // (2 * HOUR)), int(until // (2 * HOUR)) + 1):
            if not self._listening(block):
                continue
            rng = _rng(self.seed, "playlist", block)
            moment: float = block * 2 * HOUR
            block_end = moment + 2 * HOUR
            while moment < block_end:
                track = rng.choice(self.tracks)
                moment += track.duration_ms / 1000
                if since < moment <= until:
                    plays.append((track, moment))
                if moment > until:
                    break
        return plays

    # -- weather -----------------------------------------------------------------------------

    def _sun(self, at: float) -> tuple[float, float]:
        return self._sun_on(at - at % DAY)

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - the same for every moment of a day
    def _sun_on(self, midnight: float) -> tuple[float, float]:
        day_of_year = datetime.fromtimestamp(midnight, tz=UTC).timetuple().tm_yday
        declination = math.radians(23.44) * math.sin(2 * math.pi * (284 + day_of_year) / 365)
        lat = math.radians(self.latitude)
        cos_hour = -math.tan(lat) * math.tan(declination)
        half_day = math.degrees(math.acos(max(-1.0, min(1.0, cos_hour)))) / 15 * HOUR
        solar_noon = midnight + 12 * HOUR - self.longitude / 15 * HOUR
        return solar_noon - half_day, solar_noon + half_day

    @functools.lru_cache(maxsize=1024)  # noqa: B019
    def _season(self, midnight: float) -> float:
        day = datetime.fromtimestamp(midnight, tz=UTC).timetuple().tm_yday
        north = self.latitude >= 0
        return math.cos(2 * math.pi * (day - (200 if north else 15)) / 365)  # 1 = midsummer

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - every moment of a block draws these
    def _weather_draws(self, block: int) -> _WeatherDraws:
        # Drawn in the order `weather` has always drawn them from the block's generator.
        rng = _rng(self.seed, "weather", self.weather_block_hours, block)
        temperature, roll, clouds, wind = (
            rng.gauss(0, 1.5), rng.random(), rng.randint(0, 10), rng.gauss(3.5, 2.0)
        )
        humidity, pressure, wind_deg = rng.randint(-10, 10), rng.gauss(0, 6), rng.randint(0, 359)
        return _WeatherDraws(temperature, roll, clouds, wind, humidity, pressure, wind_deg)

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - polls ask on 10-minute and 3-hour marks
    def weather(self, at: float) -> WeatherState:
        """The weather at `at`."""
        season = self._season(at - at % DAY)
        sunrise, sunset = self._sun(at)
        local_hour = ((at % DAY) / HOUR + self.longitude / 15) % 24
        diurnal = math.cos(2 * math.pi * (local_hour - 15) / 24)
        draws = self._weather_draws(int(at // (self.weather_block_hours * HOUR)))
        temperature = 16 + 7 * season + 5 * diurnal + draws.temperature
        wet = 0.35 - 0.2 * season
        roll = draws.roll
        if roll < wet * 0.15:
            cid, main, desc, icon = 211, "Thunderstorm", "thunderstorm", "11"
        elif roll < wet * 0.6:
            cid, main, desc, icon = 500, "Rain", "light rain", "10"
        elif roll < wet:
            cid, main, desc, icon = 502, "Rain", "heavy intensity rain", "10"
        elif roll < wet + 0.08:
            cid, main, desc, icon = 701, "Mist", "mist", "50"
        elif roll < wet + 0.35:
            cid, main, desc, icon = 803, "Clouds", "broken clouds", "04"
        elif roll < wet + 0.5:
            cid, main, desc, icon = 801, "Clouds", "few clouds", "02"
        else:
            cid, main, desc, icon = 800, "Clear", "clear sky", "01"
        if temperature < 1.5 and main in ("Rain", "Thunderstorm"):
            cid, main, desc, icon = 601, "Snow", "snow", "13"
        is_day = sunrise <= at < sunset
        clouds = {"Clear": 0, "Clouds": 60, "Mist": 90}.get(main, 90) + draws.clouds
        wind = abs(draws.wind) + (6 if main == "Thunderstorm" else 0)
        rain = {500: 0.6, 502: 6.0, 211: 12.0}.get(cid, 0.0)
        return WeatherState(
            temperature=round(temperature, 2),
            feels_like=round(temperature - wind * 0.4, 2),
            humidity=min(100, int(55 + 30 * wet + draws.humidity + (25 if rain else 0))),
            pressure=int(1015 + draws.pressure),
            wind_speed=round(wind, 2),
            wind_deg=draws.wind_deg,
            clouds=min(100, clouds),
            condition_id=cid,
            main=main,
            description=desc,
            icon=icon + ("d" if is_day else "n"),
            rain_1h=rain,
            snow_1h=1.0 if main == "Snow" else 0.0,
            sunrise=sunrise,
            sunset=sunset,
            is_day=is_day,
        )

    # -- visitors ---------------------------------------------------------------------------

    def visits_in_hour(self, hour: int) -> list[tuple[float, str, str, str]]:
        """(at, ip, user agent, path) for garden visitors in epoch hour `hour`.

        Daily waves: few at night, a peak in the evening. Addresses come from the documentation
        ranges (RFC 5737 / RFC 3849), a pool of 300 regulars, so some visitors return.
        """
        rng = _rng(self.seed, "visits", hour)
        local_hour = (hour + round(self.longitude / 15)) % 24
        wave = 0.3 + 2.7 * max(0.0, math.sin(math.pi * (local_hour - 7) / 16))
        visits = []
        for _ in range(_poisson(rng, wave)):
            person = rng.randrange(300)
            ip = f"203.0.113.{person % 250}" if person % 3 else f"2001:db8::{person:x}"
            agent = _AGENTS[person % len(_AGENTS)]
            for page in range(rng.randint(1, 3)):
                repo = rng.choice(self.repos)
                path = "/" if page == 0 else f"/plants/{repo.name}"
                visits.append((hour * HOUR + rng.uniform(0, HOUR - 1), ip, agent, path))
        return sorted(visits)

    # -- coding time and social --------------------------------------------------------------

    @functools.lru_cache(maxsize=10_000)  # noqa: B019
    def coding_seconds(self, day: int) -> dict[str, float]:
        """Seconds coded per project on epoch day number `day` (follows that day's commits)."""
        rng = _rng(self.seed, "coding", day)
        seconds: dict[str, float] = {}
        for repo in self.repos:
            commits = self.commits_between(repo.name, day * DAY - 1e-9, (day + 1) * DAY - 1e-9)
            if commits:
                seconds[repo.name] = sum(rng.uniform(900, 2700) for _ in commits)
        return seconds

    def posts_between(self, since: float, until: float) -> list[tuple[str, float, str]]:
        """(post id, posted_at, text) for social posts in (since, until], oldest first."""
        times, posts = self._posts_in_days(int(since // DAY), int(until // DAY))
        return posts[bisect.bisect_right(times, since) : bisect.bisect_right(times, until)]

    @functools.lru_cache(maxsize=64)  # noqa: B019 - feeds ask about the same weeks all day
    def _posts_in_days(
        self, first: int, last: int
    ) -> tuple[list[float], list[tuple[str, float, str]]]:
        posts = sorted(
            (post for day in range(first, last + 1) for post in self._posts_on(day)),
            key=lambda p: p[1],
        )
        return [post[1] for post in posts], posts

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - feeds ask about the same weeks again
    def _posts_on(self, day: int) -> tuple[tuple[str, float, str], ...]:
        rng = _rng(self.seed, "posts", day)
        posts = []
        for i in range(_poisson(rng, 2.0)):
            at = day * DAY + rng.uniform(7 * HOUR, 23 * HOUR)
            repo = rng.choice(self.repos)
            topic = rng.choice(list(repo.topics) or [repo.language.lower()])
            text = f"Working on {repo.name} today: {rng.choice(_AREAS)} and #{topic}"
            posts.append((f"{day}{i:02d}", at, text))
        return tuple(posts)
