"""Webhook deliveries: the durable record that makes de-duplication survive restarts.

A delivery is accepted (202) only after its garden events AND its `webhook_deliveries` row are
committed. Both are asked of the persistence actor in one go, event first: the mailbox is FIFO
and a batch is one transaction, so a committed delivery row implies committed events. A
redelivery (GitHub keeps the delivery id) is found by `delivery_recorded`, which also looks for
an event carrying the id, in case the process stopped between two batches.

Only the id, event name, action and time are kept: never the body (it holds committers' e-mail
addresses) and never the sender's address.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlite_utils
import trio

from greenhouse.messages import Message, iso_timestamp
from greenhouse.runtime import AskError, AskRequest, AskTimeout, Mailbox, Reply
from greenhouse.store import Migration

__all__ = [
    "WEB_MIGRATIONS",
    "WebhookDeliveryRecorded",
    "ask_in_order",
    "delivery_recorded",
    "write_deliveries",
]


class WebhookDeliveryRecorded(Message, frozen=True, kw_only=True):
    """A verified GitHub delivery was accepted (a row of `webhook_deliveries`)."""

    delivery_id: str
    event: str
    action: str | None = None
    received_at: float = 0.0


def _deliveries_table(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS webhook_deliveries (
            delivery_id TEXT PRIMARY KEY,
            event TEXT NOT NULL,
            action TEXT,
            received_at TEXT NOT NULL
        )
        """
    )
    # Finds an event by the delivery that caused it (the crash-between-batches case).
    db.execute(
        "CREATE INDEX IF NOT EXISTS events_delivery_id ON events(json_extract(data, '$.delivery_id'))"
        " WHERE json_extract(data, '$.delivery_id') IS NOT NULL"
    )


WEB_MIGRATIONS: list[Migration] = [Migration("web_0001_webhook_deliveries", _deliveries_table)]


def write_deliveries(db: sqlite_utils.Database, messages: Sequence[Any]) -> None:
    """Table writer for `WebhookDeliveryRecorded` (runs inside persistence's transaction)."""
    db.conn.executemany(
        "INSERT OR IGNORE INTO webhook_deliveries(delivery_id, event, action, received_at)"
        " VALUES (?, ?, ?, ?)",
        [(m.delivery_id, m.event, m.action, iso_timestamp(m.received_at)) for m in messages],
    )


def delivery_recorded(conn: sqlite3.Connection, delivery_id: str) -> bool:
    """True when the delivery was accepted before (blocking; use a reader connection)."""
    row = conn.execute(
        "SELECT 1 FROM webhook_deliveries WHERE delivery_id = ? UNION ALL "
        "SELECT 1 FROM events WHERE json_extract(data, '$.delivery_id') = ? LIMIT 1",
        (delivery_id, delivery_id),
    ).fetchone()
    return row is not None


async def ask_in_order(box: Mailbox, messages: Sequence[Any], within: float) -> list[Any]:
    """Ask `box` several messages, queued back to back in order; returns the replies.

    Unlike calling `ask` in turn this waits for one round trip, so the persistence actor takes
    them in one batch (one commit) when it can.
    """
    slots: list[Reply] = []
    try:
        with trio.move_on_after(within) as scope:
            for message in messages:
                slots.append(Reply())
                # Back to back with no checkpoint in between, so the actor wakes to all of them
                # and commits them in one transaction (a delivery row never lands without its
                # events).
                request = AskRequest(message, slots[-1])
                if not box.put_nowait(request):
                    await box.put(request)
            replies = []
            for slot in slots:
                ok, value = await slot.receive()
                if not ok:
                    raise AskError(
                        f"{box.owner} failed on {type(value).__name__}: {value}"
                    ) from value
                replies.append(value)
    finally:
        for slot in slots:
            slot.abandon()  # a late answer is dropped
    if scope.cancelled_caught:
        raise AskTimeout(f"{box.owner} did not answer within {within:g}s")
    return replies
