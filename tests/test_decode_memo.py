"""DecodeMemo: an unchanged body's values are reused; changed or bad bodies are decoded afresh."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from greenhouse.services.decode_memo import DecodeMemo


class Item(msgspec.Struct, frozen=True):
    name: str


def counting() -> tuple[list[bytes], Any]:
    seen: list[bytes] = []

    def decode(body: bytes, type_: Any) -> Any:
        seen.append(body)
        return msgspec.json.decode(body, type=type_)

    return seen, decode


def test_the_same_bytes_are_decoded_once_and_containers_copied() -> None:
    memo, (seen, decode) = DecodeMemo(), counting()
    body = b'[{"name": "a"}, {"name": "b"}]'
    first = memo.decode(body, list[Item], decode)
    second = memo.decode(bytes(body), list[Item], decode)  # equal bytes, another object
    assert len(seen) == 1 and first == second and first is not second
    assert all(a is b for a, b in zip(first, second, strict=True))
    second.append(Item("mine"))
    assert memo.decode(body, list[Item], decode) == [Item("a"), Item("b")]


def test_changed_bodies_and_other_types_decode_afresh() -> None:
    memo, (seen, decode) = DecodeMemo(), counting()
    assert memo.decode(b'{"name": "a"}', Item, decode) == Item("a")
    assert memo.decode(b'{"name": "b"}', Item, decode) == Item("b")
    assert memo.decode(b'{"x": 1}', dict[str, int], decode) == {"x": 1}
    assert memo.decode(b'{"name": "b"}', Item, decode) == Item("b")  # still kept beside dict
    assert len(seen) == 3


def test_a_bad_body_raises_every_time_and_is_not_kept() -> None:
    memo, (seen, decode) = DecodeMemo(), counting()
    for _ in range(2):
        with pytest.raises(msgspec.DecodeError):
            memo.decode(b"[{", list[Item], decode)
    assert len(seen) == 2
