"""The garden snapshot projection: folding events, idempotence, rebuilding from the log."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from greenhouse.garden_state import GardenState
from greenhouse.messages import AtmosphereChanged, CommitPushed, GrowthStageChanged, MusicChanged
from greenhouse.store import Store


def test_folds_plants_atmosphere_music_and_services() -> None:
    state = GardenState()
    state.apply(1, "commit_pushed", {"repository": "fern", "commit_count": 3}, "t1")
    state.apply(2, "commit_pushed", {"repository": "fern", "commit_count": 2}, "t2")
    state.apply(
        3,
        "growth_stage_changed",
        {"repository": "fern", "old_stage": "seed", "new_stage": "seedling", "score": 0.3},
        "t3",
    )
    state.apply(4, "growth_updated", {"repository": "fern", "health": "thriving"}, "t4")
    state.apply(
        5,
        "atmosphere_changed",
        {
            "new_atmosphere": "serene_morning",
            "energy": 0.2,
            "focus": 0.7,
            "creativity": 0.4,
            "serenity": 0.9,
            "intensity": 0.1,
            "weather_pattern": "soft_rain",
            "data_sources": ["music"],
        },
        "t5",
    )
    state.apply(6, "music_changed", {"track": "Gymnopedie No.1", "is_playing": True}, "t6")
    state.apply(
        7, "service_status", {"service": "spotify", "available": False, "error": "401"}, "t7"
    )
    snap = state.snapshot(live_viewers=4)
    assert snap["plants"] == [
        {
            "repository": "fern",
            "stage": "seedling",
            "score": 0.3,
            "health": "thriving",
            "commit_count": 5,
            "last_activity": "t3",
        }
    ]
    assert snap["atmosphere"]["name"] == "serene_morning"
    assert snap["mood"] == {
        "energy": 0.2,
        "focus": 0.7,
        "creativity": 0.4,
        "serenity": 0.9,
        "intensity": 0.1,
    }
    assert snap["music"]["track"] == "Gymnopedie No.1"
    assert snap["weather"] is None  # nothing told us yet: no invented weather
    assert snap["services"]["spotify"]["available"] is False
    assert snap["live_viewers"] == 4
    assert snap["last_event_id"] == 7


@given(st.lists(st.tuples(st.integers(1, 30), st.integers(1, 5)), max_size=40))
def test_folding_an_event_twice_changes_nothing(events: list[tuple[int, int]]) -> None:
    once, twice = GardenState(), GardenState()
    for event_id, count in sorted(set(events)):
        data = {"repository": "r", "commit_count": count}
        once.apply(event_id, "commit_pushed", data, "t")
        twice.apply(event_id, "commit_pushed", data, "t")
        twice.apply(event_id, "commit_pushed", data, "t")
    assert once.snapshot() == twice.snapshot()


def test_rebuild_from_the_event_log_equals_the_live_fold(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.db")
    events = [
        CommitPushed(repository=f"r{n % 3}", commit_count=n, author="a", impact_score=0.1)
        for n in range(1, 25)
    ] + [
        GrowthStageChanged(repository="r1", old_stage="seed", new_stage="sapling", score=0.5),
        AtmosphereChanged(old_atmosphere=None, new_atmosphere="energetic_noon", energy_change=0.3),
        MusicChanged(track="x", artists=("y",)),
    ]
    stored = store.write_batch(events, now=1_700_000_000.0)
    live = GardenState()
    for _message, row in stored:
        live.apply(row.id, row.type, json.loads(row.data), row.timestamp)
    rebuilt = GardenState()
    conn = store.reader()
    assert rebuilt.rebuild_from_db(conn, page=5) == len(events)
    conn.close()
    store.close()
    assert rebuilt.snapshot() == live.snapshot()
    assert rebuilt.snapshot()["plants"][0]["commit_count"] == sum(range(3, 25, 3))
