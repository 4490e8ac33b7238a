"""Reuse the decoded value of a response body that is the same bytes as the last one.

A 304 hands back the cached body, and a world that did not change answers with the same body
again: for a response type decoded into frozen msgspec models, the values decoded last time are
the answer, so they are reused instead of decoded again. Lists and dicts are copied, so a caller
that changes its container changes only its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["DecodeMemo"]


class DecodeMemo:
    """The last body decoded per response type, with its value (one slot per type)."""

    def __init__(self) -> None:
        self._last: dict[Any, tuple[bytes, Any]] = {}

    def decode(self, body: bytes, type_: Any, decode: Callable[[bytes, Any], Any]) -> Any:
        """`decode(body, type_)`, or the value of the same bytes decoded last time."""
        kept = self._last.get(type_)
        if kept is not None and kept[0] == body:
            value = kept[1]
        else:
            value = decode(body, type_)  # a bad body raises here and is not kept
            self._last[type_] = (body, value)
        return value.copy() if isinstance(value, (list, dict)) else value
