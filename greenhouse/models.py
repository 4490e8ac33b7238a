"""Domain records: what the external APIs return, decoded and validated at the edge.

Each section holds the records of one service. Wire records (`...Response`, or named after the
API object) are decoded straight from JSON with msgspec, which validates shape and types in one
step; unknown fields are ignored so a new field upstream does not break us. Derived records are
what our own code computes from them. All records are frozen.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = [
    # Spotify
    "ArtistsResponse",
    "AudioFeatures",
    "AudioFeaturesResponse",
    "CurrentlyPlaying",
    "ListeningTrends",
    "MoodPoint",
    "MusicMood",
    "PlayHistoryItem",
    "RecentlyPlayed",
    "RecentlyPlayedCursors",
    "SpotifyAlbum",
    "SpotifyArtist",
    "SpotifyContext",
    "SpotifyImage",
    "SpotifyToken",
    "SpotifyTrack",
    "TrackMood",
    # Weather
    "AtmosphericMood",
    "Clouds",
    "ComprehensiveWeather",
    "Coordinates",
    "CurrentWeather",
    "Forecast",
    "ForecastCity",
    "ForecastEntry",
    "ForecastSummary",
    "Precipitation",
    "SeasonalInfluence",
    "WeatherCondition",
    "WeatherReadings",
    "WeatherSys",
    "Wind",
]


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every domain record."""


# --------------------------------------------------------------------------------------------
# Spotify (issue 4). Shapes from the Web API reference and the fixtures in
# tests/fixtures/spotify/ (Home Assistant's and spotify-web-api-js's test payloads).


class SpotifyImage(Record, frozen=True, kw_only=True):
    """Cover art at one size."""

    url: str
    height: int | None = None
    width: int | None = None


class SpotifyArtist(Record, frozen=True, kw_only=True):
    """A (simplified) artist; local files have no id."""

    name: str
    id: str | None = None
    uri: str | None = None
    genres: tuple[str, ...] = ()  # only the full artist object has genres


class SpotifyAlbum(Record, frozen=True, kw_only=True):
    """A (simplified) album."""

    name: str
    id: str | None = None
    album_type: str | None = None
    release_date: str | None = None
    images: tuple[SpotifyImage, ...] = ()


class SpotifyTrack(Record, frozen=True, kw_only=True):
    """A track, or an episode (which has no artists and no album)."""

    name: str
    id: str | None = None  # None for local files
    uri: str | None = None
    type: str = "track"
    artists: tuple[SpotifyArtist, ...] = ()
    album: SpotifyAlbum | None = None
    duration_ms: int = 0
    popularity: int | None = None
    explicit: bool = False
    is_local: bool = False

    @property
    def artist_names(self) -> tuple[str, ...]:
        """The artists' names, in credit order."""
        return tuple(artist.name for artist in self.artists)


class SpotifyContext(Record, frozen=True, kw_only=True):
    """Where playback comes from: a playlist, album, artist or the liked-songs collection."""

    type: str | None = None
    uri: str | None = None


class CurrentlyPlaying(Record, frozen=True, kw_only=True):
    """`GET /me/player/currently-playing` (or `/me/player`): what is playing right now."""

    is_playing: bool
    timestamp: int
    progress_ms: int | None = None
    item: SpotifyTrack | None = None  # null during ads or when the item is unavailable
    currently_playing_type: str = "track"
    context: SpotifyContext | None = None


class PlayHistoryItem(Record, frozen=True, kw_only=True):
    """One recently played track, with when it was played (ISO 8601 UTC)."""

    track: SpotifyTrack
    played_at: str
    context: SpotifyContext | None = None


class RecentlyPlayedCursors(Record, frozen=True, kw_only=True):
    """Unix-millisecond cursors for paging recently played tracks."""

    after: str | None = None
    before: str | None = None


class RecentlyPlayed(Record, frozen=True, kw_only=True):
    """`GET /me/player/recently-played`."""

    items: tuple[PlayHistoryItem, ...]
    next: str | None = None
    cursors: RecentlyPlayedCursors | None = None
    limit: int | None = None
    href: str | None = None


class AudioFeatures(Record, frozen=True, kw_only=True):
    """`GET /audio-features`: Spotify's own analysis of one track (all in [0, 1] but tempo/loudness)."""

    id: str
    danceability: float
    energy: float
    valence: float
    tempo: float
    acousticness: float = 0.0
    instrumentalness: float = 0.0
    speechiness: float = 0.0
    liveness: float = 0.0
    loudness: float = 0.0
    mode: int | None = None
    key: int | None = None
    time_signature: int | None = None
    duration_ms: int | None = None


class AudioFeaturesResponse(Record, frozen=True, kw_only=True):
    """`GET /audio-features?ids=...`; unknown ids come back as null."""

    audio_features: tuple[AudioFeatures | None, ...]


class ArtistsResponse(Record, frozen=True, kw_only=True):
    """`GET /artists?ids=...`: full artist objects (with genres); unknown ids are null."""

    artists: tuple[SpotifyArtist | None, ...]


class SpotifyToken(Record, frozen=True, kw_only=True):
    """`POST /api/token` answer; `refresh_token` is present only when Spotify rotates it."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int = 3600
    scope: str = ""
    refresh_token: str | None = None

    def __repr__(self) -> str:  # never show a token
        return f"SpotifyToken(token_type={self.token_type!r}, expires_in={self.expires_in})"


class TrackMood(Record, frozen=True, kw_only=True):
    """Valence and energy of one track, measured (audio features) or estimated, with confidence."""

    track_id: str | None
    valence: float
    energy: float
    danceability: float
    tempo: float | None = None
    confidence: float
    source: str  # "audio_features" | "estimate" | "neutral"


class MusicMood(Record, frozen=True, kw_only=True):
    """`analyze_current_mood()`: the music side of the garden's mood right now."""

    is_playing: bool
    track_id: str | None = None
    track: str | None = None
    artists: tuple[str, ...] = ()
    album: str | None = None
    valence: float = 0.5
    energy: float = 0.5
    danceability: float = 0.5
    tempo: float | None = None
    confidence: float = 0.0
    source: str = "neutral"
    label: str = "silent"  # euphoric | energetic | calm | melancholic | intense | balanced | silent
    progress_ms: int | None = None
    duration_ms: int | None = None


class MoodPoint(Record, frozen=True, kw_only=True):
    """Average estimated mood of one day's listening."""

    day: str  # YYYY-MM-DD (UTC)
    valence: float
    energy: float
    confidence: float
    tracks: int


class ListeningTrends(Record, frozen=True, kw_only=True):
    """`get_listening_trends(days)`: how much, when and what was listened to."""

    days: int
    tracks_played: int
    total_minutes: float
    minutes_by_day: dict[str, float]
    minutes_by_hour: tuple[float, ...]  # 24 entries, UTC hours
    top_artists: tuple[tuple[str, int], ...]
    top_tracks: tuple[tuple[str, int], ...]
    mood_trend: tuple[MoodPoint, ...]
    complete: bool = True  # False when Spotify's 50-track history did not reach back `days`


# --------------------------------------------------------------------------------------------
# Weather: OpenWeatherMap 2.5 (issue 4). Shapes from the docs and the fixtures in
# tests/fixtures/openweathermap/ (captured responses).


class Coordinates(Record, frozen=True, kw_only=True):
    """A place on earth."""

    lat: float
    lon: float


class WeatherCondition(Record, frozen=True, kw_only=True):
    """One condition; `id` is OpenWeatherMap's condition code (2xx thunder ... 8xx clouds)."""

    id: int
    main: str
    description: str = ""
    icon: str = ""


class WeatherReadings(Record, frozen=True, kw_only=True):
    """The `main` block: temperatures in the requested units, pressure in hPa, humidity in %."""

    temp: float
    feels_like: float | None = None
    temp_min: float | None = None
    temp_max: float | None = None
    pressure: float | None = None
    humidity: float = 0.0
    sea_level: float | None = None
    grnd_level: float | None = None


class Wind(Record, frozen=True, kw_only=True):
    """Wind speed (m/s metric, mph imperial), direction in degrees and gusts."""

    speed: float = 0.0
    deg: float | None = None
    gust: float | None = None


class Clouds(Record, frozen=True, kw_only=True):
    """Cloud cover in %."""

    all: float = 0.0


class Precipitation(Record, frozen=True, kw_only=True):
    """Rain or snow volume in mm over the last hour / three hours."""

    one_hour: float | None = msgspec.field(default=None, name="1h")
    three_hours: float | None = msgspec.field(default=None, name="3h")


class WeatherSys(Record, frozen=True, kw_only=True):
    """Country, sunrise and sunset (epoch seconds, UTC); `pod` is d/n in forecasts."""

    country: str | None = None
    sunrise: int | None = None
    sunset: int | None = None
    pod: str | None = None


class CurrentWeather(Record, frozen=True, kw_only=True):
    """`GET /data/2.5/weather`."""

    coord: Coordinates | None = None
    weather: Annotated[tuple[WeatherCondition, ...], msgspec.Meta(min_length=1)]
    main: WeatherReadings
    visibility: int | None = None
    wind: Wind = Wind()
    clouds: Clouds = Clouds()
    rain: Precipitation | None = None
    snow: Precipitation | None = None
    dt: int
    sys: WeatherSys = WeatherSys()
    timezone: int = 0  # shift from UTC in seconds
    id: int | None = None
    name: str = ""

    @property
    def condition(self) -> WeatherCondition:
        """The primary condition (OpenWeatherMap lists the most significant first)."""
        return self.weather[0]


class ForecastEntry(Record, frozen=True, kw_only=True):
    """One 3-hour step of the 5-day forecast."""

    dt: int
    main: WeatherReadings
    weather: tuple[WeatherCondition, ...]
    clouds: Clouds = Clouds()
    wind: Wind = Wind()
    visibility: int | None = None
    pop: float = 0.0  # probability of precipitation, 0..1
    rain: Precipitation | None = None
    snow: Precipitation | None = None
    sys: WeatherSys = WeatherSys()
    dt_txt: str = ""


class ForecastCity(Record, frozen=True, kw_only=True):
    """The place a forecast is for."""

    name: str = ""
    id: int | None = None
    coord: Coordinates | None = None
    country: str | None = None
    timezone: int = 0
    sunrise: int | None = None
    sunset: int | None = None


class Forecast(Record, frozen=True, kw_only=True):
    """`GET /data/2.5/forecast`: up to 40 steps of 3 hours."""

    entries: tuple[ForecastEntry, ...] = msgspec.field(name="list")
    city: ForecastCity = ForecastCity()
    cnt: int = 0


class AtmosphericMood(Record, frozen=True, kw_only=True):
    """What the weather does to the garden's mood (components in [0, 1])."""

    energy: float
    focus: float
    creativity: float
    serenity: float
    intensity: float
    weather_pattern: str  # clear_skies | partly_cloudy | overcast | rain | storm | snow | fog
    is_day: bool
    description: str


class SeasonalInfluence(Record, frozen=True, kw_only=True):
    """Season from date and hemisphere, and day length from sunrise/sunset."""

    season: str  # spring | summer | autumn | winter
    hemisphere: str  # north | south
    day_length_hours: float | None
    daylight_ratio: float  # day length / 24, 0.5 when unknown
    growth_factor: float  # 0..1, how favourable the season is for growth


class ForecastSummary(Record, frozen=True, kw_only=True):
    """One day of the forecast folded together."""

    day: str  # YYYY-MM-DD, local to the place
    temp_min: float
    temp_max: float
    precipitation_probability: float
    dominant_condition: str


class ComprehensiveWeather(Record, frozen=True, kw_only=True):
    """`get_comprehensive_weather_data()`: now, the days ahead, the mood and the season."""

    current: CurrentWeather
    mood: AtmosphericMood
    season: SeasonalInfluence
    forecast: tuple[ForecastSummary, ...] = ()
    forecast_error: str | None = None  # the forecast is optional; current weather is not
    units: str = "metric"
