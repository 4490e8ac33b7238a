"""WakaTimeService against a fake WakaTime serving the real payloads (tests/fixtures/wakatime)."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.lowlevel

from greenhouse.config import Secret, WakaTimeConfig
from greenhouse.runtime.clock import Clock
from greenhouse.services.base import RetryPolicy
from greenhouse.services.wakatime import WakaTimeService

FIXTURES = Path(__file__).parent / "fixtures" / "wakatime"
KEY = "waka_0123456789abcdef-secret"
# 2023-01-29 12:00 UTC: the day of the status_bar and durations fixtures.
EPOCH = 1674993600.0


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await trio.lowlevel.checkpoint()


def make(handler: Any, **kwargs: Any) -> tuple[WakaTimeService, Recorder]:
    sleep = Recorder()
    service = WakaTimeService(
        WakaTimeConfig(api_key=Secret(KEY), api_base_url="https://waka.test/api/v1"),
        transport=httpx.MockTransport(handler),
        clock=Clock(start_epoch=EPOCH),
        sleep=sleep,
        rng=random.Random(3),
        retry=RetryPolicy(max_retries=3, backoff_base=0.5),
        **kwargs,
    )
    return service, sleep


def routes(extra: dict[str, Any] | None = None) -> Any:
    table = {
        "/api/v1/users/current/summaries": (200, fixture("summaries.3days.derived.json")),
        "/api/v1/users/current/stats/last_7_days": (200, fixture("stats.last_7_days.waka-readme.json")),
        "/api/v1/users/current/status_bar/today": (200, fixture("status_bar.today.wakatime-cli.json")),
        "/api/v1/users/current/durations": (200, fixture("durations.2023-01-29.docs-shape.json")),
        **(extra or {}),
    }
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = table.get(request.url.path, (404, b'{"error": "Not found"}'))
        return httpx.Response(status, content=body)

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


async def test_basic_auth_is_base64_of_key_and_never_shown() -> None:
    handler = routes()
    service, _ = make(handler)
    response = await service.get_today()
    assert response.ok
    header = handler.seen[0].headers["authorization"]
    assert header == "Basic " + base64.b64encode(KEY.encode()).decode()
    assert KEY not in repr(service) and KEY not in repr(service.config)
    assert response.data.data.grand_total.total_seconds == 8256.598234


async def test_summaries_happy_path_and_params() -> None:
    handler = routes()
    service, _ = make(handler)
    response = await service.get_summaries("2023-01-27", "2023-01-29")
    assert response.ok
    assert [d.range.date for d in response.data.data] == ["2023-01-27", "2023-01-28", "2023-01-29"]
    assert handler.seen[0].url.params["start"] == "2023-01-27"
    assert handler.seen[0].url.params["end"] == "2023-01-29"


async def test_summaries_bad_range_is_an_error_without_a_request() -> None:
    handler = routes()
    service, _ = make(handler)
    assert not (await service.get_summaries("2023-02-01", "2023-01-01")).ok
    assert not (await service.get_summaries("yesterday", "today")).ok
    assert handler.seen == []


async def test_stats_real_payload() -> None:
    service, _ = make(routes())
    response = await service.get_stats("last_7_days")
    assert response.ok and not response.data.pending
    stats = response.data.stats
    assert stats.total_seconds == 141850.447242
    assert stats.projects[0].name == "Raft"
    assert stats.best_day.date == "2022-02-15"


async def test_stats_202_is_pending_not_an_error() -> None:
    body = json.dumps({"data": {"is_up_to_date": False, "status": "pending_update",
                                "range": "last_7_days", "percent_calculated": 12}}).encode()
    service, _ = make(routes({"/api/v1/users/current/stats/last_7_days": (202, body)}))
    response = await service.get_stats()
    assert response.ok
    assert response.data.pending and response.data.stats is None
    assert response.data.retry_after == 120.0


async def test_stats_unknown_range_refused() -> None:
    service, _ = make(routes())
    response = await service.get_stats("last_fortnight")
    assert not response.ok and "unknown range" in response.error


async def test_project_times_and_metrics() -> None:
    handler = routes()
    service, _ = make(handler)
    projects = await service.get_project_times(days=3)
    assert projects.ok and projects.data[0].name == "wakatime-cli"
    metrics = await service.get_productivity_metrics(days=3, duration_days=1)
    assert metrics.ok
    assert metrics.data.focus_sessions == 2
    # the fixture's durations are in America/Sao_Paulo (UTC-3): 13:00 UTC is 10:00 local
    assert metrics.data.most_productive_hours[0] == 10
    assert handler.seen[-1].url.params["date"] == "2023-01-29"


async def test_429_obeys_retry_after_then_succeeds() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, headers={"Retry-After": "17"}, json={"error": "slow down"})
        return httpx.Response(200, content=fixture("status_bar.today.wakatime-cli.json"))

    service, sleep = make(handler)
    response = await service.get_today()
    assert response.ok and calls["n"] == 2
    assert 17.0 in [round(s) for s in sleep.sleeps]


async def test_5xx_backs_off_then_gives_a_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="upstream down")

    service, sleep = make(handler)
    response = await service.get_summaries("2023-01-29", "2023-01-29")
    assert not response.ok and response.error_kind == "server"
    assert "503" in response.error and KEY not in response.error
    assert response.attempts == 4 and len(sleep.sleeps) == 3  # 3 retries with backoff


@pytest.mark.parametrize(
    "body",
    [b"<html>oops</html>", b'{"data": "not a list"}', b'{"data": [{"range": {}}]}', b""],
)
async def test_malformed_bodies_are_decode_errors(body: bytes) -> None:
    service, _ = make(routes({"/api/v1/users/current/summaries": (200, body)}))
    response = await service.get_summaries("2023-01-29", "2023-01-29")
    assert not response.ok and response.error_kind == "decode"
    metrics = await service.get_productivity_metrics(days=1)
    assert not metrics.ok and metrics.error_kind == "decode"


async def test_unauthorized_is_not_retried_and_key_not_leaked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": f"bad key {KEY}"})

    service, sleep = make(handler)
    response = await service.get_today()
    assert not response.ok and response.status_code == 401
    assert KEY not in response.error and sleep.sleeps == []


async def test_health_check() -> None:
    service, _ = make(routes())
    health = await service.health_check()
    assert health.available and health.service == "wakatime"


async def test_finished_days_and_ready_stats_are_not_asked_for_on_every_poll(
    autojump_clock: Any,
) -> None:
    from greenhouse.services.wakatime import PAST_DAY_REFRESH, STATS_REFRESH

    handler = routes()
    service, _ = make(handler)

    def asked(path: str) -> list[str]:
        return [r.url.params.get("date", "") for r in handler.seen if r.url.path.endswith(path)]

    for _ in range(2):  # two 30-minute polls
        assert (await service.get_productivity_metrics(days=3, duration_days=3)).ok
        assert (await service.get_stats("last_7_days")).data.stats is not None
        await trio.sleep(1800)
    # Today's durations on every poll, the two finished days once; stats once an hour.
    assert sorted(asked("/durations")) == ["2023-01-27", "2023-01-28", "2023-01-29", "2023-01-29"]
    assert len(asked("/stats/last_7_days")) == 1
    await trio.sleep(max(PAST_DAY_REFRESH, STATS_REFRESH))  # 19:00 UTC, the same day
    assert (await service.get_productivity_metrics(days=3, duration_days=3)).ok
    assert (await service.get_stats("last_7_days")).ok
    assert len(asked("/stats/last_7_days")) == 2
    assert len(asked("/durations")) == 7  # three more: the finished days were due again


async def test_pending_stats_are_asked_for_again(autojump_clock: Any) -> None:
    body = json.dumps({"data": {"status": "pending_update", "is_up_to_date": False}}).encode()
    handler = routes({"/api/v1/users/current/stats/last_7_days": (202, body)})
    service, _ = make(handler)
    assert (await service.get_stats()).data.pending
    assert (await service.get_stats()).data.pending
    assert len([r for r in handler.seen if "stats" in r.url.path]) == 2
