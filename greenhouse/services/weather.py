"""OpenWeatherMap client: current weather, the 5-day forecast, and what they do to the garden.

    async with WeatherService(settings.weather) as weather:
        data = await weather.get_comprehensive_weather_data()

The place is a city name (`WEATHER_CITY`) or coordinates (`WEATHER_LAT`/`WEATHER_LON`, which win
when both are set); units are metric, imperial or standard (Kelvin). The API key travels as the
`appid` query parameter, so it is scrubbed from every error text. OpenWeatherMap's model updates
no faster than every 10 minutes, so one place is never asked more often than that: a second call
within `min_interval` (600 s) answers from the last reading (`from_cache=True`), request-free.
The forecast, which moves in 3-hour steps, is asked for at most once per `forecast_min_interval`
(an hour).
"""

from __future__ import annotations

import logging
from typing import Any

from greenhouse.config import WeatherConfig
from greenhouse.logs import RedactingFilter
from greenhouse.models import (
    AtmosphericMood,
    ComprehensiveWeather,
    CurrentWeather,
    Forecast,
    ForecastSummary,
)

from .atmosphere import analyze_atmospheric_mood, seasonal_influence, summarize_forecast
from .base import APIResponse, BaseIntegration, HealthStatus

__all__ = ["MIN_INTERVAL", "WeatherService"]

MIN_INTERVAL = 600.0  # seconds; OpenWeatherMap's data for one place changes no faster
# The 5-day forecast comes in 3-hour steps and is recomputed a few times a day: asking for it
# once an hour keeps it fresh at a quarter of the requests of a 15-minute weather poll.
FORECAST_MIN_INTERVAL = 3600.0

# httpx logs every request URL at INFO, and OpenWeatherMap's key is in the URL: every key in use
# is registered with one redacting filter on the httpx logger, whatever handlers are installed.
_httpx_redactor = RedactingFilter(())
logging.getLogger("httpx").addFilter(_httpx_redactor)


def _redact_in_httpx_logs(secret: str) -> None:
    if len(secret) >= 4 and secret not in _httpx_redactor.secrets:
        _httpx_redactor.secrets = sorted({*_httpx_redactor.secrets, secret}, key=len, reverse=True)


class WeatherService(BaseIntegration):
    """OpenWeatherMap 2.5 client on `BaseIntegration`."""

    name = "weather"
    # A forecast fetched again after its floor is often the same body (OpenWeather updates it
    # every few hours): its decoded Forecast is reused, so `_summary` folds it once.
    memo_decoded = True
    health_path = "/data/2.5/weather"

    def __init__(
        self,
        settings: WeatherConfig,
        *,
        min_interval: float = MIN_INTERVAL,
        forecast_min_interval: float = FORECAST_MIN_INTERVAL,
        **kwargs: Any,
    ) -> None:
        if not settings.city and (settings.latitude is None or settings.longitude is None):
            raise ValueError("weather: set WEATHER_CITY or both WEATHER_LAT and WEATHER_LON")
        super().__init__(settings.api_base_url, **kwargs)
        self.settings = settings
        _redact_in_httpx_logs(settings.api_key.get())
        self.units = settings.units
        self.min_interval = min_interval
        self.forecast_min_interval = max(min_interval, forecast_min_interval)
        # path -> (monotonic time of the fetch, the successful response): the 10-minute floor.
        self._recent: dict[str, tuple[float, APIResponse[Any]]] = {}
        # The last forecast folded into days, and the fold: a forecast kept for an hour is
        # summarised once, not on every 15-minute poll.
        self._folded: tuple[Forecast, int, tuple[ForecastSummary, ...]] | None = None
        self.requests_sent = 0

    @property
    def location(self) -> str:
        """The configured place as text (coordinates win over a city name)."""
        if self.settings.latitude is not None and self.settings.longitude is not None:
            return f"{self.settings.latitude:.4f},{self.settings.longitude:.4f}"
        return self.settings.city

    def _place_params(self) -> dict[str, Any]:
        if self.settings.latitude is not None and self.settings.longitude is not None:
            place: dict[str, Any] = {"lat": self.settings.latitude, "lon": self.settings.longitude}
        else:
            place = {"q": self.settings.city}
        return {**place, "units": self.units}

    def _secrets(self) -> list[str]:
        key = self.settings.api_key.get()
        return [key] if key else []

    async def _fetch(
        self, path: str, response_type: Any, *, floor: float | None = None, **extra: Any
    ) -> APIResponse[Any]:
        """A GET for the configured place, answered from memory within `floor` seconds
        (`min_interval` unless given)."""
        params = {**self._place_params(), **extra}
        key = self.cache_key("GET", path, params)  # no appid in it: keys may be logged
        now = self._monotonic()
        recent = self._recent.get(key)
        if recent is not None and now - recent[0] < (floor or self.min_interval):
            kept = recent[1]
            return APIResponse(
                data=kept.data,
                status_code=kept.status_code,
                from_cache=True,
                etag=kept.etag,
                rate_limit=kept.rate_limit,
                headers=dict(kept.headers),
            )
        self.requests_sent += 1
        response = await self.make_request(
            "GET",
            path,
            response_type=response_type,
            params={**params, "appid": self.settings.api_key.get()},
            cache_key=key,
            conditional=False,
        )
        if response.ok:
            self._recent[key] = (now, response)
        return response

    async def get_current_weather(self) -> APIResponse[CurrentWeather]:
        """`/data/2.5/weather` for the configured place."""
        return await self._fetch("/data/2.5/weather", CurrentWeather)

    async def get_weather_forecast(self, days: int = 5) -> APIResponse[Forecast]:
        """`/data/2.5/forecast`: 3-hour steps for `days` days (1 to 5; 8 steps a day)."""
        if not 1 <= days <= 5:
            raise ValueError(f"days must be within [1, 5], got {days}")
        return await self._fetch(
            "/data/2.5/forecast", Forecast, floor=self.forecast_min_interval, cnt=days * 8
        )

    def _summary(self, forecast: Forecast, days: int) -> tuple[ForecastSummary, ...]:
        folded = self._folded
        if folded is None or folded[0] is not forecast or folded[1] != days:
            folded = self._folded = (forecast, days, summarize_forecast(forecast, days))
        return folded[2]

    def analyze_atmospheric_mood(self, current: CurrentWeather) -> AtmosphericMood:
        """The weather's mood components (pure; see `atmosphere.analyze_atmospheric_mood`)."""
        return analyze_atmospheric_mood(current, self.units)

    async def get_comprehensive_weather_data(
        self, forecast_days: int = 5
    ) -> APIResponse[ComprehensiveWeather]:
        """Current weather with its mood and season, plus the forecast by day when it answers."""
        current = await self.get_current_weather()
        if not current.ok or current.data is None:
            return current  # type: ignore[return-value]
        reading = current.data
        forecast = await self.get_weather_forecast(forecast_days)
        days = forecast.data if forecast.ok else None
        data = ComprehensiveWeather(
            current=reading,
            mood=analyze_atmospheric_mood(reading, self.units),
            season=seasonal_influence(reading),
            forecast=self._summary(days, forecast_days) if days is not None else (),
            forecast_error=forecast.error,
            units=self.units,
        )
        return APIResponse(
            data=data,
            status_code=current.status_code,
            from_cache=current.from_cache,
            rate_limit=current.rate_limit,
        )

    async def health_check(self) -> HealthStatus:
        """One current-weather read (or the last one, within the 10-minute floor)."""
        started = self._monotonic()
        response = await self.get_current_weather()
        return HealthStatus(
            service=self.name,
            available=response.ok,
            status_code=response.status_code,
            latency_ms=(self._monotonic() - started) * 1000.0,
            error=response.error,
            rate_limit=response.rate_limit,
        )
