"""`run.py simulate`: the whole tree against the world in virtual time, reproducibly."""

from __future__ import annotations

import sqlite3

from actors.simulation import simulate


def test_same_seed_gives_the_same_event_log_and_another_seed_does_not(tmp_path):
    first = simulate(1, 11, tmp_path / "a.db", progress=None)
    second = simulate(1, 11, tmp_path / "b.db", progress=None)
    other = simulate(1, 12, tmp_path / "c.db", progress=None)
    assert first.event_hash == second.event_hash
    assert first.events_by_type == second.events_by_type
    assert other.event_hash != first.event_hash
    # The garden lived: the real pollers read the world and their events were stored.
    for kind in ("commit_pushed", "music_changed", "weather_updated"):
        assert first.events_by_type.get(kind, 0) > 0, first.events_by_type
    # Conditional polling works through the real client: most GitHub polls were free 304s.
    assert first.not_modified.get("github", 0) > 0
    # No request reached a service after its limit said no.
    assert sum(first.limit_violations.values()) == 0
    conn = sqlite3.connect(tmp_path / "a.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = [row[0] for row in conn.execute("SELECT id FROM events ORDER BY id")]
    assert ids == list(range(1, len(ids) + 1))
    conn.close()


def test_summary_table_names_every_part(tmp_path):
    summary = simulate(1, 3, tmp_path / "s.db", progress=None, fault_rate=0.2)
    text = summary.table()
    for needle in ("plants per stage", "events by type", "github", "GitHub points spent",
                   "actor restarts", "event log sha256", "where the simulation differs",
                   "Spotify poll"):
        assert needle in text
    assert sum(summary.faults.values()) > 0  # the hostile world did inject faults
