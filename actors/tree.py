"""The garden's supervision tree: which actors run, under which supervisor, reading which mailbox.

`build_garden(settings)` makes the bus, the store, every mailbox and the root supervisor;
`run_garden(garden)` runs it until cancelled. Mailboxes are made here, once, so they outlive
actor restarts. Each subsystem adds its actors in a function of its own below.

    root (one_for_one)
    ├── persistence        the only database writer
    ├── health             heartbeat and status
    ├── rate_limit.<svc>   one token bucket per service (ask Acquire)
    ├── cache              memory + SQLite (+ Redis) cache (ask CacheGet/CacheSet)
    ├── privacy            daily salts, consent, data-subject requests, retention, secrets
    ├── spotify            Spotify poller (when configured or a transport is injected)
    ├── weather            OpenWeatherMap poller (likewise)
    ├── wakatime           WakaTime poller (when configured or a transport is injected)
    ├── social             feeds/social poller (likewise)
    ├── websocket          viewers: snapshot, resume, fan-out
    ├── scheduler          runs every sync, synthesis and maintenance task (RunTask to owners)
    └── ... (services, engines, web: added by their issues)
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import trio

from greenhouse.cache import MultiLayerCache
from greenhouse.coding_social_history import (
    recent_post_keys,
    write_coding_observations,
    write_social_posts,
)
from greenhouse.config import ConfigError, IntegrationSettings, Secret, SocialConfig
from greenhouse.listening_weather_history import write_track_plays, write_weather_readings
from greenhouse.messages import (
    CodingActivityObserved,
    GardenEvent,
    PersistenceBarrier,
    RepositoriesObserved,
    RunTask,
    SecretPut,
    ServiceStatusChanged,
    SocialActivityObserved,
    TaskRun,
    TaskRunRetention,
    TrackChanged,
    VisitorDataErased,
    WeatherObserved,
)
from greenhouse.polling import SCHEDULED_RATE_LIMIT_WAIT
from greenhouse.privacy import (
    PrivacyManager,
    TrustedProxies,
    fernet_from_key,
    lineage_name,
    read_stored_secret,
)
from greenhouse.ratelimit import bucket_for
from greenhouse.runtime import Bus, ChildSpec, Clock, Mailbox, Restart, Supervisor, ask
from greenhouse.scheduling import load_timezone
from greenhouse.service_hooks import ActorRequestGate, ActorResponseCache
from greenhouse.services.base import RetryPolicy
from greenhouse.services.social import SocialService
from greenhouse.services.spotify import SpotifyService
from greenhouse.services.wakatime import WakaTimeService
from greenhouse.services.weather import WeatherService
from greenhouse.store import Store
from greenhouse.task_runs import register_task_run_writers

from .cache import CacheActor
from .health import HealthActor
from .persistence import PersistenceActor
from .privacy import PrivacyActor
from .rate_limit import RateLimitActor
from .scheduler import SchedulerActor
from .social import SEEN_LIMIT, SocialPoller
from .spotify import SpotifyPoller
from .wakatime import WakaTimePoller
from .weather import WeatherPoller

__all__ = ["Garden", "build_garden", "run_garden"]

log = logging.getLogger("greenhouse.tree")


@dataclass
class Garden:
    """Everything the running tree shares: settings, clock, bus, store and mailboxes."""

    settings: IntegrationSettings
    clock: Clock
    bus: Bus
    store: Store
    root: Supervisor = field(init=False)
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    # Each service's last announced availability, outliving its poller's restarts.
    availability: dict[str, bool] = field(default_factory=dict)

    def mailbox(self, name: str) -> Mailbox:
        """The mailbox of the actor called `name`."""
        return self.mailboxes[name]

    def describe(self) -> str:
        """The tree as indented text, for the start-up log."""
        lines: list[str] = []

        def walk(sup: Supervisor, depth: int) -> None:
            lines.append(f"{'  ' * depth}{sup.name} (one_for_one, "
                         f"max {sup.max_restarts} restarts in {sup.period:g}s)")
            for spec in sup.specs:
                nested = sup_children.get(spec.name)
                if nested is not None:
                    walk(nested, depth + 1)
                else:
                    lines.append(f"{'  ' * (depth + 1)}{spec.name} [{spec.restart.value}]")

        sup_children: dict[str, Supervisor] = self.extras.get("supervisors", {})
        walk(self.root, 0)
        return "\n".join(lines)


ChildAdder = Callable[["Garden", list[ChildSpec]], None]


def _add_core(garden: Garden, children: list[ChildSpec]) -> None:
    settings, bus, clock = garden.settings, garden.bus, garden.clock
    persistence_box = bus.subscribe("persistence", (GardenEvent,), capacity=4096)
    health_box = bus.subscribe("health", (ServiceStatusChanged,), capacity=256)
    garden.mailboxes.update(persistence=persistence_box, health=health_box)
    children.append(
        ChildSpec(
            "persistence",
            lambda: PersistenceActor(
                persistence_box,
                bus,
                garden.store,
                clock=clock,
                flush_interval=settings.runtime.flush_interval,
                max_batch=settings.runtime.flush_max_batch,
            ),
            Restart.PERMANENT,
        )
    )
    children.append(
        ChildSpec(
            "health",
            # With the scheduler in the tree its `health_checks` runs are the heartbeat.
            lambda: HealthActor(
                health_box, bus, garden.root, clock=clock,
                interval=None if garden.extras.get("scheduler", True) is not False else 30.0,
            ),
            Restart.PERMANENT,
        )
    )


RATE_LIMITED_SERVICES = ("github", "spotify", "weather", "wakatime", "social")


def _add_ratecache(garden: Garden, children: list[ChildSpec]) -> None:
    """One bucket actor per service (`rate_limit.<service>`, ask-only) and the cache actor."""
    settings, bus, clock = garden.settings, garden.bus, garden.clock
    limits = settings.rate_limits
    enabled = limits.enabled and settings.features.rate_limiting
    for service in RATE_LIMITED_SERVICES:
        name = f"rate_limit.{service}"
        box = bus.mailbox(name, capacity=1024)
        garden.mailboxes[name] = box
        per_minute = limits.per_minute(service)
        burst = bucket_for(per_minute, limits.burst_seconds, 0.0).capacity

        def make(service: str = service, box: Mailbox = box, per_minute: int = per_minute,
                 burst: float = burst) -> RateLimitActor:
            return RateLimitActor(service, box, bus, per_minute=per_minute, burst=burst,
                                  enabled=enabled, clock=clock)

        children.append(ChildSpec(name, make, Restart.PERMANENT))

    cache_settings = settings.cache
    cache_box = bus.subscribe("cache", (RunTask,), capacity=1024)
    garden.mailboxes["cache"] = cache_box
    # The persistence store's connection checkpoints the shared WAL; the cache's only when the
    # WAL has grown well past that (a store that stopped committing), never on every 1000 pages.
    (store_pages,) = garden.store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()

    def make_cache() -> MultiLayerCache:
        return MultiLayerCache(
            garden.store.path,
            clock=clock,
            max_entries=cache_settings.memory_max_entries,
            max_bytes=cache_settings.memory_max_bytes,
            default_ttl=cache_settings.default_ttl,
            redis_url=cache_settings.redis_url.get() or None,
            checkpoint_pages=4 * max(int(store_pages), 1000),
        )

    children.append(
        # The scheduler runs `cache_maintenance` (CACHE_MAINTENANCE_CRON): no timer of its own.
        ChildSpec("cache", lambda: CacheActor(cache_box, bus, make_cache, clock=clock,
                                              maintenance_interval=math.inf),
                  Restart.PERMANENT)
    )

    # Every service client built after this goes through its bucket and the cache actor (the
    # adders read these extras); hooks injected beforehand (tests, simulation) are kept.
    gate = ActorRequestGate(garden.mailboxes)
    response_cache = ActorResponseCache(cache_box)
    gates = dict(garden.extras.get("request_gates", {}))
    caches = dict(garden.extras.get("response_caches", {}))
    for service in RATE_LIMITED_SERVICES:
        gates.setdefault(service, gate)
        caches.setdefault(service, response_cache)
    garden.extras.update(request_gates=gates, response_caches=caches)



def _add_privacy(garden: Garden, children: list[ChildSpec]) -> None:
    settings, bus, clock = garden.settings, garden.bus, garden.clock
    # A malformed GREENHOUSE_SECRET_KEY or GREENHOUSE_TRUSTED_PROXIES stops start-up here with
    # one line, not in a restart loop or on the first request.
    fernet_from_key(settings.privacy.secret_key)
    try:
        TrustedProxies(settings.web.trusted_proxies)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    # Ask-only: raw visits reach it by `ask` from the HTTP layer and are never published.
    privacy_box = bus.mailbox("privacy", capacity=1024)
    garden.mailboxes["privacy"] = privacy_box
    garden.store.register_writer(PersistenceBarrier, lambda db, barriers: None)

    async def before_erasure(visitor_id: str) -> None:
        # Actors of this tree that hold visitor ids forget this one first (they answer once
        # done, and what they published before is already queued), then persistence commits
        # everything queued, so nothing written after the erasure brings the id back.
        notice = VisitorDataErased(visitor_id=visitor_id)
        for sub in bus.subscribers():
            if issubclass(VisitorDataErased, sub.types) and garden.mailboxes.get(sub.name):
                await ask(sub.mailbox, notice, timeout=10.0)
        await flush_writes()

    async def flush_writes() -> None:
        await ask(garden.mailbox("persistence"), PersistenceBarrier(), timeout=30.0)
    children.append(
        ChildSpec(
            "privacy",
            lambda: PrivacyActor(
                privacy_box,
                bus,
                lambda: PrivacyManager.open(garden.store.path, settings.privacy),
                clock=clock,
                before_erasure=before_erasure,
                flush_writes=flush_writes,
            ),
            Restart.PERMANENT,
        )
    )


def _add_engines(garden: Garden, children: list[ChildSpec]) -> None:
    from .engines import add_engines  # issue 6: growth, mood and analytics actors

    add_engines(garden, children)


def _injected_transport(garden: Garden, service: str) -> httpx.AsyncBaseTransport | None:
    """A transport put in `extras["transports"]` (demo mode, simulation, tests), if any."""
    return garden.extras.get("transports", {}).get(service)


def _client_hooks(garden: Garden, service: str) -> dict[str, Any]:
    """The service's request gate and response cache from extras (as for GitHub), when set."""
    return {
        "gate": garden.extras.get("request_gates", {}).get(service),
        "cache": garden.extras.get("response_caches", {}).get(service),
    }


# Credentials of pollers that run on an injected transport without configuration (the demo).
DEMO_CREDENTIAL = "demo"


def _add_spotify(garden: Garden, children: list[ChildSpec]) -> None:
    """The Spotify poller, when Spotify is configured or a transport is injected."""
    settings, bus, clock = garden.settings, garden.bus, garden.clock
    transport = _injected_transport(garden, "spotify")
    if not settings.is_configured("spotify") and transport is None:
        return
    config = settings.spotify
    if not settings.is_configured("spotify"):
        # A fed (demo) poller still goes through the real token flow, with placeholder
        # credentials that the demo world's token endpoint accepts.
        config = msgspec.structs.replace(
            config,
            client_id=config.client_id or DEMO_CREDENTIAL,
            client_secret=config.client_secret or Secret(DEMO_CREDENTIAL),
            refresh_token=config.refresh_token or Secret(DEMO_CREDENTIAL),
        )
    box = bus.subscribe("spotify", (RunTask,), capacity=64)
    garden.mailboxes["spotify"] = box
    # Track starts become `track_plays` rows in the persistence actor's batches.
    garden.store.register_writer(TrackChanged, write_track_plays)
    bus.subscribe("persistence.spotify", (TrackChanged,), mailbox=garden.mailbox("persistence"))
    # A longer Retry-After fails the sync and holds the task in the scheduler instead.
    retry = RetryPolicy(max_rate_limit_wait=SCHEDULED_RATE_LIMIT_WAIT)

    hooks: dict[str, Any] = _client_hooks(garden, "spotify")
    # A refresh token that Spotify rotates is kept encrypted by the privacy actor (nothing is
    # written without GREENHOUSE_SECRET_KEY) and used again after a restart.
    configured = settings.is_configured("spotify")
    token_name = lineage_name("spotify.refresh_token", config.refresh_token)

    async def keep_refresh_token(token: Secret) -> None:
        try:
            await ask(garden.mailbox("privacy"), SecretPut(name=token_name, value=token), 10.0)
        except Exception as error:  # the poller keeps the token in memory either way
            log.warning("rotated Spotify refresh token not stored: %s", type(error).__name__)

    if configured:
        hooks["on_refresh_token"] = keep_refresh_token

    def make() -> SpotifyPoller:
        current = config
        stored = (
            read_stored_secret(garden.store.path, settings.privacy.secret_key, token_name)
            if configured
            else None
        )
        if stored:
            current = msgspec.structs.replace(config, refresh_token=stored)
        service = SpotifyService(current, transport=transport, clock=clock, retry=retry, **hooks)
        # No loop of its own: the scheduler runs `spotify_sync` every SPOTIFY_POLL_INTERVAL.
        return SpotifyPoller(
            box, bus, service, clock, interval=None, availability=garden.availability
        )

    children.append(ChildSpec("spotify", make, Restart.PERMANENT))


# An injected weather transport with no place configured (the demo world) reads this one.
DEMO_WEATHER_CITY = "Lisbon"


def _add_weather(garden: Garden, children: list[ChildSpec]) -> None:
    """The weather poller, when OpenWeatherMap is configured or a transport is injected."""
    settings, bus, clock = garden.settings, garden.bus, garden.clock
    transport = _injected_transport(garden, "weather")
    if not settings.is_configured("weather") and transport is None:
        return
    config = settings.weather
    if not config.city and (config.latitude is None or config.longitude is None):
        config = msgspec.structs.replace(config, city=DEMO_WEATHER_CITY)
    if not config.api_key:
        config = msgspec.structs.replace(config, api_key=Secret(DEMO_CREDENTIAL))
    box = bus.subscribe("weather", (RunTask,), capacity=64)
    garden.mailboxes["weather"] = box
    garden.store.register_writer(WeatherObserved, write_weather_readings)
    bus.subscribe("persistence.weather", (WeatherObserved,), mailbox=garden.mailbox("persistence"))
    retry = RetryPolicy(max_rate_limit_wait=SCHEDULED_RATE_LIMIT_WAIT)

    hooks = _client_hooks(garden, "weather")

    def make() -> WeatherPoller:
        service = WeatherService(config, transport=transport, clock=clock, retry=retry, **hooks)
        return WeatherPoller(
            box, bus, service, clock, interval=None, availability=garden.availability
        )

    children.append(ChildSpec("weather", make, Restart.PERMANENT))


def _add_scheduler(garden: Garden, children: list[ChildSpec]) -> None:
    """The scheduler: runs the built-in tasks for the owners that are in the tree.

    It decides when every sync runs: the pollers have no loop of their own. `extras=
    {"scheduler": False}` leaves it out, for tests that send `RunTask` themselves (and then
    nothing polls on its own).
    """
    if garden.extras.get("scheduler", True) is False:
        return
    settings, bus, clock = garden.settings, garden.bus, garden.clock
    try:
        load_timezone(settings.scheduler.timezone)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    box = bus.mailbox("scheduler", capacity=256)  # ask-only: ExecuteTaskNow, stats, status
    garden.mailboxes["scheduler"] = box
    register_task_run_writers(garden.store)
    # The owners' `retry_after` holds (task id -> monotonic deadline), shared by every
    # incarnation: a restarted scheduler still sends no run inside a server's Retry-After.
    holds: dict[str, float] = {}
    bus.subscribe("persistence.task_runs", (TaskRun, TaskRunRetention),
                  mailbox=garden.mailbox("persistence"))

    def make() -> SchedulerActor:
        # Owners are looked up when the actor starts, after every subsystem has added its
        # mailboxes, so the order of SUBSYSTEMS does not matter.
        scheduler = SchedulerActor(
            box, bus, clock=clock, timezone=settings.scheduler.timezone,
            retention_days=settings.privacy.retention_task_runs_days, not_before=holds,
        )
        owners = {name: mb for name, mb in garden.mailboxes.items() if name != "scheduler"}
        scheduler.schedule_default_tasks(settings, owners)
        return scheduler

    children.append(ChildSpec("scheduler", make, Restart.PERMANENT))


def _add_github(garden: Garden, children: list[ChildSpec]) -> None:
    from .github import add_github  # issue 3: GitHub poller (only when configured or faked)

    add_github(garden, children)


def _add_wakatime(garden: Garden, children: list[ChildSpec]) -> None:
    """The WakaTime poller, when WakaTime is configured or a transport is injected."""
    settings, bus, clock = garden.settings, garden.bus, garden.clock
    transport = garden.extras.get("transports", {}).get("wakatime")
    if not settings.is_configured("wakatime") and transport is None:
        return
    config = settings.wakatime
    box = bus.subscribe("wakatime", (RunTask,), capacity=64)
    garden.mailboxes["wakatime"] = box
    # Each poll becomes a `coding_observations` row in the persistence actor's batches.
    garden.store.register_writer(CodingActivityObserved, write_coding_observations)
    bus.subscribe(
        "persistence.wakatime", (CodingActivityObserved,), mailbox=garden.mailbox("persistence")
    )
    retry = RetryPolicy(max_rate_limit_wait=SCHEDULED_RATE_LIMIT_WAIT)

    # The rate-limit and cache owners' hooks (issue 5), when present; else the base defaults.
    gate = garden.extras.get("request_gates", {}).get("wakatime")
    cache = garden.extras.get("response_caches", {}).get("wakatime")

    def make() -> WakaTimePoller:
        service = WakaTimeService(
            config, transport=transport, clock=clock, retry=retry, gate=gate, cache=cache
        )
        return WakaTimePoller(
            box, bus, service, clock, interval=None, scheduler=garden.mailboxes.get("scheduler"),
            availability=garden.availability,
        )

    children.append(ChildSpec("wakatime", make, Restart.PERMANENT))


# An injected social transport with no source configured (the demo world) reads these.
DEMO_SOCIAL = SocialConfig(
    rss_feeds=("https://blog.greenhouse.example/feed.xml",),
    mastodon_base_url="https://mastodon.greenhouse.example",
    mastodon_account="gardener",
    bluesky_handle="gardener.bsky.social",
    hackernews_enabled=True,
)


def _stored_post_keys(store: Store) -> OrderedDict[tuple[str, str], None]:
    """Keys of the posts in `social_posts`, oldest first (empty for a new database)."""
    conn = store.reader()
    try:
        keys = recent_post_keys(conn, limit=SEEN_LIMIT)
    finally:
        conn.close()
    return OrderedDict((key, None) for key in reversed(keys))


def _add_social(garden: Garden, children: list[ChildSpec]) -> None:
    """The social poller, when a social source is configured or a transport is injected."""
    settings, bus, clock = garden.settings, garden.bus, garden.clock
    transport = garden.extras.get("transports", {}).get("social")
    if not settings.is_configured("social") and transport is None:
        return
    config = settings.social if settings.is_configured("social") else DEMO_SOCIAL
    box = bus.subscribe("social", (RunTask, RepositoriesObserved), capacity=64)
    garden.mailboxes["social"] = box
    # New posts become `social_posts` rows; on start the poller reads them back.
    garden.store.register_writer(SocialActivityObserved, write_social_posts)
    bus.subscribe(
        "persistence.social", (SocialActivityObserved,), mailbox=garden.mailbox("persistence")
    )

    # Read once, synchronously, while the tree is built: reading it later from inside the
    # running tree would let virtual time move during the read and break determinism.
    seen = garden.extras.setdefault("social_seen", _stored_post_keys(garden.store))
    retry = RetryPolicy(max_rate_limit_wait=SCHEDULED_RATE_LIMIT_WAIT)

    gate = garden.extras.get("request_gates", {}).get("social")
    cache = garden.extras.get("response_caches", {}).get("social")

    def make() -> SocialPoller:
        service = SocialService(
            config, transport=transport, clock=clock, retry=retry, gate=gate, cache=cache
        )
        return SocialPoller(
            box, bus, service, clock, interval=None, seen=seen, news_window=config.poll_interval,
            availability=garden.availability,
        )

    children.append(ChildSpec("social", make, Restart.PERMANENT))


def _add_web(garden: Garden, children: list[ChildSpec]) -> None:
    if not garden.extras.get("web", True):
        return  # `run.py simulate` runs in virtual time with no sockets
    from .web import add_web  # issue 8: WebSocket viewers and the HTTP API

    add_web(garden, children)


# Subsystems add themselves here, in start order.
SUBSYSTEMS: list[ChildAdder] = [
    _add_core,
    _add_ratecache,
    _add_privacy,
    _add_github,
    _add_spotify,
    _add_weather,
    _add_wakatime,
    _add_social,
    _add_web,
    _add_engines,
    _add_scheduler,
]


def build_garden(
    settings: IntegrationSettings,
    *,
    clock: Clock | None = None,
    db_path: str | None = None,
    store: Store | None = None,
    extras: Mapping[str, Any] | None = None,
) -> Garden:
    """Make the bus, store, mailboxes and the root supervisor from settings.

    `extras` seeds `garden.extras` before the subsystems are added, e.g. `{"transports":
    {"spotify": httpx.MockTransport(...)}}` to feed pollers from a fake world.
    """
    clock = clock if clock is not None else Clock()
    bus = Bus()
    store = store if store is not None else Store(db_path or settings.runtime.db_path)
    garden = Garden(settings=settings, clock=clock, bus=bus, store=store)
    # Injected before the adders run, e.g. {"transports": {"github": httpx.MockTransport(...)}}.
    garden.extras.update(extras or {})
    children: list[ChildSpec] = []
    for add in SUBSYSTEMS:
        add(garden, children)
    garden.root = Supervisor("root", children, clock=clock)
    return garden


async def run_garden(
    garden: Garden, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run the tree until cancelled; the store is closed (and checkpointed) on the way out."""
    log.info("supervision tree:\n%s", garden.describe())
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(garden.root.run)
            task_status.started()
    finally:
        with trio.CancelScope(shield=True):
            await garden.clock.run_sync(garden.store.close)
