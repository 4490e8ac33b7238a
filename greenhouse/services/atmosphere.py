"""Weather to atmosphere: the garden's sky and mood from OpenWeatherMap readings.

Pure functions, no I/O. Temperatures are converted to Celsius and wind to m/s first, so every
rule below reads in one set of units whatever `WEATHER_UNITS` says.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

from greenhouse.models import (
    AtmosphericMood,
    CurrentWeather,
    Forecast,
    ForecastEntry,
    ForecastSummary,
    SeasonalInfluence,
)

__all__ = [
    "analyze_atmospheric_mood",
    "celsius",
    "conditions_changed",
    "is_daytime",
    "season_for",
    "seasonal_influence",
    "summarize_forecast",
    "weather_pattern",
    "wind_ms",
]

# What each sky does to the mood components (energy, focus, creativity, serenity, intensity).
_PATTERN_MOOD: dict[str, tuple[float, float, float, float, float]] = {
    "clear_skies": (0.75, 0.55, 0.60, 0.70, 0.40),
    "partly_cloudy": (0.65, 0.60, 0.65, 0.65, 0.35),
    "overcast": (0.45, 0.70, 0.55, 0.55, 0.30),
    "drizzle": (0.40, 0.70, 0.65, 0.65, 0.30),
    "rain": (0.40, 0.70, 0.70, 0.60, 0.45),
    "storm": (0.85, 0.30, 0.55, 0.10, 0.95),
    "snow": (0.50, 0.60, 0.70, 0.75, 0.40),
    "fog": (0.35, 0.55, 0.70, 0.60, 0.25),
}

# Meteorological seasons by month in the northern hemisphere; the south is six months off.
_NORTH_SEASONS = {
    12: "winter", 1: "winter", 2: "winter",
    3: "spring", 4: "spring", 5: "spring",
    6: "summer", 7: "summer", 8: "summer",
    9: "autumn", 10: "autumn", 11: "autumn",
}  # fmt: skip
_OPPOSITE = {"winter": "summer", "summer": "winter", "spring": "autumn", "autumn": "spring"}
_SEASON_GROWTH = {"spring": 0.85, "summer": 1.0, "autumn": 0.6, "winter": 0.3}


def _clamp(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


def celsius(temperature: float, units: str) -> float:
    """A temperature in the API's `units` (metric, imperial, standard) in degrees Celsius."""
    if units == "imperial":
        return (temperature - 32.0) * 5.0 / 9.0
    if units == "standard":
        return temperature - 273.15
    return temperature


def wind_ms(speed: float, units: str) -> float:
    """Wind speed in m/s (imperial reports mph)."""
    return speed * 0.44704 if units == "imperial" else speed


def weather_pattern(condition_id: int) -> str:
    """OpenWeatherMap condition code to one of the garden's sky patterns."""
    group = condition_id // 100
    if group == 2 or condition_id in (771, 781):  # thunderstorms, squalls, tornado
        return "storm"
    if group == 3:
        return "drizzle"
    if group == 5:
        return "rain"
    if group == 6:
        return "snow"
    if group == 7:
        return "fog"
    if condition_id == 800:
        return "clear_skies"
    if condition_id in (801, 802):
        return "partly_cloudy"
    return "overcast"


def is_daytime(current: CurrentWeather) -> bool:
    """Whether the sun is up at the observation time (the icon's d/n when sunrise is unknown)."""
    sunrise, sunset = current.sys.sunrise, current.sys.sunset
    if sunrise and sunset and sunrise != sunset:
        return sunrise <= current.dt < sunset
    icon = current.weather[0].icon if current.weather else ""
    return not icon.endswith("n")


def analyze_atmospheric_mood(current: CurrentWeather, units: str = "metric") -> AtmosphericMood:
    """The weather's contribution to the garden's mood, all components in [0, 1].

    Starts from the sky pattern, then: comfortable temperatures (15-24 C) lift serenity and
    energy, extremes raise intensity and cost focus; strong wind raises intensity and costs
    serenity; heavy precipitation raises intensity; night lowers energy and raises serenity.
    """
    condition = current.condition
    pattern = weather_pattern(condition.id)
    energy, focus, creativity, serenity, intensity = _PATTERN_MOOD[pattern]

    temp = celsius(current.main.temp, units)
    if 15.0 <= temp <= 24.0:
        serenity += 0.1
        energy += 0.05
    else:
        distance = (15.0 - temp) if temp < 15.0 else (temp - 24.0)
        strain = min(1.0, distance / 20.0)  # 20 degrees outside the comfort band is the maximum
        intensity += 0.3 * strain
        focus -= 0.2 * strain
        serenity -= 0.15 * strain
        if temp > 24.0:
            energy -= 0.15 * strain  # heat makes sluggish; cold does not

    wind = wind_ms(current.wind.speed, units)
    if wind > 8.0:  # fresh breeze and up
        gust = min(1.0, (wind - 8.0) / 12.0)
        intensity += 0.3 * gust
        serenity -= 0.25 * gust
        energy += 0.1 * gust

    volume = 0.0
    for fall in (current.rain, current.snow):
        if fall is not None:
            volume += fall.one_hour or (fall.three_hours or 0.0) / 3.0
    if volume > 4.0:  # heavy rain or snow (mm/h)
        intensity += min(0.2, (volume - 4.0) / 20.0)

    day = is_daytime(current)
    if not day:
        energy -= 0.15
        serenity += 0.1
        creativity += 0.05

    description = condition.description or condition.main.lower()
    return AtmosphericMood(
        energy=round(_clamp(energy), 4),
        focus=round(_clamp(focus), 4),
        creativity=round(_clamp(creativity), 4),
        serenity=round(_clamp(serenity), 4),
        intensity=round(_clamp(intensity), 4),
        weather_pattern=pattern,
        is_day=day,
        description=description,
    )


def season_for(day: date, latitude: float) -> str:
    """Meteorological season for a date at a latitude (the southern hemisphere is flipped)."""
    north = _NORTH_SEASONS[day.month]
    return north if latitude >= 0 else _OPPOSITE[north]


def seasonal_influence(current: CurrentWeather) -> SeasonalInfluence:
    """Season from the observation's local date and hemisphere; day length from sunrise/sunset."""
    latitude = current.coord.lat if current.coord is not None else 0.0
    local = datetime.fromtimestamp(current.dt + current.timezone, tz=UTC).date()
    season = season_for(local, latitude)
    sunrise, sunset = current.sys.sunrise, current.sys.sunset
    # Polar day and night report no (or equal) sunrise and sunset: the day length is unknown.
    day_hours = (sunset - sunrise) / 3600 if sunrise and sunset and sunset > sunrise else None
    ratio = day_hours / 24 if day_hours is not None else 0.5
    # Sixteen hours of light is as good as it gets for growing; the season weighs more.
    light = min(1.0, day_hours / 16) if day_hours is not None else 0.5
    growth = 0.6 * _SEASON_GROWTH[season] + 0.4 * light
    return SeasonalInfluence(
        season=season,
        hemisphere="north" if latitude >= 0 else "south",
        day_length_hours=round(day_hours, 3) if day_hours is not None else None,
        daylight_ratio=round(_clamp(ratio), 4),
        growth_factor=round(_clamp(growth), 4),
    )


def summarize_forecast(forecast: Forecast, days: int = 5) -> tuple[ForecastSummary, ...]:
    """Fold the 3-hour steps into at most `days` local days (min/max in the API's units)."""
    shift = forecast.city.timezone
    grouped: dict[str, list[ForecastEntry]] = {}
    for entry in forecast.entries:
        day = datetime.fromtimestamp(entry.dt + shift, tz=UTC).date().isoformat()
        grouped.setdefault(day, []).append(entry)
    summaries = []
    for day in sorted(grouped)[:days]:
        entries = grouped[day]
        lows = [e.main.temp_min if e.main.temp_min is not None else e.main.temp for e in entries]
        highs = [e.main.temp_max if e.main.temp_max is not None else e.main.temp for e in entries]
        conditions = Counter(e.weather[0].main for e in entries if e.weather)
        summaries.append(
            ForecastSummary(
                day=day,
                temp_min=round(min(lows), 2),
                temp_max=round(max(highs), 2),
                precipitation_probability=round(max(e.pop for e in entries), 2),
                dominant_condition=conditions.most_common(1)[0][0] if conditions else "unknown",
            )
        )
    return tuple(summaries)


def conditions_changed(
    old: CurrentWeather | None, new: CurrentWeather, units: str = "metric"
) -> bool:
    """Whether the change from `old` to `new` is worth a `weather_updated` event.

    Meaningful: the sky pattern changes, day turns to night, the temperature moves 2 C or more,
    cloud cover moves 25 points or more, or the wind moves 5 m/s or more.
    """
    if old is None:
        return True
    if weather_pattern(old.condition.id) != weather_pattern(new.condition.id):
        return True
    if is_daytime(old) != is_daytime(new):
        return True
    if abs(celsius(new.main.temp, units) - celsius(old.main.temp, units)) >= 2.0:
        return True
    if abs(new.clouds.all - old.clouds.all) >= 25:
        return True
    return abs(wind_ms(new.wind.speed, units) - wind_ms(old.wind.speed, units)) >= 5.0
