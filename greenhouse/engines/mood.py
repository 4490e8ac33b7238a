"""The mood engine: the garden's atmosphere from music, weather, coding and the time of day.

Pure and deterministic: `synthesize_current_mood(inputs, now, config)` reads nothing but its
arguments. Each source gives the five components (energy, focus, creativity, serenity,
intensity, all in [0, 1]); they are averaged with the configured influence weights (music 0.4,
weather 0.3, productivity 0.2, time of day 0.1), renormalised over the sources that are present
and fresh. A source older than its "fresh" age fades linearly to nothing at its "gone" age; the
music estimate made without audio features counts with its own confidence.

The atmosphere is chosen by readable rules over the components, the time of day, the season
and the weather pattern (`choose_atmosphere`), and the reasons are returned with the result.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from greenhouse.config import MoodConfig

__all__ = [
    "ATMOSPHERES",
    "COMPONENTS",
    "WEATHER_PATTERNS",
    "MoodInputs",
    "MoodSynthesis",
    "MusicSignal",
    "ProductivitySignal",
    "WeatherSignal",
    "choose_atmosphere",
    "season_for",
    "should_announce",
    "synthesize_current_mood",
]

COMPONENTS = ("energy", "focus", "creativity", "serenity", "intensity")
ATMOSPHERES = (
    "serene_morning",
    "energetic_noon",
    "focused_afternoon",
    "creative_evening",
    "contemplative_night",
    "stormy_intensity",
    "misty_mystery",
    "winter_calm",
    "spring_growth",
    "summer_vitality",
    "autumn_reflection",
)
WEATHER_PATTERNS = (
    "clear_skies",
    "gentle_breeze",
    "soft_rain",
    "heavy_rain",
    "thunderstorm",
    "misty_fog",
    "snow_fall",
    "aurora_lights",
    "rainbow",
)


class MusicSignal(msgspec.Struct, frozen=True, kw_only=True):
    """What is playing. Audio features in [0, 1] (tempo in BPM); None when unknown."""

    at: float
    is_playing: bool = True
    valence: float | None = None
    energy: float | None = None
    tempo: float | None = None
    acousticness: float | None = None
    instrumentalness: float | None = None
    confidence: float = 1.0  # 1 for real audio features; the estimate's own confidence otherwise
    track: str | None = None


class WeatherSignal(msgspec.Struct, frozen=True, kw_only=True):
    """Current conditions (OpenWeatherMap vocabulary for `condition`: Clear, Rain, ...)."""

    at: float
    condition: str = "Clear"
    temperature: float | None = None  # Celsius
    clouds: float | None = None  # percent
    rain_mm_h: float | None = None
    snow_mm_h: float | None = None
    wind_speed: float | None = None  # m/s
    is_day: bool | None = None
    sunrise: float | None = None
    sunset: float | None = None
    latitude: float | None = None


class ProductivitySignal(msgspec.Struct, frozen=True, kw_only=True):
    """Recent coding time against the person's own baseline for the same span."""

    at: float
    recent_seconds: float
    baseline_seconds: float | None = None  # the usual amount for the same span; None: unknown
    project_seconds: dict[str, float] = {}  # per project, for the growth engine


class MoodInputs(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the mood engine looks at; any source may be missing."""

    music: MusicSignal | None = None
    weather: WeatherSignal | None = None
    productivity: ProductivitySignal | None = None


class MoodSynthesis(msgspec.Struct, frozen=True, kw_only=True):
    """The garden's mood at one moment, with how it was reached."""

    at: float
    energy: float
    focus: float
    creativity: float
    serenity: float
    intensity: float
    atmosphere: str
    weather_pattern: str
    season: str
    time_of_day: str
    sources: dict[str, float]  # source -> weight actually used (sums to 1)
    confidence: float  # share of the full designed influence that was available
    reasons: tuple[str, ...] = ()

    def components(self) -> dict[str, float]:
        """The five components by name."""
        return {name: getattr(self, name) for name in COMPONENTS}


Components = dict[str, float]
Vector = tuple[float, float, float, float, float]  # the components in `COMPONENTS` order


def _clamp(value: float) -> float:
    if value != value:
        return 0.5
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


def _unit(value: float | None, default: float = 0.5) -> float:
    return default if value is None else _clamp(value)


def _fade(age: float, freshness: tuple[float, float]) -> float:
    fresh, gone = freshness
    if age <= fresh:
        return 1.0
    if age >= gone or gone <= fresh:
        return 0.0
    return (gone - age) / (gone - fresh)


# -- per-source components ---------------------------------------------------------------------


def music_components(music: MusicSignal) -> Components:
    """Fast, loud, happy music lifts energy and intensity; slow acoustic music brings serenity."""
    return dict(zip(COMPONENTS, _music_vector(music), strict=True))


# The per-source vectors are memoised: a synthesis runs every few minutes on inputs that mostly
# did not change (the same track, the same weather reading, the same minute of the day).
@lru_cache(maxsize=64)
def _music_vector(music: MusicSignal) -> Vector:
    valence = _unit(music.valence)
    energy = _unit(music.energy)
    tempo = 0.5 if music.tempo is None else _clamp((music.tempo - 60.0) / 120.0)
    acoustic = _unit(music.acousticness)
    instrumental = _unit(music.instrumentalness, acoustic)
    return (
        0.6 * energy + 0.25 * tempo + 0.15 * (1 - acoustic),
        0.6 * _clamp(1 - abs(energy - 0.45) * 1.6) + 0.4 * instrumental,
        0.45 * valence + 0.35 * _clamp(1 - abs(tempo - 0.5) * 2) + 0.2 * acoustic,
        0.4 * (1 - energy) + 0.3 * acoustic + 0.3 * (1 - tempo),
        0.5 * energy + 0.3 * tempo + 0.2 * (1 - valence),
    )


def _storminess(weather: WeatherSignal) -> float:
    condition = weather.condition.lower()
    if "thunder" in condition:
        return 1.0
    if "squall" in condition or "tornado" in condition:
        return 0.8
    return 0.0


def _daylight(weather: WeatherSignal, now: float) -> float:
    if weather.sunrise is not None and weather.sunset is not None:
        return 1.0 if weather.sunrise <= now <= weather.sunset else 0.0
    if weather.is_day is not None:
        return 1.0 if weather.is_day else 0.0
    return 0.5


# The season's own colour, blended into the weather's components (15 %): long summer days lift
# energy, winter settles towards serenity, spring is creative, autumn reflective.
SEASON_COMPONENTS: dict[str, Components] = {
    "winter": {"energy": 0.3, "focus": 0.6, "creativity": 0.5, "serenity": 0.7, "intensity": 0.3},
    "spring": {"energy": 0.6, "focus": 0.5, "creativity": 0.7, "serenity": 0.6, "intensity": 0.4},
    "summer": {"energy": 0.8, "focus": 0.4, "creativity": 0.6, "serenity": 0.5, "intensity": 0.6},
    "autumn": {"energy": 0.45, "focus": 0.6, "creativity": 0.65, "serenity": 0.6, "intensity": 0.35},
}
SEASON_SHARE = 0.15


def weather_components(weather: WeatherSignal, now: float, season: str | None = None) -> Components:
    """Warm bright days energise, soft rain calms and invites focus, storms are intense."""
    vector = _weather_vector(weather, _daylight(weather, now), season or "")
    return dict(zip(COMPONENTS, vector, strict=True))


@lru_cache(maxsize=64)
def _weather_vector(weather: WeatherSignal, daylight: float, season: str) -> Vector:
    sky = _sky_vector(weather, daylight)
    colour = SEASON_COMPONENTS.get(season)
    if colour is None:
        return sky
    return tuple(  # type: ignore[return-value]
        (1 - SEASON_SHARE) * value + SEASON_SHARE * colour[name]
        for name, value in zip(COMPONENTS, sky, strict=True)
    )


def _sky_vector(weather: WeatherSignal, daylight: float) -> Vector:
    storm = _storminess(weather)
    rain = _clamp((weather.rain_mm_h or 0.0) / 8.0)
    if weather.rain_mm_h is None and weather.condition.lower() in ("rain", "drizzle"):
        rain = 0.25
    wind = _clamp((weather.wind_speed or 0.0) / 15.0)
    clouds = _unit(None if weather.clouds is None else weather.clouds / 100.0)
    warmth = 0.5 if weather.temperature is None else _clamp(weather.temperature / 30.0)
    gentle_rain = rain * (1 - rain) * 4 * (1 - storm)  # peaks for soft rain, 0 for none or storm
    return (
        0.35 * daylight + 0.3 * warmth + 0.2 * (1 - clouds) + 0.15 * max(wind, storm),
        0.4 * clouds + 0.3 * gentle_rain + 0.3 * (1 - wind),
        0.4 * gentle_rain + 0.3 * clouds + 0.3 * (1 - storm),
        0.35 * (1 - wind) + 0.35 * (1 - storm) + 0.3 * max(gentle_rain, 1 - clouds),
        0.5 * storm + 0.25 * wind + 0.25 * rain,
    )


def productivity_components(productivity: ProductivitySignal) -> Components:
    """Coding more than usual raises energy, focus and (well past the usual) intensity."""
    vector = _productivity_vector(productivity.recent_seconds, productivity.baseline_seconds)
    return dict(zip(COMPONENTS, vector, strict=True))


@lru_cache(maxsize=64)
def _productivity_vector(recent_seconds: float, baseline: float | None) -> Vector:
    recent = max(0.0, recent_seconds)
    ratio = recent / baseline if baseline and baseline > 0 else recent / 7200.0
    if not math.isfinite(ratio):
        ratio = 1e6
    level = ratio / (1.0 + ratio)  # 0 idle, 0.5 usual, towards 1 far above usual
    sprint = _clamp((ratio - 1.0) / 2.0)
    return (
        0.3 + 0.6 * level,
        level,
        0.4 + 0.2 * level,
        0.7 - 0.5 * level,
        0.15 + 0.85 * sprint,
    )


def time_of_day_components(hour: float) -> Components:
    """A circadian curve: alert late morning and early evening, low before dawn."""
    return dict(zip(COMPONENTS, _time_of_day_vector(hour), strict=True))


@lru_cache(maxsize=2048)  # the engine asks by the minute: at most 1440 hours a day
def _time_of_day_vector(hour: float) -> Vector:
    # Alertness: a daily cosine peaking near 15:00 and bottoming near 03:00, with a lunch dip.
    alert = 0.5 + 0.4 * math.cos((hour - 15.0) / 24.0 * 2 * math.pi)
    alert -= 0.1 * math.exp(-((hour - 13.5) ** 2) / 2.0)
    night = 0.5 + 0.5 * math.cos((hour - 2.0) / 24.0 * 2 * math.pi)  # 1 at 02:00, 0 at 14:00
    morning = math.exp(-((hour - 7.5) ** 2) / 6.0)
    evening = math.exp(-((hour - 20.0) ** 2) / 8.0)
    return (
        alert,
        0.3 + 0.6 * math.exp(-((hour - 10.5) ** 2) / 10.0) + 0.1 * alert,
        0.3 + 0.4 * evening + 0.3 * night,
        0.3 + 0.4 * morning + 0.3 * night,
        0.2 + 0.3 * alert,
    )


# -- context -------------------------------------------------------------------------------------


def season_for(moment: datetime, latitude: float | None) -> str:
    """Meteorological season for the date, flipped in the southern hemisphere."""
    seasons = ("winter", "spring", "summer", "autumn")
    index = (moment.month % 12) // 3
    if latitude is not None and latitude < 0:
        index = (index + 2) % 4
    return seasons[index]


def time_of_day(hour: float) -> str:
    """morning 5-11, noon 11-14, afternoon 14-18, evening 18-22, night otherwise."""
    if 5 <= hour < 11:
        return "morning"
    if 11 <= hour < 14:
        return "noon"
    if 14 <= hour < 18:
        return "afternoon"
    if 18 <= hour < 22:
        return "evening"
    return "night"


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def weather_pattern(
    weather: WeatherSignal | None,
    components: Components,
    period: str,
    previous_pattern: str | None,
) -> str:
    """The sky to draw: from the weather when known, with the aurora and rainbow as rare treats."""
    if weather is not None:
        condition = weather.condition.lower()
        rain = weather.rain_mm_h or 0.0
        if _storminess(weather) >= 0.8:
            return "thunderstorm"
        if condition == "snow" or (weather.snow_mm_h or 0.0) > 0:
            return "snow_fall"
        if condition in ("rain", "drizzle") or rain > 0:
            return "heavy_rain" if rain >= 4.0 else "soft_rain"
        if condition in ("mist", "fog", "haze", "smoke", "dust", "sand", "ash"):
            return "misty_fog"
        daylight = weather.is_day is not False
        if previous_pattern in ("soft_rain", "heavy_rain") and daylight:
            return "rainbow"  # the rain just stopped and the sun is up
        clear = (weather.clouds or 0.0) < 30
        if period == "night" and clear and components["serenity"] >= 0.6:
            return "aurora_lights"
        if (weather.wind_speed or 0.0) >= 5.0 or (weather.clouds or 0.0) >= 50:
            return "gentle_breeze"
        return "clear_skies"
    if components["intensity"] >= 0.7:
        return "thunderstorm"
    if period == "night" and components["serenity"] >= 0.6 and components["creativity"] >= 0.6:
        return "aurora_lights"
    if components["energy"] >= 0.6:
        return "gentle_breeze"
    return "clear_skies"


def choose_atmosphere(
    components: Components,
    period: str,
    season: str,
    pattern: str,
    previous: str | None = None,
    margin: float = 0.0,
) -> tuple[str, str]:
    """The atmosphere and the one rule that chose it, checked in order.

    Hysteresis: the rule of the `previous` atmosphere has its threshold relaxed by `margin`, so a
    component wobbling just around a threshold does not make the sky flap.
    """

    def at_least(value: float, threshold: float, name: str) -> bool:
        return value >= threshold - (margin if name == previous else 0.0)

    def below(value: float, threshold: float, name: str) -> bool:
        return value < threshold + (margin if name == previous else 0.0)

    energy, focus = components["energy"], components["focus"]
    creativity, serenity = components["creativity"], components["serenity"]
    intensity = components["intensity"]
    storm = "stormy_intensity"
    if at_least(intensity, 0.6, storm) or (
        pattern == "thunderstorm" and at_least(intensity, 0.45, storm)
    ):
        return storm, f"intensity {intensity:.2f} (sky: {pattern})"
    if pattern == "misty_fog":
        return "misty_mystery", "fog or mist outside"
    if season == "winter" and pattern == "snow_fall" and below(energy, 0.55, "winter_calm"):
        return "winter_calm", f"snow falling, energy {energy:.2f}"
    if period == "morning" and at_least(serenity, 0.5, "serene_morning"):
        return "serene_morning", f"morning, serenity {serenity:.2f}"
    if period == "noon" and at_least(energy, 0.55, "energetic_noon"):
        return "energetic_noon", f"midday, energy {energy:.2f}"
    if period == "afternoon" and at_least(focus, 0.5, "focused_afternoon"):
        return "focused_afternoon", f"afternoon, focus {focus:.2f}"
    if period == "evening" and at_least(creativity, 0.5, "creative_evening"):
        return "creative_evening", f"evening, creativity {creativity:.2f}"
    if period == "night" and below(energy, 0.55, "contemplative_night"):
        return "contemplative_night", f"night, energy {energy:.2f}"
    by_season = {
        "winter": "winter_calm",
        "spring": "spring_growth",
        "summer": "summer_vitality",
        "autumn": "autumn_reflection",
    }
    return by_season[season], f"no time-of-day mood stood out; {season} sets the tone"


def synthesize_current_mood(
    inputs: MoodInputs,
    now: float,
    config: MoodConfig | None = None,
    *,
    previous: MoodSynthesis | None = None,
) -> MoodSynthesis:
    """Blend the available, fresh sources into one mood and pick its atmosphere."""
    config = config or MoodConfig()
    local = datetime.fromtimestamp(now, tz=_zone(config.timezone))
    hour = local.hour + local.minute / 60.0
    latitude = config.latitude
    if inputs.weather is not None and inputs.weather.latitude is not None:
        latitude = inputs.weather.latitude
    season = season_for(local, latitude)
    weights = config.weights
    # (source, weight actually used before normalising, its components), in a fixed order.
    used: list[tuple[str, float, Vector]] = []
    music = inputs.music
    if music is not None and music.is_playing:
        factor = _fade(now - music.at, config.music_freshness) * _clamp(music.confidence)
        weight = weights.get("music", 0.0) * factor
        if weight > 0:
            used.append(("music", weight, _music_vector(music)))
    weather = inputs.weather
    if weather is not None:
        weight = weights.get("weather", 0.0) * _fade(now - weather.at, config.weather_freshness)
        if weight > 0:
            daylight = _daylight(weather, now)
            used.append(("weather", weight, _weather_vector(weather, daylight, season)))
    productivity = inputs.productivity
    if productivity is not None:
        fade = _fade(now - productivity.at, config.productivity_freshness)
        weight = weights.get("productivity", 0.0) * fade
        if weight > 0:
            vector = _productivity_vector(
                productivity.recent_seconds, productivity.baseline_seconds
            )
            used.append(("productivity", weight, vector))
    weight = weights.get("time_of_day", 0.0)
    if weight > 0:
        used.append(("time_of_day", weight, _time_of_day_vector(hour)))

    designed = sum(w for w in weights.values() if w > 0)
    if not used:  # every weight switched off: fall back to the clock alone
        used = [("time_of_day", 1.0, _time_of_day_vector(hour))]
        designed = 1.0
    total = sum(weight for _, weight, _ in used)
    sources: dict[str, float] = {}
    energy = focus = creativity = serenity = intensity = 0.0
    for name, weight, vector in used:  # summed in source order, as `sum` over the sources
        share = sources[name] = weight / total
        energy += share * vector[0]
        focus += share * vector[1]
        creativity += share * vector[2]
        serenity += share * vector[3]
        intensity += share * vector[4]
    blended = {
        "energy": _clamp(energy),
        "focus": _clamp(focus),
        "creativity": _clamp(creativity),
        "serenity": _clamp(serenity),
        "intensity": _clamp(intensity),
    }
    period = time_of_day(hour)
    weather_in_use = weather if "weather" in sources else None
    pattern = weather_pattern(
        weather_in_use, blended, period, previous.weather_pattern if previous else None
    )
    atmosphere, reason = choose_atmosphere(
        blended,
        period,
        season,
        pattern,
        previous.atmosphere if previous else None,
        config.atmosphere_hysteresis,
    )
    return MoodSynthesis(
        at=now,
        atmosphere=atmosphere,
        weather_pattern=pattern,
        season=season,
        time_of_day=period,
        sources=sources,
        confidence=_clamp(total / designed) if designed > 0 else 0.0,
        reasons=(reason, _sources_reason(tuple(sorted(sources.items())))),
        **blended,
    )


@lru_cache(maxsize=256)  # the shares repeat while no source fades
def _sources_reason(shares: tuple[tuple[str, float], ...]) -> str:
    return "sources: " + ", ".join(f"{name} {weight:.2f}" for name, weight in shares)


def should_announce(
    old: MoodSynthesis | None, new: MoodSynthesis, energy_threshold: float
) -> bool:
    """Publish `atmosphere_changed` only on a new atmosphere or a large energy move."""
    if old is None:
        return True
    return old.atmosphere != new.atmosphere or abs(new.energy - old.energy) > energy_threshold
