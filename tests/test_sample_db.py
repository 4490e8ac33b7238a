"""greenhouse.db.sample is a real garden database that the runtime opens and serves."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from greenhouse.garden_state import GardenState
from greenhouse.schema import MIGRATIONS
from greenhouse.store import Store

SAMPLE = Path(__file__).resolve().parent.parent / "greenhouse.db.sample"


def test_sample_is_small_intact_and_has_a_grown_garden(tmp_path):
    assert SAMPLE.stat().st_size < 8 * 1024 * 1024
    conn = sqlite3.connect(f"file:{SAMPLE}?mode=ro", uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kinds = dict(conn.execute("SELECT type, COUNT(*) FROM events GROUP BY type").fetchall())
    for kind in ("commit_pushed", "growth_updated", "music_changed", "weather_updated",
                 "atmosphere_changed"):
        assert kinds.get(kind, 0) > 0, kinds
    assert conn.execute("SELECT COUNT(*) FROM analytics_visits").fetchone()[0] > 0
    conn.close()

    # The runtime opens it (applying any newer migration) and folds it into a garden snapshot.
    copy = tmp_path / "sample.db"
    shutil.copy(SAMPLE, copy)
    store = Store(copy, migrations=MIGRATIONS)
    state = GardenState()
    reader = store.reader()
    state.rebuild_from_db(reader)
    reader.close()
    store.close()
    snapshot = state.snapshot()
    assert len(snapshot["plants"]) >= 5
    assert all(p["stage"] for p in snapshot["plants"])
    assert snapshot["atmosphere"] and snapshot["weather"]
