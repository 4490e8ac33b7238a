"""Pieces of the HTTP side: the deliveries record, ordered asks, and the metrics text format."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from actors.persistence import PersistenceActor
from greenhouse.messages import CommitPushed
from greenhouse.runtime import Bus
from greenhouse.store import Store
from greenhouse.web.deliveries import (
    WebhookDeliveryRecorded,
    ask_in_order,
    delivery_recorded,
    write_deliveries,
)
from greenhouse.web.metrics import MetricSample, render_metrics


def push(delivery: str | None) -> CommitPushed:
    return CommitPushed(
        repository="r", commit_count=1, author="a", impact_score=0.1, delivery_id=delivery
    )


def test_a_delivery_is_found_by_its_row_or_by_its_event(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.db")
    store.register_writer(WebhookDeliveryRecorded, write_deliveries)
    store.write_batch(
        [WebhookDeliveryRecorded(delivery_id="row", event="issues", received_at=1.0)], now=1.0
    )
    # The process stopped after the event's batch and before the delivery row's.
    store.write_batch([push("event-only"), push(None)], now=2.0)
    conn = store.reader()
    assert delivery_recorded(conn, "row")
    assert delivery_recorded(conn, "event-only")
    assert not delivery_recorded(conn, "never-seen")
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT 1 FROM events WHERE json_extract(data, '$.delivery_id') = ?",
        ("x",),
    ).fetchall()
    assert "events_delivery_id" in " ".join(str(tuple(row)) for row in plan)
    row = conn.execute("SELECT * FROM webhook_deliveries").fetchone()
    assert dict(row) == {
        "delivery_id": "row",
        "event": "issues",
        "action": None,
        "received_at": "1970-01-01T00:00:01Z",
    }
    conn.close()
    store.close()


async def test_ask_in_order_commits_events_before_the_delivery_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.db")
    store.register_writer(WebhookDeliveryRecorded, write_deliveries)
    bus = Bus()
    box = bus.mailbox("persistence", capacity=64)
    actor = PersistenceActor(box, bus, store)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        replies = await ask_in_order(
            box,
            [push("d1"), push("d1"), WebhookDeliveryRecorded(delivery_id="d1", event="push")],
            within=5,
        )
        assert replies == [1, 2, None]
        assert actor.commits == 1  # one round trip, one transaction
        nursery.cancel_scope.cancel()
    store.close()


def test_metrics_render_escapes_and_groups() -> None:
    text = render_metrics(
        [
            MetricSample("g_total", "counter", "Help with \\ and\nnewline.", 3, {"k": 'a"b\\c\nd'}),
            MetricSample("g_total", "counter", "ignored", 2.5, {"k": "x"}),
            MetricSample("g_up", "gauge", "Up.", float("nan")),
        ]
    )
    assert text == (
        "# HELP g_total Help with \\\\ and\\nnewline.\n"
        "# TYPE g_total counter\n"
        'g_total{k="a\\"b\\\\c\\nd"} 3\n'
        'g_total{k="x"} 2.5\n'
        "# HELP g_up Up.\n"
        "# TYPE g_up gauge\n"
        "g_up NaN\n"
    )
    with pytest.raises(ValueError):
        render_metrics([MetricSample("bad name", "gauge", "", 1)])
    with pytest.raises(ValueError):
        render_metrics([MetricSample("ok", "gauge", "", 1, {"bad-label": "v"})])
