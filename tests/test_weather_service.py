"""WeatherService against a fake OpenWeatherMap serving captured payloads (virtual time)."""

from __future__ import annotations

import logging
import random

import httpx
import pytest
import trio

from greenhouse.config import Secret, WeatherConfig
from greenhouse.runtime import Clock
from greenhouse.services.base import ErrorKind
from greenhouse.services.weather import FORECAST_MIN_INTERVAL, MIN_INTERVAL, WeatherService
from tests.fake_weather import API_KEY, FakeOpenWeatherMap

CITY = WeatherConfig(api_key=Secret(API_KEY), city="Lisbon", api_base_url="https://owm.test")
COORDS = WeatherConfig(
    api_key=Secret(API_KEY), latitude=38.7223, longitude=-9.1393, api_base_url="https://owm.test"
)
NOW = 1785573885.0  # the Lisbon reading's own `dt`


def service(fake: FakeOpenWeatherMap, settings: WeatherConfig = CITY, **kw) -> WeatherService:
    return WeatherService(
        settings,
        transport=fake.transport(),
        clock=Clock(start_epoch=NOW),
        rng=random.Random(1),
        **kw,
    )


async def test_current_weather_by_city(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()
    async with service(fake) as weather:
        current = await weather.get_current_weather()
    assert current.ok and current.data.name == "Socorro" and current.data.main.temp == 22.55
    sent = fake.requests[0]
    assert sent.url.params["q"] == "Lisbon" and sent.url.params["units"] == "metric"
    assert sent.url.params["appid"] == API_KEY


async def test_coordinates_win_and_units_are_passed(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()
    settings = WeatherConfig(
        api_key=Secret(API_KEY),
        city="Ignored",
        latitude=38.7223,
        longitude=-9.1393,
        units="imperial",
        api_base_url="https://owm.test",
    )
    async with service(fake, settings) as weather:
        assert (await weather.get_current_weather()).ok
        assert weather.location == "38.7223,-9.1393"
    params = fake.requests[0].url.params
    assert "q" not in params and params["lat"] == "38.7223" and params["lon"] == "-9.1393"
    assert params["units"] == "imperial"


def test_a_place_is_required() -> None:
    with pytest.raises(ValueError, match="WEATHER_CITY"):
        WeatherService(WeatherConfig(api_key=Secret(API_KEY)))


async def test_one_place_is_never_polled_more_than_every_ten_minutes(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()
    async with service(fake) as weather:
        first = await weather.get_current_weather()
        await trio.sleep(MIN_INTERVAL - 1)
        second = await weather.get_current_weather()
        await trio.sleep(2)
        third = await weather.get_current_weather()
    assert not first.from_cache and second.from_cache and not third.from_cache
    assert second.data == first.data
    assert fake.count("/data/2.5/weather") == 2


async def test_failures_are_not_remembered_by_the_ten_minute_floor(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()
    fake.down = True
    async with service(fake) as weather:
        assert not (await weather.get_current_weather()).ok
        fake.down = False
        assert (await weather.get_current_weather()).ok  # no stale failure served


async def test_forecast_asks_for_eight_steps_a_day(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()
    async with service(fake, COORDS) as weather:
        forecast = await weather.get_weather_forecast(days=2)
        with pytest.raises(ValueError):
            await weather.get_weather_forecast(days=6)
    assert forecast.ok and len(forecast.data.entries) == 16
    assert fake.requests[0].url.params["cnt"] == "16"


async def test_the_forecast_is_asked_for_once_an_hour(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()
    async with service(fake) as weather:
        # Four 15-minute polls: the current weather each time, the forecast only on the first.
        for _ in range(4):
            data = await weather.get_comprehensive_weather_data()
            assert data.ok and len(data.data.forecast) == 5
            await trio.sleep(900)
        assert fake.count("/data/2.5/weather") == 4
        assert fake.count("/data/2.5/forecast") == 1
        await trio.sleep(FORECAST_MIN_INTERVAL - 4 * 900)
        assert (await weather.get_comprehensive_weather_data()).ok
    assert fake.count("/data/2.5/forecast") == 2


async def test_comprehensive_data(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()
    async with service(fake) as weather:
        data = await weather.get_comprehensive_weather_data()
    assert data.ok
    assert data.data.current.name == "Socorro"
    assert data.data.mood.weather_pattern == "partly_cloudy"
    assert data.data.season.season == "summer"
    assert len(data.data.forecast) == 5 and data.data.forecast_error is None


async def test_comprehensive_data_survives_a_failing_forecast(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()
    fake.override("/data/2.5/forecast", *[lambda r: httpx.Response(500)] * 4)
    async with service(fake) as weather:
        data = await weather.get_comprehensive_weather_data()
    assert data.ok and data.data.forecast == ()
    assert "HTTP 500" in data.data.forecast_error


async def test_bad_key_is_a_clear_error_that_never_shows_the_key(autojump_clock, caplog) -> None:
    fake = FakeOpenWeatherMap()
    caplog.set_level(logging.DEBUG)
    bad = WeatherConfig(
        api_key=Secret("wrong-key-abcdef"), city="Lisbon", api_base_url="https://owm.test"
    )
    async with service(fake, bad) as weather:
        current = await weather.get_current_weather()
        health = await weather.health_check()
    assert not current.ok and current.status_code == 401 and "Invalid API key" in current.error
    assert not health.available
    assert "wrong-key-abcdef" not in current.error + caplog.text


async def test_transport_errors_are_scrubbed_of_the_key(autojump_clock) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    weather = WeatherService(
        CITY, transport=httpx.MockTransport(refuse), clock=Clock(start_epoch=NOW)
    )
    async with weather:
        current = await weather.get_current_weather()
    assert not current.ok and current.error_kind == ErrorKind.TRANSPORT
    assert "appid=***" in current.error and API_KEY not in current.error


async def test_429_obeys_retry_after(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()
    fake.override(
        "/data/2.5/weather",
        lambda r: httpx.Response(429, headers={"Retry-After": "30"}, json={"cod": 429}),
    )
    async with service(fake) as weather:
        started = trio.current_time()
        current = await weather.get_current_weather()
        waited = trio.current_time() - started
    assert current.ok and waited >= 30.0
    assert fake.count("/data/2.5/weather") == 2


async def test_5xx_backoff_then_success(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()
    fake.override("/data/2.5/weather", lambda r: httpx.Response(503), lambda r: httpx.Response(502))
    async with service(fake) as weather:
        current = await weather.get_current_weather()
    assert current.ok and current.attempts == 3


@pytest.mark.parametrize(
    "body",
    [b"<html>gateway</html>", b'{"cod": 200}', b'{"weather": [], "main": {"temp": 1}, "dt": 1}'],
)
async def test_malformed_bodies_are_decode_errors(autojump_clock, body: bytes) -> None:
    fake = FakeOpenWeatherMap()
    fake.override("/data/2.5/weather", lambda r: httpx.Response(200, content=body))
    async with service(fake) as weather:
        current = await weather.get_current_weather()
    assert not current.ok and current.error_kind == ErrorKind.DECODE


async def test_an_unchanged_forecast_is_decoded_and_folded_once(autojump_clock) -> None:
    fake = FakeOpenWeatherMap()  # serves the same forecast body every time
    async with service(fake) as weather:
        first = await weather.get_weather_forecast()
        await trio.sleep(FORECAST_MIN_INTERVAL)
        second = await weather.get_weather_forecast()
        assert fake.count("/data/2.5/forecast") == 2 and not second.from_cache
        assert second.data is first.data  # the same (frozen) Forecast: not decoded again
        folded = weather._summary(first.data, 5)
        assert weather._summary(second.data, 5) is folded  # and not summarised again
