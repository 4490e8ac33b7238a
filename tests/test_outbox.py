"""The viewer outbox, the hand-off lock and the direct write (greenhouse/web/outbox.py)."""

from __future__ import annotations

import socket

import pytest
import trio

from greenhouse.web.outbox import HandoffLock, Overflowed, ViewerOutbox, try_write_now


async def test_handoff_lock_is_fifo_and_can_be_released_by_another_task() -> None:
    lock = HandoffLock()
    assert lock.acquire_nowait()
    order: list[str] = []

    async def waiter(name: str) -> None:
        async with lock:
            order.append(name)
            await trio.sleep(0.01)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter, "a")
        await trio.sleep(0.01)
        nursery.start_soon(waiter, "b")
        await trio.sleep(0.01)
        assert not lock.acquire_nowait()  # held, and others wait: no barging

        async def other_task_releases() -> None:
            lock.release()

        nursery.start_soon(other_task_releases)
    assert order == ["a", "b"]
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()


async def test_outbox_is_bounded_and_overflow_wakes_the_sender() -> None:
    outbox = ViewerOutbox(capacity=3)
    for n in range(3):
        assert outbox.put((n, "t", b"x"))
    assert [item[0] for item in outbox.take(10_000)] == [0, 1, 2]
    got: list[str] = []

    async def sender() -> None:
        try:
            await outbox.wait()
        except Overflowed:
            got.append("overflowed")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        await trio.sleep(0.01)
        for n in range(3):
            assert outbox.put((n, "t", b"x"))
        assert not outbox.put((3, "t", b"x"))  # the fourth overflows
        assert len(outbox) == 0
        assert outbox.put((4, "t", b"x"))  # ignored from now on: the viewer is being closed
    assert got == ["overflowed"]


async def test_direct_write_keeps_the_lock_when_the_kernel_takes_only_part() -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    lock, outbox = HandoffLock(), ViewerOutbox(8)
    assert try_write_now(a.fileno(), lock, outbox, b"small")
    assert not lock.locked() and outbox.partial is None
    big = b"y" * 1_000_000
    assert try_write_now(a.fileno(), lock, outbox, big)
    assert lock.locked()  # no other writer may cut into the frame
    assert outbox.partial is not None and 0 < len(outbox.partial) < len(big)
    assert not try_write_now(a.fileno(), lock, outbox, b"later")  # busy: the caller queues
    written = len(big) - len(outbox.partial)
    received = b.recv(64)
    assert received.startswith(b"small") and len(received) <= 5 + written
    a.close()
    b.close()
