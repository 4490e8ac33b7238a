"""The Starlette application: routes, CORS, size limits and JSON errors.

Served by hypercorn's trio worker from `actors/http.py`, so endpoints run in the garden's own trio
loop and can `ask` actors directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import api
from .context import WebContext
from .privacy_routes import privacy_route_name, privacy_routes
from .responses import json_error, too_large
from .viewer import viewer_routes, ws_url_for
from .webhooks import github_webhook

__all__ = ["API_BODY_LIMIT", "create_app"]

log = logging.getLogger("greenhouse.http")

API_BODY_LIMIT = 64 * 1024  # every route but the webhook: none of them needs a body


class Guard:
    """Counts requests per route and status, times them, and refuses oversized API bodies."""

    def __init__(self, app: ASGIApp, ctx: WebContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        route = _route_name(path)
        status_holder = [500]
        if route != "/webhooks/github":
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > API_BODY_LIMIT:
                response = too_large("request body is too large")
                status_holder[0] = 413
                await response(scope, receive, send)
                self._count(route, scope["method"], 413, 0.0)
                return

        async def send_counted(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            if route == "/webhooks/github" and scope["method"] == "POST":
                # The busiest route skips the layers it does not use (CORS: GitHub is not a
                # browser; the router; HTTPException handling: it answers its own errors),
                # about 10 % of a delivery's CPU. Its exceptions still reach the JSON 500.
                response = await github_webhook(Request(scope, receive))
                await response(scope, receive, send_counted)
            else:
                await self.app(scope, receive, send_counted)
        finally:
            self._count(route, scope["method"], status_holder[0], time.perf_counter() - started)

    def _count(self, route: str, method: str, status: int, seconds: float) -> None:
        stats = self.ctx.stats
        stats.requests[(route, method, status)] += 1
        stats.latency_sum[route] += seconds
        stats.latency_count[route] += 1


_KNOWN = (
    "/healthz",
    "/metrics",
    "/webhooks/github",
    "/api/status",
    "/api/garden",
    "/api/portfolio",
    "/api/mood",
    "/api/events",
    "/api/scheduler",
    "/api/connections",
)


def _route_name(path: str) -> str:
    # Label by route, never by raw path: unbounded label values would grow /metrics forever.
    if path in _KNOWN:
        return path
    if path.startswith("/api/tasks/") and path.endswith("/run"):
        return "/api/tasks/{task_id}/run"
    return privacy_route_name(path) or "other"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    names = {404: "not_found", 405: "method_not_allowed"}
    return json_error(
        exc.status_code,
        names.get(exc.status_code, "http_error"),
        str(exc.detail),
        headers=dict(exc.headers or {}),
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log (secrets redacted there); the client gets no internals.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_error(500, "internal_error", "the garden could not answer this request")


def create_app(ctx: WebContext) -> Starlette:
    """The garden's HTTP app over `ctx`."""
    routes = [
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/metrics", api.metrics, methods=["GET"]),
        Route("/webhooks/github", github_webhook, methods=["POST"]),
        Route("/api/status", api.api_status, methods=["GET"]),
        Route("/api/garden", api.api_garden, methods=["GET"]),
        Route("/api/portfolio", api.api_portfolio, methods=["GET"]),
        Route("/api/mood", api.api_mood, methods=["GET"]),
        Route("/api/events", api.api_events, methods=["GET"]),
        Route("/api/scheduler", api.api_scheduler, methods=["GET"]),
        Route("/api/connections", api.api_connections, methods=["GET"]),
        Route("/api/tasks/{task_id}/run", api.run_task, methods=["POST"]),
        *privacy_routes(),
        # The garden viewer page and its static files (issue 10).
        *viewer_routes(
            lambda request: ws_url_for(
                request, ctx.settings.web.public_ws_url, ctx.addresses.get("websocket")
            )
        ),
    ]
    origins = list(ctx.settings.web.allowed_origins)
    middleware = [
        Middleware(Guard, ctx=ctx),
        # Nothing is open to every origin unless GREENHOUSE_ALLOWED_ORIGINS says "*".
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.ctx = ctx
    return app
