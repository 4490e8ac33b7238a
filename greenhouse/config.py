"""Typed settings from the environment and a `.env` file.

Every setting has a default that works on a fresh machine; a malformed value stops start-up with
one line naming the variable (`ConfigError`). Secrets are wrapped in `Secret`, whose repr and str
never show the value, so printing a settings object or logging it cannot leak a token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
from dotenv import dotenv_values

__all__ = [
    "AnalyticsConfig",
    "CacheConfig",
    "ConfigError",
    "FeatureFlags",
    "GitHubConfig",
    "GrowthConfig",
    "IntegrationSettings",
    "MoodConfig",
    "PrivacyConfig",
    "RateLimitConfig",
    "RuntimeConfig",
    "SchedulerConfig",
    "Secret",
    "SocialConfig",
    "SpotifyConfig",
    "WakaTimeConfig",
    "WeatherConfig",
    "WebConfig",
    "load_settings",
]


class ConfigError(ValueError):
    """A setting is malformed; the message is one line that names the variable."""


class Secret:
    """A string that never shows itself in repr, str, logs or error messages."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """Return the clear-text value (only for building auth headers)."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# --------------------------------------------------------------------------------------------
# Environment reading with typed, one-line errors.


class _Env:
    """Typed reads from a mapping of variables; every error names the variable."""

    _TRUE = {"1", "true", "yes", "on"}
    _FALSE = {"0", "false", "no", "off", ""}

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values

    def raw(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value.strip()

    def text(self, name: str, default: str = "") -> str:
        value = self.raw(name)
        return default if value is None or value == "" else value

    def secret(self, name: str) -> Secret:
        return Secret(self.raw(name) or "")

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            parsed = int(value)
        except ValueError:
            raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
        if minimum is not None and parsed < minimum:
            raise ConfigError(f"{name}: must be at least {minimum}, got {parsed}")
        return parsed

    def number(self, name: str, default: float, *, minimum: float | None = None) -> float:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            parsed = float(value)
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
        if parsed != parsed or (minimum is not None and parsed < minimum):
            raise ConfigError(f"{name}: must be a number >= {minimum}, got {value!r}")
        return parsed

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in self._TRUE:
            return True
        if lowered in self._FALSE:
            return False
        raise ConfigError(f"{name}: expected true or false, got {value!r}")

    def items(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return default
        return tuple(part.strip() for part in value.split(",") if part.strip())

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in choices:
            raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
        return value


_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


# --------------------------------------------------------------------------------------------
# Per-service sections.


class GitHubConfig(msgspec.Struct, frozen=True):
    """GitHub REST API and webhooks."""

    token: Secret = Secret("")
    username: str = ""
    api_base_url: str = "https://api.github.com"
    webhook_secret: Secret = Secret("")
    webhook_max_bytes: int = 25 * 1024 * 1024
    sync_interval: float = 30 * 60.0
    repositories: tuple[str, ...] = ()

    @property
    def is_configured(self) -> bool:
        return bool(self.token) and bool(self.username)


class SpotifyConfig(msgspec.Struct, frozen=True):
    """Spotify Web API through a long-lived refresh token."""

    client_id: str = ""
    client_secret: Secret = Secret("")
    refresh_token: Secret = Secret("")
    api_base_url: str = "https://api.spotify.com/v1"
    accounts_base_url: str = "https://accounts.spotify.com"
    poll_interval: float = 30.0

    @property
    def is_configured(self) -> bool:
        return bool(self.client_id) and bool(self.client_secret) and bool(self.refresh_token)


class WeatherConfig(msgspec.Struct, frozen=True):
    """OpenWeatherMap current weather and forecast."""

    api_key: Secret = Secret("")
    city: str = ""
    latitude: float | None = None
    longitude: float | None = None
    units: str = "metric"
    api_base_url: str = "https://api.openweathermap.org"
    poll_interval: float = 15 * 60.0

    @property
    def is_configured(self) -> bool:
        has_place = bool(self.city) or (self.latitude is not None and self.longitude is not None)
        return bool(self.api_key) and has_place


class WakaTimeConfig(msgspec.Struct, frozen=True):
    """WakaTime coding statistics."""

    api_key: Secret = Secret("")
    api_base_url: str = "https://wakatime.com/api/v1"
    poll_interval: float = 30 * 60.0

    @property
    def is_configured(self) -> bool:
        return bool(self.api_key)


class SocialConfig(msgspec.Struct, frozen=True):
    """Feeds and social accounts; every source is optional."""

    rss_feeds: tuple[str, ...] = ()
    mastodon_base_url: str = ""
    mastodon_account: str = ""
    bluesky_handle: str = ""
    bluesky_base_url: str = "https://public.api.bsky.app"
    hackernews_enabled: bool = False
    hackernews_base_url: str = "https://hacker-news.firebaseio.com/v0"
    twitter_bearer_token: Secret = Secret("")
    twitter_user_id: str = ""
    twitter_base_url: str = "https://api.twitter.com/2"
    linkedin_access_token: Secret = Secret("")
    linkedin_base_url: str = "https://api.linkedin.com"
    poll_interval: float = 60 * 60.0

    @property
    def is_configured(self) -> bool:
        return bool(
            self.rss_feeds
            or (self.mastodon_base_url and self.mastodon_account)
            or self.bluesky_handle
            or self.hackernews_enabled
            or (self.twitter_bearer_token and self.twitter_user_id)
            or self.linkedin_access_token
        )


class CacheConfig(msgspec.Struct, frozen=True):
    """Memory, SQLite and optional Redis cache layers."""

    memory_max_entries: int = 2048
    memory_max_bytes: int = 16 * 1024 * 1024
    default_ttl: float = 300.0
    redis_url: Secret = Secret("")


class RateLimitConfig(msgspec.Struct, frozen=True):
    """Per-service client-side limits, in requests per minute."""

    enabled: bool = True
    github: int = 80
    spotify: int = 100
    weather: int = 10
    wakatime: int = 10
    social: int = 30
    # Burst allowance: this many seconds' worth of requests. A minute's worth, because one poll
    # fires several requests at once (WakaTime at 10/min makes ~5 per poll).
    burst_seconds: float = 60.0

    def per_minute(self, service: str) -> int:
        return int(getattr(self, service, 60))


class FeatureFlags(msgspec.Struct, frozen=True):
    """Switches for whole subsystems."""

    github_integration: bool = True
    spotify_integration: bool = True
    real_time_events: bool = True
    mood_synthesis: bool = True
    growth_prediction: bool = True
    mock_data: bool = False
    rate_limiting: bool = True


class WebConfig(msgspec.Struct, frozen=True):
    """HTTP and WebSocket surface."""

    host: str = "127.0.0.1"
    http_port: int = 8000
    ws_port: int = 8765
    allowed_origins: tuple[str, ...] = ()
    admin_token: Secret = Secret("")
    max_viewers: int = 1000
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    public_ws_url: str = ""


class PrivacyConfig(msgspec.Struct, frozen=True):
    """Visitor privacy and secrets at rest."""

    secret_key: Secret = Secret("")
    site_id: str = "digital-greenhouse"
    analytics_enabled: bool = True
    retention_visits_days: int = 30
    retention_events_days: int = 365
    retention_task_runs_days: int = 14
    retention_audit_days: int = 365
    retention_consent_days: int = 30
    retention_requests_days: int = 90
    retention_history_days: int = 365
    require_consent: bool = False  # True: analytics only after an explicit analytics grant
    policy_version: str = "1"


class AnalyticsConfig(msgspec.Struct, frozen=True):
    """Visitor analytics."""

    session_timeout: float = 30 * 60.0


GROWTH_FACTORS = (
    "commits",
    "complexity",
    "time",
    "engagement",
    "age",
    "consistency",
    "innovation",
)
GROWTH_STAGES = ("seed", "seedling", "sapling", "young_tree", "mature_tree", "ancient_tree")


class GrowthConfig(msgspec.Struct, frozen=True):
    """Growth engine: factor weights, stage thresholds, hysteresis and health windows.

    Weights and thresholds start from the original system (see README, "Growth engine").
    """

    weights: dict[str, float] = msgspec.field(
        default_factory=lambda: {
            "commits": 0.20,
            "complexity": 0.15,
            "time": 0.20,
            "engagement": 0.15,
            "age": 0.10,
            "consistency": 0.15,
            "innovation": 0.05,
        }
    )
    # The score at which each stage begins; `seed` is also everything below seedling.
    thresholds: dict[str, float] = msgspec.field(
        default_factory=lambda: {
            "seed": 0.10,
            "seedling": 0.25,
            "sapling": 0.45,
            "young_tree": 0.65,
            "mature_tree": 0.80,
            "ancient_tree": 0.95,
        }
    )
    hysteresis: float = 0.04  # band width around a threshold: +-half of it to cross
    window_days: float = 90.0  # commit frequency and consistency look this far back
    thriving_days: float = 7.0
    healthy_days: float = 30.0
    wilting_days: float = 90.0  # longer than this without activity: wilting
    thriving_commits_30d: int = 8
    history_days: float = 30.0  # the prediction's regression looks this far back
    min_history_points: int = 3
    keep_history_days: float = 365.0  # growth_history rows older than this are deleted


class MoodConfig(msgspec.Struct, frozen=True):
    """Mood engine: influence weights, source freshness and the announce threshold."""

    weights: dict[str, float] = msgspec.field(
        default_factory=lambda: {
            "music": 0.4,
            "weather": 0.3,
            "productivity": 0.2,
            "time_of_day": 0.1,
        }
    )
    # (fresh for, gone after) in seconds: between the two a source's weight fades linearly.
    music_freshness: tuple[float, float] = (600.0, 1800.0)
    weather_freshness: tuple[float, float] = (3600.0, 3 * 3600.0)
    productivity_freshness: tuple[float, float] = (3600.0, 6 * 3600.0)
    energy_change_threshold: float = 0.15
    atmosphere_hysteresis: float = 0.05  # a rule's threshold relaxes by this for the current sky
    keep_history_days: float = 90.0  # mood_history rows older than this are deleted
    timezone: str = "UTC"
    latitude: float | None = None  # the hemisphere decides the season; north when unknown


class SchedulerConfig(msgspec.Struct, frozen=True):
    """Intervals of the built-in tasks, in seconds, and the zone for cron tasks."""

    timezone: str = "UTC"
    mood_synthesis: float = 180.0
    health_checks: float = 300.0
    growth_calculation: float = 3600.0
    analytics_processing: float = 3600.0
    cache_maintenance_cron: str = "0 2 * * *"
    data_cleanup_cron: str = "0 3 * * *"


class RuntimeConfig(msgspec.Struct, frozen=True):
    """The runtime itself: database, logging, supervision."""

    db_path: str = "greenhouse.db"
    log_level: str = "info"
    log_format: str = "text"
    component_log_levels: dict[str, str] = {}
    debug: bool = False
    flush_interval: float = 1.0
    flush_max_batch: int = 500
    demo_speed: float = 60.0


class IntegrationSettings(msgspec.Struct, frozen=True):
    """All settings, one section per service or subsystem."""

    github: GitHubConfig = GitHubConfig()
    spotify: SpotifyConfig = SpotifyConfig()
    weather: WeatherConfig = WeatherConfig()
    wakatime: WakaTimeConfig = WakaTimeConfig()
    social: SocialConfig = SocialConfig()
    cache: CacheConfig = CacheConfig()
    rate_limits: RateLimitConfig = RateLimitConfig()
    features: FeatureFlags = FeatureFlags()
    web: WebConfig = WebConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()
    growth: GrowthConfig = GrowthConfig()
    mood: MoodConfig = MoodConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    runtime: RuntimeConfig = RuntimeConfig()

    def service_configs(self) -> dict[str, Any]:
        """The external services by name."""
        return {
            "github": self.github,
            "spotify": self.spotify,
            "weather": self.weather,
            "wakatime": self.wakatime,
            "social": self.social,
        }

    def is_configured(self, service: str) -> bool:
        """True when the service has the credentials it needs and is not switched off."""
        if service == "github" and not self.features.github_integration:
            return False
        if service == "spotify" and not self.features.spotify_integration:
            return False
        return bool(self.service_configs()[service].is_configured)

    def get_enabled_services(self) -> list[str]:
        """Services that are configured and enabled."""
        return [name for name in self.service_configs() if self.is_configured(name)]

    @property
    def demo_mode(self) -> bool:
        """The demo world runs when asked for, or when no service is configured."""
        return self.features.mock_data or not self.get_enabled_services()

    def validate_configurations(self) -> dict[str, list[str]]:
        """Readable problems per section; an empty dict means all is well."""
        problems: dict[str, list[str]] = {}

        def add(section: str, text: str) -> None:
            problems.setdefault(section, []).append(text)

        gh = self.github
        if bool(gh.token) != bool(gh.username):
            add("github", "set both GITHUB_TOKEN and GITHUB_USERNAME")
        sp = self.spotify
        parts = [bool(sp.client_id), bool(sp.client_secret), bool(sp.refresh_token)]
        if any(parts) and not all(parts):
            add(
                "spotify",
                "set SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET and SPOTIFY_REFRESH_TOKEN together",
            )
        we = self.weather
        if we.api_key and not (we.city or (we.latitude is not None and we.longitude is not None)):
            add("weather", "set WEATHER_CITY or both WEATHER_LAT and WEATHER_LON")
        if (we.latitude is None) != (we.longitude is None):
            add("weather", "WEATHER_LAT and WEATHER_LON go together")
        if we.latitude is not None and not -90 <= we.latitude <= 90:
            add("weather", f"WEATHER_LAT must be within [-90, 90], got {we.latitude}")
        if we.longitude is not None and not -180 <= we.longitude <= 180:
            add("weather", f"WEATHER_LON must be within [-180, 180], got {we.longitude}")
        so = self.social
        if bool(so.mastodon_base_url) != bool(so.mastodon_account):
            add("social", "set both MASTODON_BASE_URL and MASTODON_ACCOUNT")
        if bool(so.twitter_bearer_token) != bool(so.twitter_user_id):
            add("social", "set both TWITTER_BEARER_TOKEN and TWITTER_USER_ID")
        if self.web.http_port == self.web.ws_port and self.web.http_port != 0:
            add("web", "GREENHOUSE_HTTP_PORT and GREENHOUSE_WS_PORT must differ")
        for origin in self.web.allowed_origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                add("web", f"GREENHOUSE_ALLOWED_ORIGINS: {origin!r} is not an http(s) origin")
        return problems


def _url(env: _Env, name: str, default: str) -> str:
    value = env.text(name, default).rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name}: expected an http(s) URL, got {value!r}")
    return value


def _optional_float(env: _Env, name: str) -> float | None:
    value = env.raw(name)
    if value is None or value == "":
        return None
    return env.number(name, 0.0)


def _growth_config(env: _Env) -> GrowthConfig:
    base = GrowthConfig()
    weights = {
        name: env.number(f"GROWTH_WEIGHT_{name.upper()}", base.weights[name], minimum=0.0)
        for name in GROWTH_FACTORS
    }
    if sum(weights.values()) <= 0:
        raise ConfigError("GROWTH_WEIGHT_*: at least one growth weight must be positive")
    thresholds = {
        stage: env.number(f"GROWTH_THRESHOLD_{stage.upper()}", base.thresholds[stage], minimum=0.0)
        for stage in GROWTH_STAGES
    }
    ordered = [thresholds[stage] for stage in GROWTH_STAGES]
    if ordered != sorted(ordered) or len(set(ordered)) != len(ordered) or ordered[-1] > 1.0:
        raise ConfigError("GROWTH_THRESHOLD_*: stage thresholds must rise strictly within [0, 1]")
    return GrowthConfig(
        weights=weights,
        thresholds=thresholds,
        hysteresis=env.number("GROWTH_STAGE_HYSTERESIS", base.hysteresis, minimum=0.0),
        window_days=env.number("GROWTH_WINDOW_DAYS", base.window_days, minimum=1.0),
        healthy_days=env.number("GROWTH_HEALTHY_DAYS", base.healthy_days, minimum=1.0),
        wilting_days=env.number("GROWTH_WILTING_DAYS", base.wilting_days, minimum=1.0),
        keep_history_days=env.number(
            "GROWTH_HISTORY_DAYS", base.keep_history_days, minimum=base.history_days
        ),
    )


def _mood_config(env: _Env) -> MoodConfig:
    base = MoodConfig()
    weights = {
        name: env.number(f"MOOD_WEIGHT_{name.upper()}", weight, minimum=0.0)
        for name, weight in base.weights.items()
    }
    if sum(weights.values()) <= 0:
        raise ConfigError("MOOD_WEIGHT_*: at least one mood weight must be positive")
    return MoodConfig(
        weights=weights,
        energy_change_threshold=env.number(
            "MOOD_ENERGY_CHANGE_THRESHOLD", base.energy_change_threshold, minimum=0.0
        ),
        atmosphere_hysteresis=env.number(
            "MOOD_ATMOSPHERE_HYSTERESIS", base.atmosphere_hysteresis, minimum=0.0
        ),
        keep_history_days=env.number("MOOD_HISTORY_DAYS", base.keep_history_days, minimum=1.0),
        timezone=env.text("GREENHOUSE_TIMEZONE", "UTC"),
        latitude=_optional_float(env, "WEATHER_LAT"),
    )


def settings_from_mapping(values: Mapping[str, str]) -> IntegrationSettings:
    """Build settings from a mapping of variable names to strings (the environment)."""
    env = _Env(values)
    component_levels = {
        key.removeprefix("LOG_LEVEL_").lower(): env.choice(key, "info", _LOG_LEVELS)
        for key in values
        if key.startswith("LOG_LEVEL_")
    }
    return IntegrationSettings(
        github=GitHubConfig(
            token=env.secret("GITHUB_TOKEN"),
            username=env.text("GITHUB_USERNAME"),
            api_base_url=_url(env, "GITHUB_API_URL", "https://api.github.com"),
            webhook_secret=env.secret("GITHUB_WEBHOOK_SECRET"),
            webhook_max_bytes=env.integer("GITHUB_WEBHOOK_MAX_BYTES", 25 * 1024 * 1024, minimum=1024),
            sync_interval=env.number("GITHUB_SYNC_INTERVAL", 1800.0, minimum=60.0),
            repositories=env.items("GITHUB_REPOSITORIES"),
        ),
        spotify=SpotifyConfig(
            client_id=env.text("SPOTIFY_CLIENT_ID"),
            client_secret=env.secret("SPOTIFY_CLIENT_SECRET"),
            refresh_token=env.secret("SPOTIFY_REFRESH_TOKEN"),
            api_base_url=_url(env, "SPOTIFY_API_URL", "https://api.spotify.com/v1"),
            accounts_base_url=_url(env, "SPOTIFY_ACCOUNTS_URL", "https://accounts.spotify.com"),
            poll_interval=env.number("SPOTIFY_POLL_INTERVAL", 30.0, minimum=5.0),
        ),
        weather=WeatherConfig(
            api_key=env.secret("OPENWEATHER_API_KEY"),
            city=env.text("WEATHER_CITY"),
            latitude=_optional_float(env, "WEATHER_LAT"),
            longitude=_optional_float(env, "WEATHER_LON"),
            units=env.choice("WEATHER_UNITS", "metric", ("metric", "imperial", "standard")),
            api_base_url=_url(env, "OPENWEATHER_API_URL", "https://api.openweathermap.org"),
            poll_interval=env.number("WEATHER_POLL_INTERVAL", 900.0, minimum=600.0),
        ),
        wakatime=WakaTimeConfig(
            api_key=env.secret("WAKATIME_API_KEY"),
            api_base_url=_url(env, "WAKATIME_API_URL", "https://wakatime.com/api/v1"),
            poll_interval=env.number("WAKATIME_POLL_INTERVAL", 1800.0, minimum=60.0),
        ),
        social=SocialConfig(
            rss_feeds=env.items("RSS_FEEDS"),
            mastodon_base_url=env.text("MASTODON_BASE_URL").rstrip("/"),
            mastodon_account=env.text("MASTODON_ACCOUNT"),
            bluesky_handle=env.text("BLUESKY_HANDLE"),
            bluesky_base_url=_url(env, "BLUESKY_API_URL", "https://public.api.bsky.app"),
            hackernews_enabled=env.flag("HACKERNEWS_ENABLED", False),
            hackernews_base_url=_url(
                env, "HACKERNEWS_API_URL", "https://hacker-news.firebaseio.com/v0"
            ),
            twitter_bearer_token=env.secret("TWITTER_BEARER_TOKEN"),
            twitter_user_id=env.text("TWITTER_USER_ID"),
            twitter_base_url=_url(env, "TWITTER_API_URL", "https://api.twitter.com/2"),
            linkedin_access_token=env.secret("LINKEDIN_ACCESS_TOKEN"),
            linkedin_base_url=_url(env, "LINKEDIN_API_URL", "https://api.linkedin.com"),
            poll_interval=env.number("SOCIAL_POLL_INTERVAL", 3600.0, minimum=60.0),
        ),
        cache=CacheConfig(
            memory_max_entries=env.integer("CACHE_MEMORY_MAX_ENTRIES", 2048, minimum=1),
            memory_max_bytes=env.integer("CACHE_MEMORY_MAX_BYTES", 16 * 1024 * 1024, minimum=1024),
            default_ttl=env.number("CACHE_DEFAULT_TTL", 300.0, minimum=0.0),
            redis_url=env.secret("REDIS_URL"),
        ),
        rate_limits=RateLimitConfig(
            enabled=env.flag("ENABLE_RATE_LIMITING", True),
            github=env.integer("GITHUB_RATE_LIMIT", 80, minimum=1),
            spotify=env.integer("SPOTIFY_RATE_LIMIT", 100, minimum=1),
            weather=env.integer("WEATHER_RATE_LIMIT", 10, minimum=1),
            wakatime=env.integer("WAKATIME_RATE_LIMIT", 10, minimum=1),
            social=env.integer("SOCIAL_RATE_LIMIT", 30, minimum=1),
            burst_seconds=env.number("RATE_LIMIT_BURST_SECONDS", 60.0, minimum=0.0),
        ),
        features=FeatureFlags(
            github_integration=env.flag("ENABLE_GITHUB_INTEGRATION", True),
            spotify_integration=env.flag("ENABLE_SPOTIFY_INTEGRATION", True),
            real_time_events=env.flag("ENABLE_REAL_TIME_EVENTS", True),
            mood_synthesis=env.flag("ENABLE_MOOD_SYNTHESIS", True),
            growth_prediction=env.flag("ENABLE_GROWTH_PREDICTION", True),
            mock_data=env.flag("ENABLE_MOCK_DATA", False),
            rate_limiting=env.flag("ENABLE_RATE_LIMITING", True),
        ),
        web=WebConfig(
            host=env.text("GREENHOUSE_HOST", "127.0.0.1"),
            http_port=env.integer("GREENHOUSE_HTTP_PORT", 8000, minimum=0),
            ws_port=env.integer("GREENHOUSE_WS_PORT", 8765, minimum=0),
            allowed_origins=env.items("GREENHOUSE_ALLOWED_ORIGINS"),
            admin_token=env.secret("GREENHOUSE_ADMIN_TOKEN"),
            max_viewers=env.integer("GREENHOUSE_MAX_VIEWERS", 1000, minimum=1),
            trusted_proxies=env.items("GREENHOUSE_TRUSTED_PROXIES", ("127.0.0.1", "::1")),
            public_ws_url=env.text("GREENHOUSE_PUBLIC_WS_URL"),
        ),
        privacy=PrivacyConfig(
            secret_key=env.secret("GREENHOUSE_SECRET_KEY"),
            site_id=env.text("GREENHOUSE_SITE_ID", "digital-greenhouse"),
            analytics_enabled=env.flag("ENABLE_ANALYTICS", True),
            retention_visits_days=env.integer("RETENTION_VISITS_DAYS", 30, minimum=1),
            retention_events_days=env.integer("RETENTION_EVENTS_DAYS", 365, minimum=1),
            retention_task_runs_days=env.integer("RETENTION_TASK_RUNS_DAYS", 14, minimum=1),
            retention_audit_days=env.integer("RETENTION_AUDIT_DAYS", 365, minimum=1),
            retention_consent_days=env.integer("RETENTION_CONSENT_DAYS", 30, minimum=1),
            retention_requests_days=env.integer("RETENTION_REQUESTS_DAYS", 90, minimum=31),
            retention_history_days=env.integer("RETENTION_HISTORY_DAYS", 365, minimum=1),
            require_consent=env.flag("PRIVACY_REQUIRE_CONSENT", False),
            policy_version=env.text("PRIVACY_POLICY_VERSION", "1"),
        ),
        analytics=AnalyticsConfig(
            session_timeout=env.number("ANALYTICS_SESSION_TIMEOUT", 1800.0, minimum=60.0),
        ),
        growth=_growth_config(env),
        mood=_mood_config(env),
        scheduler=SchedulerConfig(
            timezone=env.text("GREENHOUSE_TIMEZONE", "UTC"),
            mood_synthesis=env.number("MOOD_SYNTHESIS_INTERVAL", 180.0, minimum=10.0),
            health_checks=env.number("HEALTH_CHECK_INTERVAL", 300.0, minimum=10.0),
            growth_calculation=env.number("GROWTH_CALCULATION_INTERVAL", 3600.0, minimum=60.0),
            analytics_processing=env.number("ANALYTICS_INTERVAL", 3600.0, minimum=60.0),
            cache_maintenance_cron=env.text("CACHE_MAINTENANCE_CRON", "0 2 * * *"),
            data_cleanup_cron=env.text("DATA_CLEANUP_CRON", "0 3 * * *"),
        ),
        runtime=RuntimeConfig(
            db_path=env.text("GREENHOUSE_DB", "greenhouse.db"),
            log_level=env.choice("LOG_LEVEL", "info", _LOG_LEVELS),
            log_format=env.choice("LOG_FORMAT", "text", ("text", "json")),
            component_log_levels=component_levels,
            debug=env.flag("DEBUG_MODE", False),
            flush_interval=env.number("GREENHOUSE_FLUSH_INTERVAL", 1.0, minimum=0.01),
            flush_max_batch=env.integer("GREENHOUSE_FLUSH_MAX_BATCH", 500, minimum=1),
            demo_speed=env.number("GREENHOUSE_DEMO_SPEED", 60.0, minimum=1.0),
        ),
    )


def load_settings(
    env_file: str | Path | None = ".env", environ: Mapping[str, str] | None = None
) -> IntegrationSettings:
    """Settings from `.env` (if present) overlaid by the process environment.

    Raises `ConfigError` with a one-line message on any malformed value.
    """
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return settings_from_mapping(values)
