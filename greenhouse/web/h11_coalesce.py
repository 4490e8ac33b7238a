"""Send an HTTP/1.1 response head together with its first body bytes (one socket write).

Why: hypercorn's HTTP/1.1 protocol writes the status line and headers as soon as the app sends
`http.response.start`, then the body in a second write. For the garden's small JSON answers
(a webhook's 202 is about 150 bytes) that is two system calls, two wake-ups of the client and
two trips through trio's scheduler per request where one does; measured on
`bench/webhooks.py`, about 7 % of the server's CPU per delivery.

How: `H11Protocol._send_h11_event` (hypercorn 0.17-0.18, pinned in pyproject.toml, checked by
tests/test_h11_coalesce.py) turns one h11 event into bytes and writes them. The replacement
keeps the bytes of a final `h11.Response` and writes them with the next event's bytes: the first
`Data` or the `EndOfMessage` (always sent after a final response, body or not: hypercorn's
`_send_closed`, error responses, HEAD and 204/304 answers all end with it). Interim responses
(`100 Continue`) are written at once. If the connection dies in between, the held head goes with
it, as an unsent head would have.
"""

from __future__ import annotations

from typing import Any

import h11
from hypercorn.events import RawData
from hypercorn.protocol import h11 as hypercorn_h11

__all__ = ["CoalescingUnsupported", "install"]

_HELD = "_greenhouse_held_head"


class CoalescingUnsupported(RuntimeError):
    """The installed hypercorn does not have the method this replaces."""


async def _send_h11_event(self: Any, event: Any) -> None:
    try:
        data = self.connection.send(event)
    except h11.LocalProtocolError:
        if self.connection.their_state != h11.ERROR:
            raise
        return
    if isinstance(event, h11.Response):  # a final response: wait for the body or the end
        setattr(self, _HELD, data)
        return
    held = getattr(self, _HELD, None)
    if held is not None:
        setattr(self, _HELD, None)
        data = held + data
    if data:
        await self.send(RawData(data=data))


def install() -> None:
    """Make hypercorn's HTTP/1.1 protocol write a response head with its body (idempotent)."""
    protocol = hypercorn_h11.H11Protocol
    current = getattr(protocol, "_send_h11_event", None)
    if current is _send_h11_event:
        return
    if current is None:
        raise CoalescingUnsupported("hypercorn's H11Protocol has no _send_h11_event")
    protocol._send_h11_event = _send_h11_event  # type: ignore[method-assign]
