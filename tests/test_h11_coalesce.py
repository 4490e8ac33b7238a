"""A response head goes out with its body in one write (greenhouse/web/h11_coalesce.py).

Runs hypercorn's trio worker on a loopback port with a small ASGI app and watches every write
the server makes, so a hypercorn upgrade that changes how `_send_h11_event` is used shows here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from importlib.metadata import version
from typing import Any

import hypercorn
import pytest
import trio
from hypercorn.config import Config
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.trio import serve

from greenhouse.web import h11_coalesce


def test_the_pinned_hypercorn_has_what_the_patch_replaces() -> None:
    major, minor = (int(part) for part in version("hypercorn").split(".")[:2])
    assert (major, minor) in ((0, 17), (0, 18)), "re-check h11_coalesce against this hypercorn"
    h11_coalesce.install()
    assert H11Protocol._send_h11_event is h11_coalesce._send_h11_event
    h11_coalesce.install()  # idempotent
    assert hypercorn is not None


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    path = scope["path"]
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/stream":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"6")]}
        )
        await send({"type": "http.response.body", "body": b"abc", "more_body": True})
        await send({"type": "http.response.body", "body": b"def"})
        return
    body = b'{"status":"accepted"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"21")]
    await send({"type": "http.response.start", "status": 202, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[int, list[bytes]]]:
    """Hypercorn with the patch on a loopback port, and the list of the server's socket writes."""
    h11_coalesce.install()
    writes: list[bytes] = []
    original = trio.SocketStream.send_all
    port = 0

    async def recording(self: trio.SocketStream, data: Any) -> None:
        if self.socket.getsockname()[1] == port:  # the server's end of a connection
            writes.append(bytes(data))
        await original(self, data)

    monkeypatch.setattr(trio.SocketStream, "send_all", recording)
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, app, config))
        port = int(binds[0].rsplit(":", 1)[1])
        yield port, writes
        nursery.cancel_scope.cancel()


async def exchange(stream: trio.SocketStream, request: bytes, until: bytes) -> bytes:
    await stream.send_all(request)
    got = b""
    with trio.fail_after(5):
        while until not in got:
            chunk = await stream.receive_some(65536)
            assert chunk, f"connection closed after {got!r}"
            got += chunk
    return got


async def test_head_and_body_leave_in_one_write_and_keep_alive_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with server(monkeypatch) as (port, writes):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        try:
            for _ in range(2):  # the same connection, twice
                writes.clear()
                got = await exchange(
                    stream,
                    b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
                    b'"accepted"}',
                )
                assert got.startswith(b"HTTP/1.1 202 ")
                assert len(writes) == 1, writes
                assert writes[0].startswith(b"HTTP/1.1 202 ")
                assert writes[0].endswith(b'{"status":"accepted"}')
        finally:
            await stream.aclose()


async def test_bodiless_and_streamed_responses_are_complete(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with server(monkeypatch) as (port, _writes):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        try:
            got = await exchange(stream, b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n", b"\r\n\r\n")
            assert got.startswith(b"HTTP/1.1 204 ")
            got = await exchange(stream, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", b"abcdef")
            assert got.startswith(b"HTTP/1.1 200 ")
            got = await exchange(stream, b"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n", b"\r\n\r\n")
            assert got.startswith(b"HTTP/1.1 202 ")
        finally:
            await stream.aclose()


async def test_100_continue_is_not_held_back(monkeypatch: pytest.MonkeyPatch) -> None:
    async with server(monkeypatch) as (port, _writes):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        try:
            head = (
                b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            # The interim answer comes before the body is sent: it is written at once.
            got = await exchange(stream, head, b"\r\n\r\n")
            assert got.startswith(b"HTTP/1.1 100 ")
            got = await exchange(stream, b"{}", b'"accepted"}')
            assert b"HTTP/1.1 202 " in got
        finally:
            await stream.aclose()
