"""Coding and social histories: the pollers' observations land in SQLite, and a restarted social
poller does not announce stored posts again (greenhouse/coding_social_history.py)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trio.testing

from actors.tree import build_garden, run_garden
from greenhouse.config import IntegrationSettings, Secret, WakaTimeConfig, WebConfig
from greenhouse.messages import SocialActivity
from greenhouse.runtime import Clock
from tests.fake_social import NOW, FakeSocialWorld, config
from tests.fake_wakatime import FakeWakaTime


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


SETTINGS = IntegrationSettings(
    wakatime=WakaTimeConfig(api_key=Secret("waka_hist_key_1"), api_base_url="https://waka.test/api/v1"),
    social=config(),
    web=WebConfig(http_port=0, ws_port=0),  # ephemeral ports
)


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


async def run_for(db: Path, world: FakeSocialWorld, seconds: float, start: float) -> list[Any]:
    """Run the whole tree for `seconds` of virtual time; return the SocialActivity events seen."""
    garden = build_garden(
        SETTINGS,
        clock=Clock(start_epoch=start),
        db_path=str(db),
        extras={"transports": {"wakatime": FakeWakaTime().transport(),
                               "social": httpx.MockTransport(world)}},
    )
    watch = garden.bus.subscribe("test-watch", (SocialActivity,), capacity=1000)
    seen: list[Any] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        await trio.sleep(seconds)
        # Persistence writes in a worker thread, which autojump does not wait for: give it real
        # time until the rows are durable.
        for _ in range(300):
            done = await trio.to_thread.run_sync(
                rows, db, "SELECT COUNT(*) FROM social_posts"
            )
            if done and done[0][0] >= 10:
                break
            await trio.to_thread.run_sync(time.sleep, 0.01)
        await trio.to_thread.run_sync(time.sleep, 0.05)
        nursery.cancel_scope.cancel()
    while True:
        try:
            seen.append(watch.get_nowait())
        except trio.WouldBlock:
            return seen


async def test_observations_are_stored_and_a_restart_does_not_repeat_posts(
    autojump_clock: Any, tmp_path: Path
) -> None:
    db = tmp_path / "garden.db"
    world = FakeSocialWorld()
    # Posted ten minutes before the garden starts: within the first poll's "new" window.
    world.post_status("77", "2026-11-26T13:23:20.000Z", "<p>Watering the #python garden</p>")
    first = await run_for(db, world, 65 * 60, NOW)
    assert [a.by_source for a in first] == [{"mastodon": 1}]
    coding = rows(db, "SELECT at, today_seconds, projects FROM coding_observations ORDER BY at")
    # The scheduler's polls at 0, 30 and 60 min, the later two jittered by up to a minute
    # (virtual time may run on while the test waits for the disk).
    offsets = [r[0] - NOW for r in coding[:3]]
    assert round(offsets[0]) == 0 and 1800 <= offsets[1] < 1860 and 3600 <= offsets[2] < 3660
    assert coding[0][1] == pytest.approx(8256.598, abs=0.01)
    assert '"wakatime-cli"' in coding[0][2]
    posts = rows(db, "SELECT source, post_id, text, likes FROM social_posts ORDER BY source, post_id")
    assert ("mastodon", "77", "Watering the #python garden", 112) in posts
    assert len(posts) == 10  # 2 rss + 2 mastodon + 2 bluesky + 1 hn + 2 twitter + 1 linkedin
    # Restart ten minutes later: status 77 is still within the first poll's window, but it is
    # in the database, so it is not news.
    second = await run_for(db, world, 5 * 60, NOW + 10 * 60)
    assert second == []
    assert len(rows(db, "SELECT * FROM social_posts")) == 10  # nothing duplicated
