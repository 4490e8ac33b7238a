"""A fake OpenWeatherMap for `httpx.MockTransport`, serving the captured payloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx

FIXTURES = Path(__file__).parent / "fixtures" / "openweathermap"

API_KEY = "owm-key-0123456789abcdef"
LISBON = json.loads((FIXTURES / "weather.current.lisbon.captured.json").read_text())
RAIN = json.loads((FIXTURES / "weather.current.rain.captured.json").read_text())
FORECAST = json.loads((FIXTURES / "forecast.5day3h.lisbon.captured.json").read_text())

Override = Callable[[httpx.Request], httpx.Response | None]


class FakeOpenWeatherMap:
    """Checks the `appid`, serves `current` and the forecast; `down` answers 500 to everything."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.current: dict = LISBON
        self.requests: list[httpx.Request] = []
        self.overrides: dict[str, list[Override]] = {}
        self.down = False

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.url.path == path)

    def override(self, path: str, *handlers: Override) -> None:
        self.overrides.setdefault(path, []).extend(handlers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.overrides.get(request.url.path)
        if queue:
            answer = queue.pop(0)(request)
            if answer is not None:
                return answer
        if self.down:
            return httpx.Response(500, json={"cod": 500, "message": "Internal error"})
        if request.url.params.get("appid") != self.api_key:
            return httpx.Response(
                401,
                json={
                    "cod": 401,
                    "message": "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.",
                },
            )
        if request.url.path == "/data/2.5/weather":
            return httpx.Response(200, json=self.current)
        if request.url.path == "/data/2.5/forecast":
            count = int(request.url.params.get("cnt", "40"))
            return httpx.Response(
                200, json={**FORECAST, "cnt": count, "list": FORECAST["list"][:count]}
            )
        return httpx.Response(404, json={"cod": "404", "message": "Internal error"})
