"""The HTTP side's readers under a MockClock: a slow query takes no virtual time.

`ReaderPool` (the API's SQLite readers) and `GardenInsights` (portfolio, mood and analytics
queries) go through `Clock.run_sync`: a worker thread in production, inline under a MockClock,
where a thread hop would let the autojumping clock run ahead while the query works (the same
race the stateful test found in the WebSocket actor's replay). With `trio.to_thread`, both
tests fail.
"""

from __future__ import annotations

import time
from pathlib import Path

import trio
import trio.testing

from greenhouse.insights import GardenInsights
from greenhouse.runtime import Clock
from greenhouse.store import Store
from greenhouse.web.context import ReaderPool

SLOW = 0.2  # real seconds: a loaded machine, a slow SD card


def _slow_count(conn: object) -> int:
    time.sleep(SLOW)
    return 1


async def test_a_slow_reader_query_takes_no_virtual_time(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    pool = ReaderPool(Store(tmp_path / "garden.db"), clock=Clock())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep, 3600)  # a deadline the clock could jump to
        start = trio.current_time()
        assert await pool.run(_slow_count) == 1
        elapsed = trio.current_time() - start
        nursery.cancel_scope.cancel()
    assert elapsed == 0


async def test_a_slow_insights_query_takes_no_virtual_time(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    store = Store(tmp_path / "garden.db")
    insights = GardenInsights(store, Clock())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep, 3600)
        start = trio.current_time()
        assert await insights._read(_slow_count) == 1
        elapsed = trio.current_time() - start
        nursery.cancel_scope.cancel()
    assert elapsed == 0
