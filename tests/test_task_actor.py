"""`offer_or_publish`: a handler's last messages, in order, without waiting unless one must."""

from __future__ import annotations

import trio
import trio.testing

from greenhouse.messages import Message
from greenhouse.runtime import Actor, Bus
from greenhouse.task_actor import offer_or_publish


class Note(Message, frozen=True, kw_only=True):
    seq: int


async def test_messages_that_fit_go_out_in_order_without_a_schedule_point() -> None:
    bus = Bus()
    box = bus.subscribe("reader", (Note,), capacity=8)
    actor = Actor("writer", None, bus)
    with trio.testing.assert_no_checkpoints():
        await offer_or_publish(actor, [Note(seq=i) for i in range(3)])
    assert [box.get_nowait().seq for _ in range(3)] == [0, 1, 2]


async def test_a_full_mailbox_makes_the_rest_wait_in_order() -> None:
    bus = Bus()
    box = bus.subscribe("reader", (Note,), capacity=2)
    actor = Actor("writer", None, bus)
    got: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(offer_or_publish, actor, [Note(seq=i) for i in range(5)])
        while len(got) < 5:
            got.append((await box.get()).seq)
    assert got == [0, 1, 2, 3, 4]  # nothing dropped, nothing reordered


async def test_an_actor_without_a_bus_publishes_nothing() -> None:
    await offer_or_publish(Actor("alone"), [Note(seq=1)])  # no bus: a no-op, no error
