"""The mood engine: ranges, weights, freshness, determinism, atmospheres and trends."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.config import MoodConfig
from greenhouse.engines.mood import (
    ATMOSPHERES,
    COMPONENTS,
    WEATHER_PATTERNS,
    MoodInputs,
    MusicSignal,
    ProductivitySignal,
    WeatherSignal,
    music_components,
    productivity_components,
    season_for,
    should_announce,
    synthesize_current_mood,
    time_of_day_components,
    weather_components,
)
from greenhouse.engines.mood_trends import MoodSample, mood_trends, turning_points

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp()


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


anything = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
moments = st.floats(min_value=NOW - 2 * 86400, max_value=NOW + 600)

musics = st.builds(
    MusicSignal,
    at=moments,
    is_playing=st.booleans(),
    valence=anything,
    energy=anything,
    tempo=anything,
    acousticness=anything,
    instrumentalness=anything,
    confidence=st.floats(min_value=-1, max_value=2),
)
weathers = st.builds(
    WeatherSignal,
    at=moments,
    condition=st.sampled_from(["Clear", "Clouds", "Rain", "Drizzle", "Thunderstorm", "Snow",
                               "Mist", "Fog", "Tornado", "Squall", "Whatever"]),
    temperature=anything,
    clouds=anything,
    rain_mm_h=anything,
    snow_mm_h=anything,
    wind_speed=anything,
    is_day=st.one_of(st.none(), st.booleans()),
    latitude=st.one_of(st.none(), st.floats(min_value=-90, max_value=90)),
)
productivities = st.builds(
    ProductivitySignal,
    at=moments,
    recent_seconds=st.floats(min_value=0, max_value=1e12),
    baseline_seconds=st.one_of(st.none(), st.floats(min_value=0, max_value=1e12)),
)
inputs = st.builds(
    MoodInputs,
    music=st.one_of(st.none(), musics),
    weather=st.one_of(st.none(), weathers),
    productivity=st.one_of(st.none(), productivities),
)
clock = st.floats(min_value=NOW - 366 * 86400, max_value=NOW + 366 * 86400)


@given(inputs, clock)
def test_components_in_range_and_weights_sum_to_one(mood_inputs: MoodInputs, now: float) -> None:
    mood = synthesize_current_mood(mood_inputs, now)
    for name in COMPONENTS:
        assert 0.0 <= getattr(mood, name) <= 1.0, name
    assert math.isclose(sum(mood.sources.values()), 1.0)
    assert all(weight > 0 for weight in mood.sources.values())
    assert 0.0 <= mood.confidence <= 1.0
    assert mood.atmosphere in ATMOSPHERES
    assert mood.weather_pattern in WEATHER_PATTERNS


@given(inputs, clock)
def test_mood_is_deterministic_for_the_same_inputs_and_clock(
    mood_inputs: MoodInputs, now: float
) -> None:
    assert synthesize_current_mood(mood_inputs, now) == synthesize_current_mood(mood_inputs, now)


@given(inputs, clock)
def test_the_blend_is_the_shares_times_each_sources_components(
    mood_inputs: MoodInputs, now: float
) -> None:
    mood = synthesize_current_mood(mood_inputs, now)
    local = datetime.fromtimestamp(now, tz=UTC)
    parts = {"time_of_day": time_of_day_components(local.hour + local.minute / 60.0)}
    if mood_inputs.music is not None:
        parts["music"] = music_components(mood_inputs.music)
    if mood_inputs.weather is not None:
        parts["weather"] = weather_components(mood_inputs.weather, now, mood.season)
    if mood_inputs.productivity is not None:
        parts["productivity"] = productivity_components(mood_inputs.productivity)
    for name in COMPONENTS:
        expected = sum(share * parts[source][name] for source, share in mood.sources.items())
        assert getattr(mood, name) == pytest.approx(min(1.0, max(0.0, expected)), abs=1e-9)


def test_remembered_components_follow_every_change_of_a_source() -> None:
    # The per-source components are memoised: a signal that differs in one field is its own.
    calm = MusicSignal(at=NOW, valence=0.5, energy=0.1, tempo=70, acousticness=0.9)
    loud = msgspec.structs.replace(calm, energy=0.95, tempo=170)
    inputs_calm, inputs_loud = MoodInputs(music=calm), MoodInputs(music=loud)
    first = synthesize_current_mood(inputs_calm, NOW)
    assert synthesize_current_mood(inputs_loud, NOW).energy > first.energy
    assert synthesize_current_mood(inputs_calm, NOW) == first
    wet = WeatherSignal(at=NOW, condition="Rain", rain_mm_h=1.0, clouds=90)
    storm = msgspec.structs.replace(wet, condition="Thunderstorm", rain_mm_h=9.0)
    assert (
        synthesize_current_mood(MoodInputs(weather=storm), NOW).intensity
        > synthesize_current_mood(MoodInputs(weather=wet), NOW).intensity
    )


def test_weights_follow_the_design_and_renormalise() -> None:
    full = MoodInputs(
        music=MusicSignal(at=NOW, valence=0.5, energy=0.5, tempo=120, acousticness=0.5),
        weather=WeatherSignal(at=NOW, condition="Clear", temperature=20, clouds=0),
        productivity=ProductivitySignal(at=NOW, recent_seconds=3600, baseline_seconds=3600),
    )
    mood = synthesize_current_mood(full, NOW)
    assert mood.sources == pytest.approx(
        {"music": 0.4, "weather": 0.3, "productivity": 0.2, "time_of_day": 0.1}
    )
    assert mood.confidence == pytest.approx(1.0)
    no_music = synthesize_current_mood(MoodInputs(weather=full.weather), NOW)
    assert no_music.sources == pytest.approx({"weather": 0.75, "time_of_day": 0.25})
    assert no_music.confidence == pytest.approx(0.4)


def test_stale_sources_fade_out_and_estimates_count_with_their_confidence() -> None:
    config = MoodConfig()
    fresh, gone = config.music_freshness
    music = MusicSignal(at=NOW, energy=0.9, valence=0.9, tempo=160)
    halfway = synthesize_current_mood(MoodInputs(music=music), NOW + (fresh + gone) / 2)
    # Half faded: music weighs 0.2 against time of day's 0.1.
    assert halfway.sources["music"] == pytest.approx(0.2 / 0.3)
    gone_mood = synthesize_current_mood(MoodInputs(music=music), NOW + gone + 1)
    assert "music" not in gone_mood.sources
    paused = MusicSignal(at=NOW, energy=0.9, is_playing=False)
    assert "music" not in synthesize_current_mood(MoodInputs(music=paused), NOW).sources
    estimate = MusicSignal(at=NOW, energy=0.7, confidence=0.25)  # fallback without audio features
    mood = synthesize_current_mood(MoodInputs(music=estimate), NOW)
    assert mood.sources["music"] == pytest.approx(0.1 / 0.2)
    assert mood.confidence == pytest.approx(0.2)


SUNDAY_MORNING = at(2026, 11, 22, 9)  # a Sunday
LATE_NIGHT = at(2026, 11, 25, 1, 30)


@pytest.mark.parametrize(
    ("label", "mood_inputs", "now", "atmosphere", "pattern"),
    [
        (
            "serene rainy Sunday morning with slow music",
            MoodInputs(
                music=MusicSignal(at=SUNDAY_MORNING - 60, valence=0.35, energy=0.2, tempo=72,
                                  acousticness=0.9, instrumentalness=0.6),
                weather=WeatherSignal(at=SUNDAY_MORNING - 600, condition="Rain", temperature=11,
                                      clouds=90, rain_mm_h=1.2, wind_speed=2.0, is_day=True),
                productivity=ProductivitySignal(at=SUNDAY_MORNING - 300, recent_seconds=0,
                                                baseline_seconds=3600),
            ),
            SUNDAY_MORNING,
            "serene_morning",
            "soft_rain",
        ),
        (
            "thunderstorm, late-night coding sprint, fast music",
            MoodInputs(
                music=MusicSignal(at=LATE_NIGHT - 60, valence=0.5, energy=0.92, tempo=174,
                                  acousticness=0.02),
                weather=WeatherSignal(at=LATE_NIGHT - 600, condition="Thunderstorm",
                                      temperature=18, clouds=100, rain_mm_h=9, wind_speed=14,
                                      is_day=False),
                productivity=ProductivitySignal(at=LATE_NIGHT - 300, recent_seconds=4 * 3600,
                                                baseline_seconds=3600),
            ),
            LATE_NIGHT,
            "stormy_intensity",
            "thunderstorm",
        ),
        (
            "quiet clear night, nothing playing",
            MoodInputs(
                weather=WeatherSignal(at=LATE_NIGHT, condition="Clear", temperature=5, clouds=0,
                                      wind_speed=0.5, is_day=False),
            ),
            LATE_NIGHT,
            "contemplative_night",
            "aurora_lights",
        ),
        (
            "foggy afternoon",
            MoodInputs(weather=WeatherSignal(at=at(2026, 11, 26, 15), condition="Fog", clouds=100,
                                              is_day=True)),
            at(2026, 11, 26, 15),
            "misty_mystery",
            "misty_fog",
        ),
        (
            "snowy winter evening, calm",
            MoodInputs(
                music=MusicSignal(at=at(2027, 1, 10, 23), energy=0.15, tempo=65,
                                  acousticness=0.95, valence=0.3),
                weather=WeatherSignal(at=at(2027, 1, 10, 23), condition="Snow", snow_mm_h=0.5,
                                      temperature=-3, clouds=100, is_day=False),
            ),
            at(2027, 1, 10, 23),
            "winter_calm",
            "snow_fall",
        ),
        (
            "sunny summer noon, upbeat music, a good coding day",
            MoodInputs(
                music=MusicSignal(at=at(2026, 7, 1, 12), valence=0.9, energy=0.8, tempo=128,
                                  acousticness=0.1),
                weather=WeatherSignal(at=at(2026, 7, 1, 12), condition="Clear", temperature=27,
                                      clouds=5, wind_speed=2, is_day=True),
                productivity=ProductivitySignal(at=at(2026, 7, 1, 12), recent_seconds=3600,
                                                baseline_seconds=3600),
            ),
            at(2026, 7, 1, 12),
            "energetic_noon",
            "clear_skies",
        ),
    ],
)
def test_hand_built_scenes_give_the_expected_atmosphere(
    label: str, mood_inputs: MoodInputs, now: float, atmosphere: str, pattern: str
) -> None:
    mood = synthesize_current_mood(mood_inputs, now)
    assert mood.atmosphere == atmosphere, (label, mood)
    assert mood.weather_pattern == pattern, (label, mood)
    assert mood.reasons  # explainable: the rule that chose it is reported


def test_rainbow_follows_rain_when_the_sun_comes_out() -> None:
    rain = MoodInputs(weather=WeatherSignal(at=NOW, condition="Rain", rain_mm_h=2, is_day=True))
    rainy = synthesize_current_mood(rain, NOW)
    assert rainy.weather_pattern == "soft_rain"
    sun = MoodInputs(weather=WeatherSignal(at=NOW + 600, condition="Clear", clouds=40,
                                           is_day=True))
    after = synthesize_current_mood(sun, NOW + 600, previous=rainy)
    assert after.weather_pattern == "rainbow"
    assert synthesize_current_mood(sun, NOW + 1200, previous=after).weather_pattern != "rainbow"


def test_time_zone_moves_the_time_of_day() -> None:
    utc = synthesize_current_mood(MoodInputs(), at(2026, 11, 26, 22))
    tokyo = synthesize_current_mood(MoodInputs(), at(2026, 11, 26, 22),
                                    MoodConfig(timezone="Asia/Tokyo"))
    assert (utc.time_of_day, tokyo.time_of_day) == ("night", "morning")


def test_seasons_flip_south_of_the_equator() -> None:
    july = datetime(2026, 7, 1, tzinfo=UTC)
    assert season_for(july, 52.0) == "summer"
    assert season_for(july, -33.9) == "winter"
    assert season_for(datetime(2026, 12, 1, tzinfo=UTC), None) == "winter"


def test_announce_only_on_atmosphere_change_or_big_energy_move() -> None:
    base = synthesize_current_mood(MoodInputs(), NOW)
    same = synthesize_current_mood(MoodInputs(), NOW + 60)
    assert should_announce(None, base, 0.15)
    assert not should_announce(base, same, 0.15)
    moved = msgspec.structs.replace(same, energy=min(1.0, base.energy + 0.2))
    assert should_announce(base, moved, 0.15)
    other = msgspec.structs.replace(same, atmosphere="misty_mystery")
    assert should_announce(base, other, 0.15)


def test_turning_points_find_peaks_and_troughs() -> None:
    series = [(0, 0.2), (1, 0.4), (2, 0.7), (3, 0.5), (4, 0.3), (5, 0.32), (6, 0.6)]
    points = turning_points(series, 0.1)
    assert [(p.at, p.kind) for p in points] == [(2, "peak"), (4, "trough")]
    # Noise smaller than the swing is not a turning point.
    assert turning_points([(i, 0.5 + (0.02 if i % 2 else 0)) for i in range(20)], 0.1) == []


def test_mood_trends_summarise_components_and_atmospheres() -> None:
    samples = [
        MoodSample(at=float(i), components={"energy": e, "focus": 0.5}, atmosphere=a)
        for i, (e, a) in enumerate(
            [(0.2, "serene_morning"), (0.8, "energetic_noon"), (0.3, "serene_morning"),
             (0.6, "focused_afternoon")]
        )
    ]
    trends = mood_trends(samples, 24, COMPONENTS)
    energy = trends.components["energy"]
    assert energy.average == pytest.approx(0.475)
    assert (energy.minimum, energy.maximum, energy.latest) == (0.2, 0.8, 0.6)
    assert energy.change == pytest.approx(0.4)
    assert [p.kind for p in energy.turning_points] == ["peak", "trough"]
    assert "creativity" not in trends.components
    assert trends.atmospheres["serene_morning"] == 0.5
    assert trends.current_atmosphere == "focused_afternoon"
    assert mood_trends([], 24, COMPONENTS).samples == 0


def test_the_season_colours_the_weather() -> None:
    """The same sky reads livelier in summer than in winter, and the hemisphere flips it."""
    sky = WeatherSignal(at=0.0, condition="Clouds", temperature=15, clouds=50, is_day=True)

    def energy(moment: float, latitude: float | None) -> float:
        weather = msgspec.structs.replace(sky, at=moment, latitude=latitude)
        mood = synthesize_current_mood(MoodInputs(weather=weather), moment)
        return mood.energy

    july, january = at(2026, 7, 1, 12), at(2026, 1, 1, 12)
    assert energy(july, 50.0) > energy(january, 50.0)
    assert energy(july, -35.0) < energy(january, -35.0)


@given(
    st.lists(st.floats(min_value=0.451, max_value=0.499), min_size=1, max_size=40),
    st.sampled_from(["focused_afternoon", "spring_growth"]),
)
def test_atmosphere_hysteresis_stops_flapping(focus_values: list[float], start: str) -> None:
    """Focus wobbling between leave (0.45) and enter (0.5) keeps whichever sky was there."""
    from greenhouse.engines.mood import choose_atmosphere

    current = start
    for focus in focus_values:
        components = {"energy": 0.5, "focus": focus, "creativity": 0.4, "serenity": 0.4,
                      "intensity": 0.3}
        current, _ = choose_atmosphere(components, "afternoon", "spring", "clear_skies",
                                       current, 0.05)
        assert current == start


def test_atmosphere_still_changes_past_the_band() -> None:
    from greenhouse.engines.mood import choose_atmosphere

    calm = {"energy": 0.5, "focus": 0.44, "creativity": 0.4, "serenity": 0.4, "intensity": 0.3}
    keen = dict(calm, focus=0.5)
    assert choose_atmosphere(calm, "afternoon", "spring", "clear_skies",
                             "focused_afternoon", 0.05)[0] == "spring_growth"
    assert choose_atmosphere(keen, "afternoon", "spring", "clear_skies",
                             "spring_growth", 0.05)[0] == "focused_afternoon"
