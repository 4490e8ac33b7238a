"""Weather parsing (real OpenWeatherMap payloads) and the pure atmosphere functions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.models import (
    Clouds,
    CurrentWeather,
    Forecast,
    WeatherCondition,
    WeatherReadings,
    Wind,
)
from greenhouse.services.atmosphere import (
    analyze_atmospheric_mood,
    celsius,
    conditions_changed,
    is_daytime,
    season_for,
    seasonal_influence,
    summarize_forecast,
    weather_pattern,
)

FIXTURES = Path(__file__).parent / "fixtures" / "openweathermap"


def load(name: str, kind: type = CurrentWeather):
    return msgspec.json.decode((FIXTURES / name).read_bytes(), type=kind)


LISBON = "weather.current.lisbon.captured.json"
MANILA_RAIN = "weather.current.rain.captured.json"
ZOCCA_KELVIN = "weather.current.zocca.docs-example.json"
MUNICH_SNOW = "weather.current.munich.magicmirror.json"
FORECAST = "forecast.5day3h.lisbon.captured.json"


def test_current_weather_parses_every_real_payload() -> None:
    lisbon = load(LISBON)
    assert lisbon.name == "Socorro"
    assert lisbon.condition.id == 802 and lisbon.condition.main == "Clouds"
    assert lisbon.main.temp == 22.55 and lisbon.main.humidity == 77
    assert lisbon.wind.gust == 7.6 and lisbon.clouds.all == 48
    assert lisbon.sys.sunrise == 1785562660 and lisbon.timezone == 3600
    assert load(MANILA_RAIN).rain is not None and load(MANILA_RAIN).rain.one_hour == 2.47
    munich = load(MUNICH_SNOW)
    assert [c.main for c in munich.weather] == ["Snow", "Rain"]
    assert munich.timezone == 0  # the 2019 shape has no timezone field
    assert load(ZOCCA_KELVIN).main.temp == pytest.approx(298.48)


def test_forecast_parses_forty_three_hour_steps() -> None:
    forecast = load(FORECAST, Forecast)
    assert len(forecast.entries) == 40 == forecast.cnt
    steps = {b.dt - a.dt for a, b in zip(forecast.entries, forecast.entries[1:], strict=False)}
    assert steps == {3 * 3600}
    assert forecast.city.name == "Lisbon Municipality" and forecast.city.timezone == 3600


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'{"weather": [], "main": {"temp": 1}, "dt": 1}',
        b'{"weather": "x", "main": {"temp": 1}, "dt": 1}',
    ],
)
def test_malformed_current_weather_is_a_clear_error(body: bytes) -> None:
    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
        msgspec.json.decode(body, type=CurrentWeather)


@pytest.mark.parametrize(
    ("code", "pattern"),
    [(211, "storm"), (301, "drizzle"), (501, "rain"), (615, "snow"), (741, "fog"), (781, "storm"),
     (800, "clear_skies"), (802, "partly_cloudy"), (804, "overcast")],
)  # fmt: skip
def test_weather_pattern_by_condition_code(code: int, pattern: str) -> None:
    assert weather_pattern(code) == pattern


def test_units_are_normalised_before_the_rules() -> None:
    assert celsius(298.15, "standard") == pytest.approx(25.0)
    assert celsius(77.0, "imperial") == pytest.approx(25.0)
    # Zocca is reported in Kelvin: read as metric it would be a 298 degree inferno.
    zocca = load(ZOCCA_KELVIN)
    as_kelvin = analyze_atmospheric_mood(zocca, "standard")
    as_metric = analyze_atmospheric_mood(zocca, "metric")
    assert as_metric.intensity > as_kelvin.intensity
    assert as_kelvin.weather_pattern == "rain"


def test_atmospheric_mood_of_real_payloads() -> None:
    lisbon = analyze_atmospheric_mood(load(LISBON))
    manila = analyze_atmospheric_mood(load(MANILA_RAIN))
    munich = analyze_atmospheric_mood(load(MUNICH_SNOW))
    assert lisbon.weather_pattern == "partly_cloudy" and lisbon.is_day
    assert manila.weather_pattern == "rain" and munich.weather_pattern == "snow"
    # A mild, partly cloudy day is calmer and less intense than a windy 1 C snow day.
    assert lisbon.serenity > munich.serenity
    assert munich.intensity > lisbon.intensity
    assert lisbon.energy > manila.energy  # rain is lower energy than sunshine


def _weather(
    code: int = 800,
    temp: float = 20.0,
    clouds: float = 0.0,
    wind: float = 2.0,
    dt: int = 1_000_000,
    sunrise: int | None = 990_000,
    sunset: int | None = 1_030_000,
) -> CurrentWeather:
    return msgspec.convert(
        {
            "weather": [{"id": code, "main": "X", "description": "x", "icon": "01d"}],
            "main": {"temp": temp, "humidity": 50},
            "wind": {"speed": wind},
            "clouds": {"all": clouds},
            "dt": dt,
            "sys": {"sunrise": sunrise, "sunset": sunset},
        },
        CurrentWeather,
    )


def test_storms_are_intense_and_not_serene() -> None:
    storm = analyze_atmospheric_mood(_weather(code=211, wind=15.0))
    clear = analyze_atmospheric_mood(_weather(code=800))
    assert storm.intensity > 0.9 and storm.serenity < 0.1
    assert clear.serenity > storm.serenity


def test_night_is_calmer_than_day() -> None:
    day = analyze_atmospheric_mood(_weather(dt=1_000_000))
    night = analyze_atmospheric_mood(_weather(dt=1_040_000))
    assert day.is_day and not night.is_day
    assert night.energy < day.energy and night.serenity > day.serenity


def test_daytime_falls_back_to_icon_without_sunrise() -> None:
    weather = msgspec.structs.replace(
        _weather(sunrise=None, sunset=None),
        weather=(WeatherCondition(id=800, main="Clear", icon="01n"),),
    )
    assert not is_daytime(weather)


@given(
    code=st.sampled_from([200, 232, 300, 500, 511, 600, 701, 781, 800, 801, 803, 804]),
    temp=st.floats(-60, 60),
    clouds=st.floats(0, 100),
    wind=st.floats(0, 60),
    dt=st.integers(0, 2_000_000),
    units=st.sampled_from(["metric", "imperial", "standard"]),
)
def test_mood_components_always_in_unit_range(
    code: int, temp: float, clouds: float, wind: float, dt: int, units: str
) -> None:
    mood = analyze_atmospheric_mood(_weather(code, temp, clouds, wind, dt), units)
    for value in (mood.energy, mood.focus, mood.creativity, mood.serenity, mood.intensity):
        assert 0.0 <= value <= 1.0


def test_seasons_flip_between_hemispheres() -> None:
    assert season_for(date(2026, 1, 15), 52.5) == "winter"
    assert season_for(date(2026, 1, 15), -33.9) == "summer"
    assert season_for(date(2026, 4, 1), 10.0) == "spring"
    assert season_for(date(2026, 4, 1), -10.0) == "autumn"


def test_seasonal_influence_from_real_payloads() -> None:
    lisbon = seasonal_influence(load(LISBON))  # 1 August 2026
    munich = seasonal_influence(load(MUNICH_SNOW))  # 13 January 2019
    assert lisbon.season == "summer" and lisbon.hemisphere == "north"
    assert lisbon.day_length_hours == pytest.approx((1785613679 - 1785562660) / 3600, abs=1e-3)
    assert munich.season == "winter"
    assert munich.day_length_hours is not None and munich.day_length_hours < 9
    assert lisbon.growth_factor > munich.growth_factor


def test_polar_night_has_unknown_day_length() -> None:
    influence = seasonal_influence(_weather(sunrise=0, sunset=0))
    assert influence.day_length_hours is None and influence.daylight_ratio == 0.5


def test_forecast_summary_folds_local_days() -> None:
    forecast = load(FORECAST, Forecast)
    days = summarize_forecast(forecast, days=5)
    assert len(days) == 5
    assert days[0].day == "2026-08-01"
    for day in days:
        assert day.temp_min <= day.temp_max
        assert 0.0 <= day.precipitation_probability <= 1.0
    first_day = [e for e in forecast.entries if e.dt_txt.startswith("2026-08-01")]
    assert days[0].temp_max == pytest.approx(max(e.main.temp_max for e in first_day))


def test_change_detection_ignores_small_moves() -> None:
    base = _weather(temp=20.0, clouds=40.0, wind=3.0)
    assert conditions_changed(None, base)
    assert not conditions_changed(base, _weather(temp=21.0, clouds=50.0, wind=4.0))
    assert conditions_changed(base, _weather(temp=22.5, clouds=40.0, wind=3.0))
    assert conditions_changed(base, _weather(code=501, temp=20.0, clouds=40.0, wind=3.0))
    assert conditions_changed(base, _weather(temp=20.0, clouds=80.0, wind=3.0))
    assert conditions_changed(base, _weather(temp=20.0, clouds=40.0, wind=3.0, dt=1_040_000))
    # 2 F is less than 2 C: not a change in imperial units.
    assert not conditions_changed(_weather(temp=68.0), _weather(temp=70.0), "imperial")


def test_records_are_frozen() -> None:
    reading = WeatherReadings(temp=1.0)
    with pytest.raises(AttributeError):
        reading.temp = 2.0  # type: ignore[misc]
    assert Wind().speed == 0.0 and Clouds().all == 0.0
