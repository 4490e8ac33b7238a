"""Pre-built frames: byte-identical to wsproto's, and safe to mix with trio-websocket's own sends.

These tests pin what `greenhouse.web.wsframe` relies on from trio-websocket and wsproto; if an
upgrade moves those internals, they fail here rather than in production.
"""

from __future__ import annotations

import json

import trio
import trio_websocket
from hypothesis import given
from hypothesis import strategies as st
from trio_websocket import WebSocketConnection, open_websocket_url, serve_websocket
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import FrameProtocol

from greenhouse.web.wsframe import (
    REQUIRED_INTERNALS,
    check_preframe_support,
    send_frames,
    text_frame,
)


@given(st.text(max_size=70000))
def test_text_frame_is_what_wsproto_sends(text: str) -> None:
    payload = text.encode()
    expected = FrameProtocol(client=False, extensions=[]).send_data(text, fin=True)
    assert text_frame(payload) == bytes(expected)


def test_length_boundaries_match_wsproto() -> None:
    for size in (0, 1, 125, 126, 127, 65535, 65536, 70000):
        payload = b"a" * size
        assert text_frame(payload) == bytes(FrameProtocol(False, []).send_data(payload.decode()))


def test_trio_websocket_still_has_the_internals_we_use() -> None:
    assert trio_websocket.__version__.startswith("0.12.")
    for name in REQUIRED_INTERNALS:
        assert name in WebSocketConnection.__init__.__code__.co_names or hasattr(
            WebSocketConnection, name
        ), name


async def _server(handler):  # type: ignore[no-untyped-def]
    async def serve(request):  # type: ignore[no-untyped-def]
        conn = await request.accept()
        check_preframe_support(conn)
        await handler(conn)

    return serve


async def test_preframed_writes_interleave_with_library_sends_and_pings() -> None:
    async def handler(conn: WebSocketConnection) -> None:
        async with trio.open_nursery() as nursery:

            async def library() -> None:
                for n in range(200):
                    await conn.send_message(json.dumps({"lib": n}))

            async def preframed() -> None:
                for n in range(0, 200, 4):
                    frames = [text_frame(json.dumps({"pre": n + k}).encode()) for k in range(4)]
                    await send_frames(conn, frames)

            nursery.start_soon(library)
            nursery.start_soon(preframed)
            nursery.start_soon(conn.ping)
        await trio.sleep(5)

    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_websocket, await _server(handler), "127.0.0.1", 0, None)
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as client:
            got = [json.loads(await client.get_message()) for _ in range(400)]
        nursery.cancel_scope.cancel()
    assert [m["lib"] for m in got if "lib" in m] == list(range(200))
    assert [m["pre"] for m in got if "pre" in m] == list(range(200))


async def test_an_offered_deflate_extension_is_not_negotiated() -> None:
    async def handler(conn: WebSocketConnection) -> None:
        await send_frames(conn, [text_frame(b'{"hello": "garden"}')])
        await trio.sleep(5)

    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_websocket, await _server(handler), "127.0.0.1", 0, None)
        client = WSConnection(ConnectionType.CLIENT)
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)
        await stream.send_all(
            client.send(Request(host="127.0.0.1", target="/", extensions=[PerMessageDeflate()]))
        )
        received = []
        with trio.fail_after(5):
            while not any(isinstance(e, TextMessage) for e in received):
                client.receive_data(await stream.receive_some(4096))
                received.extend(client.events())
        accept = next(e for e in received if isinstance(e, AcceptConnection))
        assert accept.extensions == []
        assert next(e for e in received if isinstance(e, TextMessage)).data == '{"hello": "garden"}'
        await stream.aclose()
        nursery.cancel_scope.cancel()


async def test_direct_writes_with_the_handoff_lock_never_split_a_frame() -> None:
    # A tiny send buffer forces partial direct writes; library sends and pings run alongside.
    import socket

    from greenhouse.web.outbox import ViewerOutbox, try_write_now
    from greenhouse.web.wsframe import install_handoff_lock

    async def handler(conn: WebSocketConnection) -> None:
        lock = await install_handoff_lock(conn)
        sock = conn._stream.socket
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        outbox = ViewerOutbox(10_000)

        async def direct() -> None:
            for n in range(300):
                frame = text_frame(json.dumps({"pre": n, "pad": "z" * 700}).encode())
                if not try_write_now(sock.fileno(), lock, outbox, frame):
                    await send_frames(conn, [frame])
                if outbox.partial is not None:  # what the send task does
                    rest, outbox.partial = outbox.partial, None
                    await conn._stream.send_all(rest)
                    lock.release()
                await trio.lowlevel.checkpoint()

        async def library() -> None:
            for n in range(100):
                await conn.send_message(json.dumps({"lib": n}))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(direct)
            nursery.start_soon(library)
            nursery.start_soon(conn.ping)
        await trio.sleep(5)

    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_websocket, await _server(handler), "127.0.0.1", 0, None)
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as client:
            await trio.sleep(0.2)  # let the server's buffer fill before reading
            got = [json.loads(await client.get_message()) for _ in range(400)]
        nursery.cancel_scope.cancel()
    assert [m["pre"] for m in got if "pre" in m] == list(range(300))
    assert [m["lib"] for m in got if "lib" in m] == list(range(100))
