"""The garden viewer page: `GET /` and its static files.

The page is self-contained (no CDN, fonts or scripts from elsewhere; a Pi on a home network may
have no internet). The server tells it where the WebSocket is by filling a `<meta>` tag:
`GREENHOUSE_PUBLIC_WS_URL` when set (behind a reverse proxy), otherwise the host the browser
used for this page with the WebSocket actor's bound port.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["STATIC", "viewer_routes", "ws_url_for"]

STATIC = Path(__file__).resolve().parent / "static"
PLACEHOLDER = "__GREENHOUSE_WS_URL__"


@cache
def _page() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


def ws_url_for(request: Request, public_url: str, bound_url: str | None) -> str:
    """The WebSocket URL a browser that loaded `request` should use."""
    if public_url:
        return public_url
    if not bound_url:
        return ""
    port = bound_url.rsplit(":", 1)[-1].split("/", 1)[0]
    scheme = "wss" if request.url.scheme == "https" else "ws"
    host = request.url.hostname or "127.0.0.1"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}/ws"


def viewer_routes(ws_url: Callable[[Request], str]) -> list[BaseRoute]:
    """`/` (the page, with the WebSocket URL filled in) and `/static/*`."""

    async def index(request: Request) -> HTMLResponse:
        page = _page().replace(PLACEHOLDER, html.escape(ws_url(request), quote=True))
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    return [
        Route("/", index, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
