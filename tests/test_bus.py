"""Mailboxes, the bus and ask: delivery guarantees, overflow policies, deadlock freedom."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.messages import Message
from greenhouse.runtime import (
    NOT_NOW,
    Actor,
    AskError,
    AskTimeout,
    Bus,
    Mailbox,
    MailboxClosed,
    MailboxOverflow,
    OverflowPolicy,
    answer_now,
    ask,
)


class Ping(Message, frozen=True, kw_only=True):
    publisher: int
    seq: int


class Other(Message, frozen=True, kw_only=True):
    value: int


@pytest.fixture
def autojump() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_subscribers_get_only_their_types():
    bus = Bus()
    pings = bus.subscribe("pings", (Ping,))
    others = bus.subscribe("others", Other)
    both = bus.subscribe("both", (Message,))
    await bus.publish(Ping(publisher=0, seq=1))
    await bus.publish(Other(value=2))
    assert [m.seq for m in [pings.get_nowait()]] == [1]
    assert len(pings) == 0
    assert others.get_nowait() == Other(value=2)
    assert len(both) == 2


@given(
    plan=st.lists(
        st.lists(st.floats(min_value=0, max_value=0.05), min_size=0, max_size=30),
        min_size=1,
        max_size=4,
    ),
    capacity=st.integers(min_value=1, max_value=4),
    consumer_delays=st.lists(st.floats(min_value=0, max_value=0.05), min_size=1, max_size=10),
)
def test_block_policy_delivers_every_message_once_in_order_per_publisher(
    plan, capacity, consumer_delays
):
    """Any interleaving of publishers and a slow subscriber: nothing lost, nothing doubled."""

    async def scenario() -> list[Ping]:
        bus = Bus()
        box = bus.subscribe("slow", (Ping,), capacity=capacity)
        received: list[Ping] = []
        total = sum(len(p) for p in plan)

        async def publisher(index: int, delays: list[float]) -> None:
            for seq, delay in enumerate(delays):
                await trio.sleep(delay)
                await bus.publish(Ping(publisher=index, seq=seq))

        async def consumer() -> None:
            for i in range(total):
                await trio.sleep(consumer_delays[i % len(consumer_delays)])
                received.append(await box.get())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            for index, delays in enumerate(plan):
                nursery.start_soon(publisher, index, delays)
        assert box.stats.dropped == 0
        return received

    received = trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))
    for index, delays in enumerate(plan):
        mine = [m.seq for m in received if m.publisher == index]
        assert mine == list(range(len(delays)))
    assert len(received) == sum(len(p) for p in plan)


async def test_drop_oldest_keeps_newest_and_counts_drops():
    bus = Bus()
    box = bus.subscribe("viewer", (Other,), capacity=3, policy="drop_oldest")
    for value in range(10):
        await bus.publish(Other(value=value))
    assert [box.get_nowait().value for _ in range(3)] == [7, 8, 9]
    assert box.stats.dropped == 7
    assert box.stats.delivered == 10


async def test_disconnect_policy_closes_and_unsubscribes():
    bus = Bus()
    box = bus.subscribe("viewer", (Other,), capacity=2, policy=OverflowPolicy.DISCONNECT)
    for value in range(3):
        await bus.publish(Other(value=value))
    assert box.closed
    with pytest.raises(MailboxOverflow):
        box.get_nowait()
    # The next publish finds it closed and drops the subscription instead of failing.
    assert await bus.publish(Other(value=9)) == 0
    assert [s.name for s in bus.subscribers()] == []


async def test_block_policy_counts_blocked_senders(autojump):
    box = Mailbox("x", capacity=1)
    await box.put(1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(box.put, 2)
        await trio.sleep(1)
        assert box.stats.blocked == 1 and len(box) == 1
        assert box.get_nowait() == 1
    assert box.get_nowait() == 2


class Echo(Actor):
    async def handle(self, message):
        if isinstance(message, Other) and message.value < 0:
            raise ValueError("negative")
        if isinstance(message, Other):
            return message.value * 2
        return None


async def test_ask_gets_the_reply_and_errors_are_returned_not_fatal():
    bus = Bus()
    box = bus.mailbox("echo")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(Echo("echo", box, bus).run)
        assert await ask(box, Other(value=21)) == 42
        with pytest.raises(AskError, match="echo failed on Other: negative"):
            await ask(box, Other(value=-1))
        assert await ask(box, Other(value=1)) == 2  # the actor lived on
        nursery.cancel_scope.cancel()


async def test_ask_times_out_cleanly(autojump):
    box = Mailbox("sleepy")  # nobody reads it
    start = trio.current_time()
    with pytest.raises(AskTimeout, match="sleepy did not answer Other within 2s"):
        await ask(box, Other(value=1), timeout=2)
    assert trio.current_time() - start == pytest.approx(2)


async def test_a_late_answer_after_a_timeout_is_dropped(autojump):
    box = Mailbox("slow")
    with pytest.raises(AskTimeout):
        await ask(box, Other(value=1), timeout=1)
    request = box.get_nowait()  # the actor gets to it only now
    request.answer(2)  # nobody waits any more: dropped, no error
    request.answer(3)  # and a second answer neither


async def test_a_request_closed_without_an_answer_ends_the_ask():
    box = Mailbox("closer")
    async with trio.open_nursery() as nursery:

        async def close_it() -> None:
            (await box.get())._reply.close()

        nursery.start_soon(close_it)
        with pytest.raises(trio.EndOfChannel):
            await ask(box, Other(value=1))


class Relay(Actor):
    """Publishes one message to its peer for each message it gets, until a hop limit."""

    def __init__(self, name, inbox, bus, peer_type, hops):
        super().__init__(name, inbox, bus)
        self.peer_type = peer_type
        self.hops = hops
        self.handled = 0

    async def handle(self, message):
        self.handled += 1
        if message.value < self.hops:
            # Fan out three messages per one received so both mailboxes fill up.
            for _ in range(3):
                await self.publish(self.peer_type(value=message.value + 1))


class ToA(Message, frozen=True, kw_only=True):
    value: int


class ToB(Message, frozen=True, kw_only=True):
    value: int


async def test_two_actors_publishing_to_each_other_do_not_deadlock(autojump):
    bus = Bus()
    box_a = bus.subscribe("a", (ToA,), capacity=2)
    box_b = bus.subscribe("b", (ToB,), capacity=2)
    a = Relay("a", box_a, bus, ToB, hops=6)
    b = Relay("b", box_b, bus, ToA, hops=6)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(a.run)
            nursery.start_soon(b.run)
            await bus.publish(ToA(value=0))
            while len(box_a) or len(box_b) or a.handled + b.handled < sum(3**i for i in range(7)):  # noqa: ASYNC110 (a test polls)
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
    # 1 + 3 + 9 + ... + 3**6 messages were handled: none lost despite full mailboxes.
    assert a.handled + b.handled == sum(3**i for i in range(7))
    assert box_a.stats.overdraft + box_b.stats.overdraft > 0


async def test_get_many_nowait_takes_in_order_and_wakes_blocked_senders():
    bus = Bus()
    box = bus.subscribe("reader", (Ping,), capacity=3)
    sent: list[int] = []

    async def send(n: int) -> None:
        await bus.publish(Ping(publisher=0, seq=n))
        sent.append(n)

    async with trio.open_nursery() as nursery:
        for n in range(5):
            nursery.start_soon(send, n)
            await trio.testing.wait_all_tasks_blocked()
        assert len(box) == 3 and sent == [0, 1, 2]  # two senders wait for room
        assert [m.seq for m in box.get_many_nowait(2)] == [0, 1]
        await trio.testing.wait_all_tasks_blocked()
        assert sorted(sent) == [0, 1, 2, 3, 4]  # both woken by the one call
        # Both woken in one scheduler batch, in trio's (randomised) order.
        assert sorted(m.seq for m in box.get_many_nowait(10)) == [2, 3, 4]
        assert box.get_many_nowait(10) == []
    box.close()
    with pytest.raises(MailboxClosed):
        box.get_many_nowait(1)  # closed and empty, as get_nowait


async def test_wait_for_sleeps_through_other_messages_and_takes_nothing():
    bus = Bus()
    box = bus.subscribe("reader", (Ping, Other), capacity=8)
    woken: list[int] = []

    async def reader() -> None:
        await box.wait_for(lambda message: isinstance(message, Other))
        woken.append(len(box))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        bus.publish_nowait(Ping(publisher=0, seq=0))
        await bus.publish_many([Ping(publisher=0, seq=1), Ping(publisher=0, seq=2)])
        await trio.testing.wait_all_tasks_blocked()
        assert woken == []  # not woken by messages that can wait
        await bus.publish_many([Ping(publisher=0, seq=3), Other(value=1)])
    assert woken == [5]  # woken once, and everything is still queued, in order
    assert [getattr(m, "seq", None) for m in box.get_many_nowait(10)] == [0, 1, 2, 3, None]
    box.put_nowait(Other(value=2))
    with trio.testing.assert_checkpoints():
        await box.wait_for(lambda message: isinstance(message, Other))  # one already queued
    box.get_nowait()
    box.put_nowait(Ping(publisher=0, seq=4))

    async def wait_until_closed() -> None:
        await box.wait_for(lambda message: False)  # woken by the close; one message left
        box.get_nowait()
        with pytest.raises(MailboxClosed):
            await box.wait_for(lambda message: True)  # closed and empty, as get

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait_until_closed)
        await trio.testing.wait_all_tasks_blocked()
        box.close()


@given(
    kinds=st.lists(st.booleans(), max_size=40),
    capacities=st.tuples(*(st.integers(min_value=1, max_value=12) for _ in range(3))),
    preload=st.integers(min_value=0, max_value=12),
)
def test_publish_many_leaves_every_mailbox_as_publishing_one_by_one_would(
    kinds, capacities, preload
):
    """The one-step path for runs of one type is only an optimisation: same contents, stats."""

    def build() -> tuple[Bus, list[Mailbox]]:
        bus = Bus()
        boxes = [
            bus.subscribe("a", (Ping,), capacity=64),  # block, never full here
            bus.subscribe("b", (Ping, Other), capacity=capacities[0], policy="drop_oldest"),
            bus.subscribe("c", (Other,), capacity=capacities[1], policy="disconnect"),
            bus.subscribe("d", (Ping,), capacity=capacities[2], policy="drop_oldest"),
            bus.subscribe("e", (Ping,), capacity=4),
        ]
        boxes[4].close()  # a viewer that went away: unsubscribed on the next publish
        for i in range(min(preload, capacities[0])):
            boxes[1].put_nowait(Other(value=-i))
        return bus, boxes

    messages = [
        Ping(publisher=0, seq=i) if is_ping else Other(value=i) for i, is_ping in enumerate(kinds)
    ]

    def state(bus: Bus, boxes: list[Mailbox]) -> object:
        return (
            bus.published,
            [s.name for s in bus.subscribers()],
            [(list(box._items), box.stats, box.closed) for box in boxes],
        )

    one_by_one, one_by_one_boxes = build()
    for message in messages:
        one_by_one.publish_nowait(message)
    many, many_boxes = build()
    delivered = trio.run(many.publish_many, messages)
    assert state(many, many_boxes) == state(one_by_one, one_by_one_boxes)
    assert delivered == sum(box.stats.delivered for box in many_boxes) - min(preload, capacities[0])


class Doubler(Actor):
    """Answers `Other` at once (`answer_now`) except for values over 100; records what it saw."""

    def __init__(self, name, inbox, bus):
        super().__init__(name, inbox, bus)
        self.seen: list[tuple[str, int]] = []
        self.gate = trio.Event()

    def answer_now(self, message):
        if isinstance(message, Other) and message.value <= 100:
            if message.value < 0:
                raise ValueError("negative")
            self.seen.append(("now", message.value))
            return message.value * 2
        return NOT_NOW

    async def handle(self, message):
        self.seen.append(("mailbox", message.value))
        if message.value == 999:
            await self.gate.wait()  # busy in a handler until the test lets go
        return message.value * 2


async def test_answer_now_only_while_the_reader_is_idle_and_never_overtakes():
    bus = Bus()
    box = bus.mailbox("doubler")
    actor = Doubler("doubler", box, bus)
    assert answer_now(box, Other(value=1)) is NOT_NOW  # not running: no answerer yet
    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor.run)
        await trio.testing.wait_all_tasks_blocked()
        assert answer_now(box, Other(value=4)) == 8  # idle: answered in this task
        assert answer_now(box, Other(value=500)) is NOT_NOW  # the actor declines
        box.put_nowait(Other(value=7))  # queued: a new message must not overtake it
        assert answer_now(box, Other(value=5)) is NOT_NOW
        await trio.testing.wait_all_tasks_blocked()
        box.put_nowait(Other(value=999))  # busy in a handler: not idle either
        await trio.testing.wait_all_tasks_blocked()
        assert answer_now(box, Other(value=6)) is NOT_NOW
        actor.gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert answer_now(box, Other(value=3)) == 6
        nursery.cancel_scope.cancel()
    assert actor.seen == [("now", 4), ("mailbox", 7), ("mailbox", 999), ("now", 3)]
    assert box.stats.answered_now == 2
    assert box.answerer is None  # stopped: no answers from a dead actor
    box.close()
    assert answer_now(box, Other(value=1)) is NOT_NOW


async def test_an_answer_that_raises_fails_the_caller_and_crashes_the_actor():
    """As if the actor's own task had raised: its state may be half-changed, so it does not
    carry on (a supervisor restarts it); the caller gets an `AskError`."""
    bus = Bus()
    box = bus.mailbox("doubler")
    actor = Doubler("doubler", box, bus)
    crashed = trio.Event()

    async def run() -> None:
        with pytest.raises(RuntimeError, match="doubler: answer_now failed") as failure:
            await actor.run()
        assert isinstance(failure.value.__cause__, ValueError)
        crashed.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(AskError, match="doubler failed on Other: negative"):
            answer_now(box, Other(value=-1))
        assert answer_now(box, Other(value=2)) is NOT_NOW  # no more answers from it
        await crashed.wait()
    assert box.answerer is None and box.stats.answered_now == 0
