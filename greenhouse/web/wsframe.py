"""Frame a WebSocket text message once and write it to many viewers as plain bytes.

Why: trio-websocket frames every `send_message` through wsproto, per viewer, and takes one
lock and one `send_all` per message. With 1,000 viewers that per-viewer framing is most of the
fan-out cost. A server's frames are never masked (RFC 6455 section 5.1), and the garden
negotiates no extension (no permessage-deflate), so the bytes of a text frame are the same for
every viewer: they are built once here and a viewer's queued frames go out in one write.

What this relies on from trio-websocket 0.12 (pinned in pyproject.toml, checked by
tests/test_wsframe.py): a `WebSocketConnection` keeps its byte stream in `_stream` (a
`trio.SocketStream`), serialises writes with `async with self._stream_lock` (which the garden
replaces by a `HandoffLock` right after the handshake), records a closing connection in
`_close_reason`, and cleans up with `_abort_web_socket` / `_close_stream`. Writing complete frames
under that lock interleaves safely with the library's own pings, pongs and close frames, because
wsproto keeps no per-message state for complete outgoing messages.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from .outbox import HandoffLock

__all__ = [
    "PreframedUnsupported",
    "abort_connection",
    "check_preframe_support",
    "install_handoff_lock",
    "send_frames",
    "text_frame",
]

# The trio-websocket internals used here (and checked by tests/test_wsframe.py).
REQUIRED_INTERNALS = (
    "_stream",
    "_stream_lock",
    "_close_reason",
    "_abort_web_socket",
    "_close_stream",
)

_FIN_TEXT = 0x81  # FIN bit + opcode 0x1 (text)


def text_frame(payload: bytes) -> bytes:
    """One complete, unmasked server-to-client text frame holding `payload` (UTF-8 JSON)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", _FIN_TEXT, length)
    elif length < 65536:
        header = struct.pack("!BBH", _FIN_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", _FIN_TEXT, 127, length)
    return header + payload


class PreframedUnsupported(RuntimeError):
    """Pre-built frames cannot be written (an extension was negotiated, or internals moved)."""


def check_preframe_support(conn: WebSocketConnection) -> None:
    """Raise `PreframedUnsupported` unless pre-built frames can be written to `conn`."""
    for attribute in REQUIRED_INTERNALS:
        if not hasattr(conn, attribute):
            raise PreframedUnsupported(f"trio_websocket.WebSocketConnection has no {attribute}")
    for name, _value in conn.handshake_headers:
        if name.lower() == b"sec-websocket-extensions":
            raise PreframedUnsupported("a WebSocket extension was negotiated")


async def send_frames(conn: WebSocketConnection, frames: Sequence[bytes]) -> int:
    """Write complete frames in one `send_all`; returns the bytes written.

    Raises `ConnectionClosed` like `send_message` when the connection is closing or broken.
    A cancelled write leaves a partial frame on the wire: the caller must then abort the
    connection instead of sending anything else on it.
    """
    if conn._close_reason is not None:
        raise ConnectionClosed(conn._close_reason)
    data = frames[0] if len(frames) == 1 else b"".join(frames)
    async with conn._stream_lock:
        try:
            await conn._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await conn._abort_web_socket()
            raise ConnectionClosed(conn._close_reason) from None
    return len(data)


async def abort_connection(conn: WebSocketConnection) -> None:
    """Drop the TCP connection without a closing handshake (a dead or hopelessly stalled peer)."""
    await conn._abort_web_socket()
    await conn._close_stream()


async def install_handoff_lock(conn: WebSocketConnection) -> HandoffLock:
    """Replace the connection's write lock by a `HandoffLock` (see `outbox.py`) and return it."""
    old = conn._stream_lock
    # A handshake-time write (a pong) may still hold the old lock: wait for it, then swap.
    async with old:
        conn._stream_lock = HandoffLock()  # type: ignore[assignment]  # same interface, pinned trio-websocket
    return conn._stream_lock  # type: ignore[return-value]
