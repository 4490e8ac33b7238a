"""`python run.py check` (greenhouse/integration_check.py) against fakes of every service."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import run
from greenhouse.config import (
    GitHubConfig,
    IntegrationSettings,
    Secret,
    WakaTimeConfig,
    WeatherConfig,
)
from greenhouse.integration_check import CheckReport, format_report, run_integration_check
from greenhouse.runtime.clock import Clock
from greenhouse.simulation.github import FakeGitHub
from tests.fake_social import TWITTER_TOKEN, FakeSocialWorld, config
from tests.fake_spotify import FakeSpotify
from tests.fake_wakatime import FakeWakaTime
from tests.fake_weather import API_KEY, FakeOpenWeatherMap
from tests.test_spotify_service import SETTINGS as SPOTIFY_SETTINGS

GITHUB_TOKEN = "ghp_check0123456789secret"
WAKA_KEY = "waka_check_secret_123456"
START = 1_700_000_000.0


def everything(**overrides: Any) -> tuple[IntegrationSettings, dict[str, Any]]:
    settings = IntegrationSettings(
        github=GitHubConfig(token=Secret(GITHUB_TOKEN), username="octocat",
                            api_base_url="https://github.test"),
        spotify=SPOTIFY_SETTINGS,
        weather=WeatherConfig(api_key=Secret(API_KEY), city="Lisbon",
                              api_base_url="https://owm.test"),
        wakatime=WakaTimeConfig(api_key=Secret(WAKA_KEY),
                                api_base_url="https://waka.test/api/v1"),
        social=config(),
    )
    fakes = {
        "github": FakeGitHub(repo_count=3, time=lambda: START),
        "spotify": FakeSpotify(),
        "weather": FakeOpenWeatherMap(),
        "wakatime": FakeWakaTime(),
        "social": FakeSocialWorld(),
        **overrides,
    }
    return settings, fakes


def transports(fakes: dict[str, Any]) -> dict[str, httpx.AsyncBaseTransport]:
    return {
        name: fake.transport() if hasattr(fake, "transport") else httpx.MockTransport(fake)
        for name, fake in fakes.items()
    }


async def test_every_service_ok_then_engines() -> None:
    settings, fakes = everything()
    report = await run_integration_check(
        settings, transports=transports(fakes), clock=Clock(start_epoch=START)
    )
    table = format_report(report)
    assert not report.failed, table
    assert report.configured == ["github", "social", "spotify", "wakatime", "weather"]
    steps = {(r.subsystem, r.step): r for r in report.rows}
    for name in ("github", "spotify", "weather", "wakatime", "social"):
        assert steps[(name, "health")].status == "ok"
        assert steps[(name, "read")].status == "ok"
    assert steps[("github", "read")].detail == "3 repositories"
    assert "WARRIORS" in steps[("spotify", "read")].detail
    assert steps[("weather", "read")].detail == "Socorro: Clouds, 22.55"  # the fixture's place
    assert "top project wakatime-cli" in steps[("wakatime", "read")].detail
    assert steps[("social", "read")].detail == "9 posts from 6 sources"
    assert steps[("engines", "growth")].status == "ok"
    assert steps[("engines", "growth")].detail.startswith("3 plants")
    trends = steps[("engines", "trends")]
    assert trends.status == "ok" and "top " in trends.detail
    mood = steps[("engines", "mood")]
    assert mood.status == "ok" and "music" in mood.detail and "weather" in mood.detail
    for secret in (GITHUB_TOKEN, WAKA_KEY, API_KEY, TWITTER_TOKEN):
        assert secret not in table


async def test_a_failing_service_fails_the_check_with_one_line() -> None:
    weather = FakeOpenWeatherMap()
    weather.down = True
    settings, fakes = everything(weather=weather)
    report = await run_integration_check(
        settings, transports=transports(fakes), clock=Clock(start_epoch=START)
    )
    assert report.failed
    rows = [r for r in report.rows if r.subsystem == "weather"]
    assert [r.status for r in rows if r.step in ("health", "read")] == ["failed", "failed"]
    assert "500" in rows[-1].error and "\n" not in rows[-1].error
    assert API_KEY not in format_report(report)
    others = [r for r in report.rows if r.subsystem == "wakatime"]
    assert all(r.status == "ok" for r in others)  # one failure does not stop the others
    assert "FAILED: weather" in format_report(report)


async def test_only_configured_services_are_checked() -> None:
    settings = IntegrationSettings(
        wakatime=WakaTimeConfig(api_key=Secret(WAKA_KEY), api_base_url="https://waka.test/api/v1")
    )
    report = await run_integration_check(
        settings,
        transports={"wakatime": FakeWakaTime().transport()},
        clock=Clock(start_epoch=START),
    )
    statuses = {(r.subsystem, r.step): r.status for r in report.rows}
    assert statuses[("github", "-")] == "not configured"
    assert statuses[("social", "-")] == "not configured"
    assert statuses[("wakatime", "read")] == "ok"
    assert statuses[("engines", "growth")] == "skipped"
    assert statuses[("engines", "mood")] == "ok"  # coding data alone drives it
    assert statuses[("engines", "trends")] == "skipped"
    assert not report.failed


def test_cli_without_keys_checks_the_demo_world(capsys: pytest.CaptureFixture[str], monkeypatch: Any,
                                tmp_path: Any) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("GITHUB_TOKEN", "SPOTIFY_CLIENT_ID", "OPENWEATHER_API_KEY", "WAKATIME_API_KEY",
                 "RSS_FEEDS", "MASTODON_BASE_URL", "BLUESKY_HANDLE", "HACKERNEWS_ENABLED",
                 "TWITTER_BEARER_TOKEN", "LINKEDIN_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # With no keys the real clients are checked against the simulated demo world.
    assert run.main(["check"]) == 0
    out = capsys.readouterr().out
    assert "demo world" in out and "all ok" in out
    assert "not configured" not in out
    # Without a world to check against, it says that nothing is configured.
    assert "Nothing is configured" in format_report(CheckReport())


def test_cli_configured_service_down_exits_non_zero(
    capsys: pytest.CaptureFixture[str], monkeypatch: Any, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    # A closed loopback port: the real client, a real connection error, no network needed.
    monkeypatch.setenv("WAKATIME_API_KEY", WAKA_KEY)
    monkeypatch.setenv("WAKATIME_API_URL", "http://127.0.0.1:9/api/v1")
    assert run.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "wakatime" in out and "failed" in out and WAKA_KEY not in out
