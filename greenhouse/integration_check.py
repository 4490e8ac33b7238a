"""`python run.py check`: every configured service's health check and one real read, then the
engines on what came back, as one table per subsystem.

Each step is timed and bounded (`step_timeout`); an exception or an error response becomes a
`failed` row with the error in one line (clients already scrub their secrets; the check scrubs
every configured secret again). A service with no credentials is `not configured` unless a
transport is injected for it (tests; the demo world once the simulation exists). The report
`failed` is True when any configured service failed, which `run.py` turns into exit code 1.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import msgspec
import trio

from greenhouse.config import IntegrationSettings, Secret
from greenhouse.runtime.clock import Clock
from greenhouse.services.base import RetryPolicy

__all__ = [
    "CheckReport",
    "CheckRow",
    "format_report",
    "run_check_for_settings",
    "run_demo_check",
    "run_integration_check",
]

SERVICES = ("github", "spotify", "weather", "wakatime", "social")
# A check reports rather than waits: one quick retry, and a long Retry-After is a failure.
CHECK_RETRY = RetryPolicy(max_retries=1, backoff_base=0.2, backoff_cap=1.0, max_rate_limit_wait=10.0)
OK, FAILED, NOT_CONFIGURED, SKIPPED = "ok", "failed", "not configured", "skipped"


class CheckRow(msgspec.Struct, frozen=True, kw_only=True):
    """One step of one subsystem."""

    subsystem: str
    step: str
    status: str
    millis: float = 0.0
    detail: str = ""
    error: str | None = None


class CheckReport(msgspec.Struct, kw_only=True):
    """All rows, in order."""

    rows: list[CheckRow] = msgspec.field(default_factory=list)
    demo: bool = False  # True when the services were the simulated demo world

    @property
    def configured(self) -> list[str]:
        """Services that were checked (configured or injected)."""
        return sorted(
            {r.subsystem for r in self.rows if r.subsystem in SERVICES and r.status != NOT_CONFIGURED}
        )

    @property
    def failed(self) -> bool:
        """True when any checked service (or engine) failed."""
        return any(r.status == FAILED for r in self.rows)


def _one_line(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return " ".join(text.split())[:200]


def _secrets(settings: IntegrationSettings) -> list[str]:
    found: list[str] = []
    for section in settings.service_configs().values():
        for name in section.__struct_fields__:
            value = getattr(section, name)
            if isinstance(value, Secret) and value:
                found.append(value.get())
    return found


class _Checker:
    """Runs steps, times them, and records rows."""

    def __init__(self, settings: IntegrationSettings, timeout: float) -> None:
        self.report = CheckReport()
        self.timeout = timeout
        self.secrets = _secrets(settings)

    async def step(
        self,
        subsystem: str,
        step: str,
        action: Callable[[], Awaitable[tuple[bool, str, str | None]]],
    ) -> bool:
        """Run `action` -> (ok, detail, error); record a row; True when it went well."""
        started = time.perf_counter()  # real elapsed time: this is a report for a person
        ok, detail, error = False, "", None
        with trio.move_on_after(self.timeout) as scope:
            try:
                ok, detail, error = await action()
            except Exception as exc:  # a check must report, never crash
                ok, error = False, f"{type(exc).__name__}: {exc}"
        if scope.cancelled_caught:
            ok, error = False, f"timed out after {self.timeout:g}s"
        self.report.rows.append(
            CheckRow(
                subsystem=subsystem,
                step=step,
                status=OK if ok else FAILED,
                millis=(time.perf_counter() - started) * 1000.0,
                detail=_one_line(detail, self.secrets),
                error=_one_line(error, self.secrets) if error else None,
            )
        )
        return ok

    def mark(self, subsystem: str, step: str, status: str, detail: str = "") -> None:
        self.report.rows.append(CheckRow(subsystem=subsystem, step=step, status=status, detail=detail))


async def _health(client: Any) -> tuple[bool, str, str | None]:
    health = await client.health_check()
    return health.available, f"HTTP {health.status_code}" if health.status_code else "", health.error


def _make_client(name: str, settings: IntegrationSettings, **kwargs: Any) -> Any:
    if name == "github":
        from greenhouse.services.github import GitHubService

        return GitHubService(settings.github, **kwargs)
    if name == "spotify":
        from greenhouse.services.spotify import SpotifyService

        return SpotifyService(settings.spotify, **kwargs)
    if name == "weather":
        from greenhouse.services.weather import WeatherService

        return WeatherService(settings.weather, **kwargs)
    if name == "wakatime":
        from greenhouse.services.wakatime import WakaTimeService

        return WakaTimeService(settings.wakatime, **kwargs)
    from greenhouse.services.social import SocialService

    return SocialService(settings.social, **kwargs)


async def _read(name: str, client: Any, results: dict[str, Any]) -> tuple[bool, str, str | None]:
    """One real read per service; what came back is kept for the engines."""
    if name == "github":
        repos = await client.get_user_repositories()
        if not repos.ok:
            return False, "", repos.error
        results["github"] = repos.data
        return True, f"{len(repos.data)} repositories", None
    if name == "spotify":
        mood = await client.analyze_current_mood()
        if not mood.ok:
            return False, "", mood.error
        results["spotify"] = mood.data
        what = mood.data.track or "nothing playing"
        return True, f"{what}; mood {mood.data.label} (confidence {mood.data.confidence:.2f})", None
    if name == "weather":
        current = await client.get_current_weather()
        if not current.ok:
            return False, "", current.error
        results["weather"] = (current.data, client.units)
        reading = current.data
        return True, f"{reading.name or 'here'}: {reading.condition.main}, {reading.main.temp:g}", None
    if name == "wakatime":
        metrics = await client.get_productivity_metrics(days=7)
        if not metrics.ok:
            return False, "", metrics.error
        results["wakatime"] = metrics.data
        top = metrics.data.top_projects[0].name if metrics.data.top_projects else "no project"
        hours = metrics.data.today_seconds / 3600.0
        return True, f"{hours:.1f} h today, top project {top}", None
    collection = await client.collect()
    results["social"] = collection
    detail = f"{len(collection.posts)} posts from {len(collection.sources)} sources"
    if collection.failures:
        return False, detail, "; ".join(collection.failures.values())
    return True, detail, None


def _celsius(value: float, units: str) -> float:
    if units == "imperial":
        return (value - 32.0) * 5.0 / 9.0
    if units == "standard":
        return value - 273.15
    return value


async def _engines(checker: _Checker, results: dict[str, Any], now: float) -> None:
    """The growth and mood engines on what the services returned (when the engines exist)."""
    try:
        from greenhouse.engines import growth, mood
    except ImportError:  # engines not landed: nothing to run
        checker.mark("engines", "-", SKIPPED, "engines not installed")
        return

    async def run_growth() -> tuple[bool, str, str | None]:
        from greenhouse.models import parse_github_time

        coding = {}
        if "wakatime" in results:
            coding = {p.name: p.seconds for p in results["wakatime"].top_projects}
        stages: dict[str, int] = {}
        for repo in results["github"]:
            snapshot = growth.ProjectSnapshot(
                name=repo.name,
                created_at=parse_github_time(repo.created_at),
                pushed_at=parse_github_time(repo.pushed_at),
                stars=repo.stargazers_count,
                forks=repo.forks_count,
                watchers=repo.watchers_count,
                topics=tuple(repo.topics),
                coding_seconds=coding.get(repo.name),
            )
            plant = growth.calculate_project_growth(snapshot, now, predict=False)
            stages[plant.stage] = stages.get(plant.stage, 0) + 1
        summary = ", ".join(f"{count} {stage}" for stage, count in sorted(stages.items()))
        return True, f"{len(results['github'])} plants: {summary or 'none'}", None

    async def run_mood() -> tuple[bool, str, str | None]:
        music = weather = productivity = None
        if "spotify" in results:
            m = results["spotify"]
            music = mood.MusicSignal(
                at=now, is_playing=m.is_playing, valence=m.valence, energy=m.energy,
                tempo=m.tempo, confidence=m.confidence, track=m.track,
            )
        if "weather" in results:
            w, units = results["weather"]
            weather = mood.WeatherSignal(
                at=now,
                condition=w.condition.main,
                temperature=_celsius(w.main.temp, units),
                clouds=w.clouds.all,
                rain_mm_h=w.rain.one_hour if w.rain else None,
                snow_mm_h=w.snow.one_hour if w.snow else None,
                wind_speed=w.wind.speed,
                sunrise=w.sys.sunrise,
                sunset=w.sys.sunset,
                latitude=w.coord.lat if w.coord else None,
            )
        if "wakatime" in results:
            p = results["wakatime"]
            productivity = mood.ProductivitySignal(
                at=now,
                recent_seconds=p.today_seconds,
                baseline_seconds=p.daily_average_seconds or None,
                project_seconds={t.name: t.seconds for t in p.top_projects},
            )
        synthesis = mood.synthesize_current_mood(
            mood.MoodInputs(music=music, weather=weather, productivity=productivity), now
        )
        used = ", ".join(sorted(synthesis.sources))
        return True, f"{synthesis.atmosphere}, energy {synthesis.energy:.2f} ({used})", None

    if "github" in results:
        await checker.step("engines", "growth", run_growth)
    else:
        checker.mark("engines", "growth", SKIPPED, "no repositories came back")
    if any(k in results for k in ("spotify", "weather", "wakatime")):
        await checker.step("engines", "mood", run_mood)
    else:
        checker.mark("engines", "mood", SKIPPED, "no music, weather or coding data came back")

    async def run_trends() -> tuple[bool, str, str | None]:
        from greenhouse.trends import analyze_tech_trends

        repos = results.get("github", [])
        languages = [r.language for r in repos if r.language]
        topics = [t for r in repos for t in r.topics]
        trends = analyze_tech_trends(
            results["social"].posts, now, 7, repo_languages=languages, repo_topics=topics
        )
        top = ", ".join(f"{t.term} {t.count}" for t in trends.topics[:3]) or "no topics"
        mine = ", ".join(trends.matching_your_work) or "none"
        return True, f"{trends.posts} posts this week; top {top}; matching your repos: {mine}", None

    if "social" in results:
        await checker.step("engines", "trends", run_trends)
    else:
        checker.mark("engines", "trends", SKIPPED, "no social data came back")


async def run_integration_check(
    settings: IntegrationSettings,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    clock: Clock | None = None,
    step_timeout: float = 30.0,
) -> CheckReport:
    """Health check and one read per configured service, then the engines; never raises."""
    transports = dict(transports or {})
    clock = clock or Clock()
    checker = _Checker(settings, step_timeout)
    results: dict[str, Any] = {}
    for name in SERVICES:
        if not settings.is_configured(name) and name not in transports:
            checker.mark(name, "-", NOT_CONFIGURED)
            continue
        client: Any = None

        async def build(name: str = name) -> tuple[bool, str, str | None]:
            nonlocal client
            client = _make_client(
                name, settings, transport=transports.get(name), clock=clock, retry=CHECK_RETRY
            )
            return True, "", None

        if not await checker.step(name, "client", build):
            continue
        try:
            await checker.step(name, "health", functools.partial(_health, client))
            await checker.step(name, "read", functools.partial(_read, name, client, results))
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await client.aclose()
    if results:
        await _engines(checker, results, clock.time())
    return checker.report


async def run_demo_check(
    *, clock: Clock | None = None, step_timeout: float = 30.0
) -> CheckReport | None:
    """The same check against the simulated world (demo mode); None when it is not installed."""
    try:
        from greenhouse.config import settings_from_mapping
        from greenhouse.simulation.fake_apis import WorldAPI, demo_environment
        from greenhouse.simulation.world import World
    except ImportError:
        return None
    clock = clock or Clock()
    transport = WorldAPI(World(), clock.time).transport()
    report = await run_integration_check(
        settings_from_mapping(demo_environment()),
        transports={name: transport for name in SERVICES},
        clock=clock,
        step_timeout=step_timeout,
    )
    report.demo = True
    return report


async def run_check_for_settings(settings: IntegrationSettings) -> CheckReport:
    """`run.py check`: the configured services, or the demo world when none is configured."""
    if not settings.get_enabled_services():
        demo = await run_demo_check()
        if demo is not None:
            return demo
    return await run_integration_check(settings)


def format_report(report: CheckReport) -> str:
    """The report as a table per subsystem, for a terminal."""
    if not report.configured:
        return (
            "Digital Greenhouse integration check\n\n"
            "Nothing is configured: no API keys are set (see README, 'Configuration').\n"
            "Set e.g. GITHUB_TOKEN + GITHUB_USERNAME, WAKATIME_API_KEY or RSS_FEEDS and run again."
        )
    lines = ["Digital Greenhouse integration check"]
    if report.demo:
        lines.append("No API keys are set: the real clients are checked against the demo world.")
    lines.append("")
    current = None
    for row in report.rows:
        if row.subsystem != current:
            current = row.subsystem
            lines.append(current)
        timing = f"{row.millis:8.0f} ms" if row.millis and not math.isnan(row.millis) else " " * 11
        text = row.error if row.error else row.detail
        if row.error and row.detail:
            text = f"{row.detail}: {row.error}"
        lines.append(f"  {row.step:<8} {row.status:<15}{timing}  {text}".rstrip())
    checked = len(report.configured)
    failed = sorted({r.subsystem for r in report.rows if r.status == FAILED})
    lines.append("")
    lines.append(
        f"{checked} service(s) checked; "
        + (f"FAILED: {', '.join(failed)}" if failed else "all ok")
    )
    return "\n".join(lines)
