"""Every migration of the garden database, in the order they apply.

Each part of the system keeps its migrations beside its code and lists them here once. Names are
never reused or renamed: a migration that has run is recorded in `schema_migrations` by name.
"""

from __future__ import annotations

from .analytics_store import ANALYTICS_MIGRATIONS
from .cache_layers import CACHE_MIGRATIONS
from .coding_social_history import CODING_SOCIAL_MIGRATIONS
from .histories import HISTORY_MIGRATIONS
from .listening_weather_history import LISTENING_WEATHER_MIGRATIONS
from .privacy.tables import PRIVACY_MIGRATIONS
from .store import CORE_MIGRATIONS, Migration
from .task_runs import TASK_RUNS_MIGRATIONS
from .web.deliveries import WEB_MIGRATIONS

MIGRATIONS: list[Migration] = [
    *CORE_MIGRATIONS,
    *HISTORY_MIGRATIONS,
    *ANALYTICS_MIGRATIONS,
    *LISTENING_WEATHER_MIGRATIONS,
    *TASK_RUNS_MIGRATIONS,
    *WEB_MIGRATIONS,
    *CACHE_MIGRATIONS,
    *CODING_SOCIAL_MIGRATIONS,
    *PRIVACY_MIGRATIONS,
]
