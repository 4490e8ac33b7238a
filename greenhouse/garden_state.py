"""The garden as a viewer sees it: a projection folded from the event log.

Every stored garden event is folded, in id order, into one `GardenState`; its `snapshot()` is the
`data` of the `snapshot` frame a new viewer gets first and of `GET /api/garden`. Because the
event log is the source of truth, the projection is rebuilt from SQLite on start
(`rebuild_from_db`) and then kept current from `EventStored` messages; events at or below
`last_event_id` are ignored, so folding the same event twice (replay overlapping live) is harmless.

Fields that no event has told us yet stay `None` rather than being invented.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from .store import events_since

__all__ = ["GardenState", "MOOD_COMPONENTS"]

MOOD_COMPONENTS = ("energy", "focus", "creativity", "serenity", "intensity")

_PLANT_KEYS = ("stage", "score", "health", "health_state", "prediction", "language")
_json = msgspec.json.Decoder()


class GardenState:
    """A fold of garden events into plants, atmosphere, weather, music and viewers."""

    def __init__(self) -> None:
        self.last_event_id = 0
        self.plants: dict[str, dict[str, Any]] = {}
        self.atmosphere: dict[str, Any] | None = None
        self.weather: dict[str, Any] | None = None
        self.music: dict[str, Any] | None = None
        self.services: dict[str, dict[str, Any]] = {}
        self.live_viewers = 0
        self.events_by_type: dict[str, int] = {}

    # -- folding -------------------------------------------------------------------------------

    def apply(self, event_id: int, event_type: str, data: Any, timestamp: str) -> bool:
        """Fold one event; returns False (and changes nothing) if it was already folded."""
        if event_id <= self.last_event_id:
            return False
        self.last_event_id = event_id
        self.events_by_type[event_type] = self.events_by_type.get(event_type, 0) + 1
        if not isinstance(data, dict):
            return True
        handler = _HANDLERS.get(event_type)
        if handler is not None:
            handler(self, data, timestamp)
        return True

    def _plant(self, repository: str) -> dict[str, Any]:
        plant = self.plants.get(repository)
        if plant is None:
            plant = {
                "repository": repository,
                "stage": None,
                "score": None,
                "health": None,
                "commit_count": 0,
                "last_activity": None,
            }
            self.plants[repository] = plant
        return plant

    def _commit_pushed(self, data: dict[str, Any], timestamp: str) -> None:
        repository = data.get("repository")
        if not isinstance(repository, str):
            return
        plant = self._plant(repository)
        count = data.get("commit_count")
        if isinstance(count, int) and count > 0:
            plant["commit_count"] += count
        plant["last_activity"] = timestamp

    def _growth_stage_changed(self, data: dict[str, Any], timestamp: str) -> None:
        repository = data.get("repository")
        if not isinstance(repository, str):
            return
        plant = self._plant(repository)
        if "new_stage" in data:
            plant["stage"] = data["new_stage"]
        if isinstance(data.get("score"), int | float):
            plant["score"] = data["score"]
        plant["last_activity"] = timestamp

    def _growth_updated(self, data: dict[str, Any], timestamp: str) -> None:
        # Shape owned by the growth engine: fold the plant fields it carries.
        repository = data.get("repository")
        if not isinstance(repository, str):
            return
        plant = self._plant(repository)
        for key in _PLANT_KEYS:
            if key in data:
                plant[key] = data[key]
        if "health" not in data and "health_state" in data:
            plant["health"] = data["health_state"]

    def _atmosphere_changed(self, data: dict[str, Any], timestamp: str) -> None:
        self.atmosphere = {
            "name": data.get("new_atmosphere"),
            "weather_pattern": data.get("weather_pattern"),
            "mood": {key: data.get(key) for key in MOOD_COMPONENTS},
            "data_sources": list(data.get("data_sources") or ()),
            "since": timestamp,
        }

    def _weather_updated(self, data: dict[str, Any], timestamp: str) -> None:
        self.weather = {**data, "observed_at": timestamp}

    def _music_changed(self, data: dict[str, Any], timestamp: str) -> None:
        self.music = {**data, "since": timestamp}

    def _visitors(self, data: dict[str, Any], timestamp: str) -> None:
        # The WebSocket actor knows the exact live count and overrides this while it runs.
        if isinstance(data.get("live_viewers"), int):
            self.live_viewers = data["live_viewers"]

    def _service_status(self, data: dict[str, Any], timestamp: str) -> None:
        service = data.get("service")
        if isinstance(service, str):
            self.services[service] = {
                "available": bool(data.get("available")),
                "error": data.get("error"),
                "since": timestamp,
            }

    # -- rebuilding ----------------------------------------------------------------------------

    def rebuild_from_db(self, conn: sqlite3.Connection, page: int = 2000) -> int:
        """Fold every stored event after `last_event_id` (blocking; run it in a thread)."""
        folded = 0
        while True:
            rows = events_since(conn, self.last_event_id, limit=page)
            if not rows:
                return folded
            for row in rows:
                try:
                    data = _json.decode(row.data)
                except msgspec.DecodeError:
                    data = None
                self.apply(row.id, row.type, data, row.timestamp)
                folded += 1

    # -- reading -------------------------------------------------------------------------------

    def snapshot(self, live_viewers: int | None = None) -> dict[str, Any]:
        """The whole garden as plain data (the `snapshot` frame's `data`)."""
        return {
            "plants": [dict(self.plants[name]) for name in sorted(self.plants)],
            "atmosphere": self.atmosphere,
            "mood": self.atmosphere["mood"] if self.atmosphere else None,
            "weather": self.weather,
            "music": self.music,
            "services": dict(self.services),
            "live_viewers": self.live_viewers if live_viewers is None else live_viewers,
            "last_event_id": self.last_event_id,
        }


_HANDLERS = {
    "commit_pushed": GardenState._commit_pushed,
    "growth_stage_changed": GardenState._growth_stage_changed,
    "growth_updated": GardenState._growth_updated,
    "atmosphere_changed": GardenState._atmosphere_changed,
    "weather_updated": GardenState._weather_updated,
    "music_changed": GardenState._music_changed,
    "visitor_joined": GardenState._visitors,
    "visitor_left": GardenState._visitors,
    "service_status": GardenState._service_status,
}
