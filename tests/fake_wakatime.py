"""A fake WakaTime API serving the real payload shapes, with knobs for today's time and failures."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).parent / "fixtures" / "wakatime"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class FakeWakaTime:
    """Summaries (3 days, today's total adjustable), stats (ready or 202), durations, status bar."""

    def __init__(self) -> None:
        self.summaries = json.loads(fixture("summaries.3days.derived.json"))
        self.today_seconds = self.summaries["data"][-1]["grand_total"]["total_seconds"]
        self.stats_pending = False
        self.failing: httpx.Response | None = None
        self.requests: list[httpx.Request] = []

    def _summaries(self) -> dict[str, Any]:
        body = copy.deepcopy(self.summaries)
        today = body["data"][-1]
        scale = self.today_seconds / today["grand_total"]["total_seconds"]
        today["grand_total"]["total_seconds"] = self.today_seconds
        for key in ("projects", "languages"):
            for row in today[key]:
                row["total_seconds"] *= scale
        return body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failing is not None:
            return self.failing
        path = request.url.path.removeprefix("/api/v1")
        if path == "/users/current/summaries":
            return httpx.Response(200, json=self._summaries())
        if path == "/users/current/stats/last_7_days":
            if self.stats_pending:
                return httpx.Response(
                    202, json={"data": {"is_up_to_date": False, "status": "pending_update"}}
                )
            return httpx.Response(200, content=fixture("stats.last_7_days.waka-readme.json"))
        if path == "/users/current/durations":
            return httpx.Response(200, content=fixture("durations.2023-01-29.docs-shape.json"))
        if path == "/users/current/status_bar/today":
            return httpx.Response(200, content=fixture("status_bar.today.wakatime-cli.json"))
        return httpx.Response(404, json={"error": "Not found"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)
