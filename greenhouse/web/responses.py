"""JSON responses and errors for the HTTP API (`{"error": "...", "detail": "..."}` everywhere)."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["BodyTooLarge", "json_error", "json_response", "read_limited", "too_large"]

_encoder = msgspec.json.Encoder()


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Encode `content` (plain data or msgspec Structs) with msgspec."""
    return Response(_encoder.encode(content), status, headers, media_type="application/json")


def json_error(
    status: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """The one error shape; `detail` is for people and never holds a stack trace or a secret."""
    return json_response({"error": error, "detail": detail}, status, headers)


def too_large(detail: str) -> Response:
    """413 for a body refused before it was read, closing the connection.

    The unread rest of the body cannot be skipped on a keep-alive connection, so the server
    closes it; `Connection: close` tells the client not to send its next request there (without
    it a client could reuse the connection just as the close arrives, and lose that request).
    """
    return json_error(413, "payload_too_large", detail, headers={"connection": "close"})


class BodyTooLarge(Exception):
    """The request body is over the endpoint's limit (413)."""


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body, refusing (before reading it all) anything over `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise BodyTooLarge(f"body of {declared} bytes is over the {limit}-byte limit")
        except ValueError:
            pass  # h11 has already refused a malformed Content-Length
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
