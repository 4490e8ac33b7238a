"""The whole runtime on ephemeral ports: webhooks end to end, resume, every HTTP error, admin, CORS."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from actors.tree import Garden, build_garden, run_garden
from greenhouse.config import GitHubConfig, IntegrationSettings, Secret, WebConfig
from greenhouse.services.github_webhooks import sign
from greenhouse.web.app import API_BODY_LIMIT

FIXTURES = Path(__file__).parent / "fixtures" / "github" / "webhooks"
PUSH = (FIXTURES / "push.new-branch.json").read_bytes()
PING = (FIXTURES / "ping.json").read_bytes()
ISSUE = (FIXTURES / "issues.opened.json").read_bytes()
SECRET = "It's a Secret to Everybody"
ADMIN = "admin-token-for-tests-0123456789"


def settings(*, admin: str = ADMIN, origins: tuple[str, ...] = ("https://garden.example",)):
    return IntegrationSettings(
        github=GitHubConfig(webhook_secret=Secret(SECRET), webhook_max_bytes=64 * 1024),
        web=WebConfig(
            host="127.0.0.1",
            http_port=0,
            ws_port=0,
            allowed_origins=origins,
            admin_token=Secret(admin),
        ),
    )


@dataclass
class Running:
    garden: Garden
    http: httpx.AsyncClient
    ws_url: str

    async def deliver(
        self,
        body: bytes = PUSH,
        event: str = "push",
        delivery: str | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": signature if signature is not None else sign(SECRET, body),
            "Content-Type": "application/json",
        }
        sent.update(headers or {})
        return await self.http.post("/webhooks/github", content=body, headers=sent)


@asynccontextmanager
async def garden_running(
    db: Path, config: IntegrationSettings | None = None
) -> AsyncIterator[Running]:
    garden = build_garden(config or settings(), db_path=str(db))
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        addresses = garden.extras["addresses"]
        with trio.fail_after(10):
            http_url = await addresses.wait("http")
            ws_url = await addresses.wait("websocket")
        async with httpx.AsyncClient(base_url=http_url, timeout=10) as client:
            yield Running(garden, client, ws_url)
        nursery.cancel_scope.cancel()


async def frame(conn: Any) -> dict[str, Any]:
    with trio.fail_after(5):
        return json.loads(await conn.get_message())


async def frame_of(conn: Any, kind: str) -> dict[str, Any]:
    """The next frame of type `kind` (the analytics actor adds visitor events around it)."""
    while True:
        got = await frame(conn)
        if got["type"] == kind:
            return got


async def stored_pushes(run: Running) -> int:
    """How many commit_pushed events are in the log (engines add their own events beside)."""
    events = (await run.http.get("/api/events", params={"limit": 1000})).json()["events"]
    return sum(1 for e in events if e["type"] == "commit_pushed")


async def test_signed_push_reaches_a_viewer_within_a_second_and_resume_replays_the_gap(
    tmp_path: Path,
) -> None:
    async with garden_running(tmp_path / "g.db") as run:
        async with open_websocket_url(run.ws_url) as viewer:
            assert (await frame(viewer))["type"] == "snapshot"
            with trio.fail_after(1.0):  # the issue's end-to-end deadline, POST to frame
                response = await run.deliver()
                assert response.status_code == 202
                pushed = await frame_of(viewer, "commit_pushed")
            assert pushed["type"] == "commit_pushed"
            assert pushed["data"]["repository"] == "Codertocat/Hello-World"
            assert pushed["data"]["commit_count"] == 1
            assert response.json()["event_ids"] == [pushed["id"]]
        last_seen = pushed["id"]
        # Missed while away: two more pushes and an issue (not a garden event).
        missed = []
        for _ in range(2):
            missed += (await run.deliver()).json()["event_ids"]
        assert (await run.deliver(ISSUE, "issues")).status_code == 202
        async with open_websocket_url(f"{run.ws_url}?since={last_seen}") as again:
            assert (await frame(again))["type"] == "resumed"
            replayed = []
            while not replayed or replayed[-1]["id"] < missed[-1]:
                replayed.append(await frame(again))
            # Every event after last_seen once, in order (visitor events included), and the
            # pushes among them are exactly the missed ones.
            assert [f["id"] for f in replayed] == list(range(last_seen + 1, missed[-1] + 1))
            assert [f["id"] for f in replayed if f["type"] == "commit_pushed"] == missed
            with trio.move_on_after(0.3):  # no push is sent twice
                while True:
                    extra = json.loads(await again.get_message())
                    assert extra["type"] != "commit_pushed", extra


async def test_duplicate_delivery_is_200_with_no_second_event_even_after_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "g.db"
    delivery = str(uuid.uuid4())
    async with garden_running(db) as run:
        first = await run.deliver(delivery=delivery)
        assert first.status_code == 202
        again = await run.deliver(delivery=delivery)
        assert again.status_code == 200
        assert again.json()["status"] == "duplicate"
    async with garden_running(db) as run:  # a new process on the same database
        after_restart = await run.deliver(delivery=delivery)
        assert after_restart.status_code == 200
        assert await stored_pushes(run) == 1


async def test_concurrent_redeliveries_store_one_event(tmp_path: Path) -> None:
    async with garden_running(tmp_path / "g.db") as run:
        delivery = str(uuid.uuid4())
        codes: list[int] = []

        async def post() -> None:
            codes.append((await run.deliver(delivery=delivery)).status_code)

        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(post)
        assert sorted(codes) == [200, 200, 200, 200, 202]
        assert await stored_pushes(run) == 1


async def test_many_concurrent_deliveries_are_all_stored(tmp_path: Path) -> None:
    # More concurrent deliveries than the reader pool has connections (a deadlock once).
    async with garden_running(tmp_path / "g.db") as run:
        codes: list[int] = []

        async def post() -> None:
            codes.append((await run.deliver()).status_code)

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                for _ in range(12):
                    nursery.start_soon(post)
        assert codes == [202] * 12
        assert await stored_pushes(run) == 12


async def test_webhook_error_codes(tmp_path: Path) -> None:
    async with garden_running(tmp_path / "g.db") as run:
        missing = await run.deliver(signature="")
        assert missing.status_code == 401
        assert missing.json()["error"] == "bad_signature"
        flipped = bytearray(PUSH)
        flipped[10] ^= 1
        wrong = await run.deliver(bytes(flipped), signature=sign(SECRET, PUSH))
        assert wrong.status_code == 401
        no_event = await run.deliver(headers={"X-GitHub-Event": ""})
        assert no_event.status_code == 400
        not_json = b"{this is not json"
        assert (await run.deliver(not_json)).status_code == 400
        wrong_shape = b'{"ref": 5}'
        assert (await run.deliver(wrong_shape)).status_code == 400
        big = b'{"pad": "' + b"x" * (70 * 1024) + b'"}'
        too_large = await run.deliver(big)
        assert too_large.status_code == 413
        assert too_large.json()["error"] == "payload_too_large"
        # The unread body ends the connection: the client is told not to reuse it.
        assert too_large.headers["connection"] == "close"
        ping = await run.deliver(PING, "ping")
        assert ping.status_code == 200
        assert ping.json()["status"] == "pong"
        for response in (missing, wrong, no_event, too_large):
            assert set(response.json()) == {"error", "detail"}
            assert SECRET not in response.text
        assert await stored_pushes(run) == 0


async def test_a_failing_webhook_is_a_json_500_and_other_methods_still_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhook's short way past the router keeps the JSON 500, the counts and the 405."""
    import greenhouse.web.app as web_app

    async def broken(request: Any) -> Any:
        raise RuntimeError("a bug with a secret: " + SECRET)

    async with garden_running(tmp_path / "g.db") as run:
        monkeypatch.setattr(web_app, "github_webhook", broken)
        failed = await run.deliver()
        assert failed.status_code == 500
        assert failed.json()["error"] == "internal_error"
        assert SECRET not in failed.text and "Traceback" not in failed.text
        wrong_method = await run.http.get("/webhooks/github")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"] == "method_not_allowed"
        metrics = (await run.http.get("/metrics")).text
        assert (
            'greenhouse_http_requests_total{route="/webhooks/github",method="POST",status="500"} 1'
            in metrics
        )


async def test_read_api_answers_or_says_503(tmp_path: Path) -> None:
    async with garden_running(tmp_path / "g.db") as run:
        await run.deliver()
        assert (await run.http.get("/healthz")).json() == {"status": "ok"}
        status = (await run.http.get("/api/status")).json()
        names = {child["name"] for child in status["tree"]["children"]}
        assert {"persistence", "health", "websocket", "http"} <= names
        assert set(status["integrations"]["services"]) >= {"github", "spotify", "weather"}
        assert status["addresses"]["websocket"] == run.ws_url
        garden = (await run.http.get("/api/garden")).json()
        assert garden["plants"][0]["repository"] == "Codertocat/Hello-World"
        assert garden["plants"][0]["commit_count"] == 1
        assert garden["last_event_id"] >= 1
        connections = (await run.http.get("/api/connections")).json()
        assert connections["active"] == 0
        assert connections["events_by_type"]["commit_pushed"] == 1
        portfolio = await run.http.get("/api/portfolio")
        assert portfolio.status_code == 200
        mood = await run.http.get("/api/mood", params={"hours": 6})
        assert mood.status_code == 200
        # No signal arrived, so nothing is invented: no mood yet, or (once the scheduler's
        # mood_synthesis has run) one from the time of day alone, whose weight is 0.1.
        current = mood.json()["current"]
        assert current is None or abs(current["confidence"] - 0.1) < 1e-9
        assert (await run.http.get("/api/mood", params={"hours": "x"})).status_code == 400
        scheduler = await run.http.get("/api/scheduler")
        if "scheduler" in run.garden.mailboxes:
            assert scheduler.status_code == 200
        else:
            assert scheduler.status_code == 503
            assert "scheduler" in scheduler.json()["detail"]


async def test_events_are_paged_by_id(tmp_path: Path) -> None:
    async with garden_running(tmp_path / "g.db") as run:
        ids = []
        for _ in range(5):
            ids += (await run.deliver()).json()["event_ids"]
        everything = (await run.http.get("/api/events", params={"limit": 1000})).json()
        all_ids = [e["id"] for e in everything["events"]]
        assert set(ids) <= set(all_ids)
        assert everything["has_more"] is False
        paged: list[int] = []
        since, more = 0, True
        while more:
            page = (await run.http.get("/api/events", params={"since": since, "limit": 2})).json()
            assert len(page["events"]) <= 2
            paged += [e["id"] for e in page["events"]]
            since, more = page["next_since"], page["has_more"]
        assert paged == all_ids == sorted(set(all_ids))
        for bad in ({"since": -1}, {"limit": 0}, {"limit": 5000}, {"since": "abc"}):
            response = await run.http.get("/api/events", params=bad)
            assert response.status_code == 400
            assert response.json()["error"] == "bad_parameter"


async def test_json_errors_and_size_limits(tmp_path: Path) -> None:
    async with garden_running(tmp_path / "g.db") as run:
        missing = await run.http.get("/nope")
        assert missing.status_code == 404
        assert missing.json()["error"] == "not_found"
        wrong_method = await run.http.get("/webhooks/github")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"] == "method_not_allowed"
        big = await run.http.post(
            "/api/tasks/growth_calculation/run",
            content=b"x" * (API_BODY_LIMIT + 1),
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert big.status_code == 413


async def test_admin_token(tmp_path: Path) -> None:
    async with garden_running(tmp_path / "g.db") as run:
        url = "/api/tasks/growth_calculation/run"
        assert (await run.http.post(url)).status_code == 401
        wrong = await run.http.post(url, headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        basic = await run.http.post(url, headers={"Authorization": f"Basic {ADMIN}"})
        assert basic.status_code == 401
        right = await run.http.post(url, headers={"Authorization": f"Bearer {ADMIN}"})
        assert right.status_code == 202
        assert right.json()["task_id"] == "growth_calculation"
        assert right.json()["execution_id"]
        assert ADMIN not in right.text
        unknown = await run.http.post(
            "/api/tasks/no_such_task/run", headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert unknown.status_code == 404
        assert unknown.json()["error"] == "task_not_run"
    async with garden_running(tmp_path / "h.db", settings(admin="")) as run:
        disabled = await run.http.post(url, headers={"Authorization": "Bearer anything"})
        assert disabled.status_code == 403
        assert disabled.json()["error"] == "admin_disabled"


async def test_cors_follows_the_allow_list(tmp_path: Path) -> None:
    async with garden_running(tmp_path / "g.db") as run:
        ok = await run.http.get("/api/garden", headers={"Origin": "https://garden.example"})
        assert ok.headers["access-control-allow-origin"] == "https://garden.example"
        evil = await run.http.get("/api/garden", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers
        preflight = await run.http.options(
            "/api/garden",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert preflight.status_code == 400
    async with garden_running(tmp_path / "h.db", settings(origins=())) as run:
        closed = await run.http.get("/api/garden", headers={"Origin": "https://garden.example"})
        assert "access-control-allow-origin" not in closed.headers


_SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]\w*="([^"\\]|\\.)*",?)*\})? \S+$')


async def test_metrics_are_prometheus_text(tmp_path: Path) -> None:
    async with garden_running(tmp_path / "g.db") as run:
        await run.deliver()
        await run.deliver(signature="sha256=00")
        response = await run.http.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        lines = response.text.strip().split("\n")
        for line in lines:
            assert (
                line.startswith("# HELP ") or line.startswith("# TYPE ") or _SAMPLE.match(line)
            ), line
        text = response.text
        assert 'greenhouse_events_total{type="commit_pushed"} 1' in text
        assert 'greenhouse_webhook_deliveries_total{outcome="accepted"} 1' in text
        assert 'greenhouse_webhook_deliveries_total{outcome="unauthorized"} 1' in text
        assert 'greenhouse_actor_restarts_total{actor="persistence"} 0' in text
        assert "greenhouse_viewers 0" in text
        assert 'greenhouse_queue_depth{mailbox="persistence"}' in text
        assert (
            'greenhouse_http_requests_total{route="/webhooks/github",method="POST",status="202"} 1'
            in text
        )
