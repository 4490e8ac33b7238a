"""Where the garden's servers listen, filled in by the actors once their sockets are bound.

Ports may be 0 (ephemeral, as in tests), so the real address is only known after binding; the
WebSocket and HTTP actors record it here and anyone (run.py's log, a test) can wait for it.
"""

from __future__ import annotations

import trio

__all__ = ["ListenAddresses"]


class ListenAddresses:
    """Name -> URL of each listening server, with a way to wait until one is known."""

    def __init__(self) -> None:
        self._urls: dict[str, str] = {}
        self._ready: dict[str, trio.Event] = {}

    def _event(self, name: str) -> trio.Event:
        return self._ready.setdefault(name, trio.Event())

    def set(self, name: str, url: str) -> None:
        """Record that `name` listens at `url` (again after a restart)."""
        self._urls[name] = url
        self._event(name).set()

    def get(self, name: str) -> str | None:
        """The URL of `name`, or None before it has bound."""
        return self._urls.get(name)

    async def wait(self, name: str) -> str:
        """Wait until `name` has bound and return its URL."""
        await self._event(name).wait()
        return self._urls[name]

    def as_dict(self) -> dict[str, str]:
        """Every known address."""
        return dict(self._urls)
