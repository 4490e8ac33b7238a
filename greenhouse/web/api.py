"""The read API, the admin task trigger and /metrics.

Each endpoint asks the actor that owns the answer, or reads SQLite through the parts' own query
functions. When the part behind an endpoint is not running in this build (or does not answer in
time) the answer is 503 with a JSON error that says which part: never a made-up answer.
"""

from __future__ import annotations

import hmac
import sqlite3
from typing import Any

import msgspec
import trio
from starlette.requests import Request
from starlette.responses import Response

from greenhouse import messages
from greenhouse.garden_state import GardenState
from greenhouse.messages import ConnectionStatsRequest, SnapshotRequest
from greenhouse.runtime import AskError, AskTimeout, ask
from greenhouse.store import events_since

from .context import WebContext
from .metrics import CONTENT_TYPE, MetricSample, render_metrics
from .responses import json_error, json_response

__all__ = [
    "api_connections",
    "api_events",
    "api_garden",
    "api_mood",
    "api_portfolio",
    "api_scheduler",
    "api_status",
    "healthz",
    "metrics",
    "run_task",
]


def _ctx(request: Request) -> WebContext:
    return request.app.state.ctx


class Unavailable(Exception):
    """The part behind an endpoint is missing or did not answer (503)."""


async def _ask(ctx: WebContext, actor: str, message: Any, within: float | None = None) -> Any:
    box = ctx.mailbox(actor)
    if box is None:
        raise Unavailable(f"the {actor} actor is not running in this garden")
    try:
        return await ask(box, message, timeout=within or ctx.ask_timeout)
    except AskTimeout:
        raise Unavailable(f"the {actor} actor did not answer in time") from None
    except AskError as error:
        raise Unavailable(f"the {actor} actor failed: {error.__cause__}") from None


def _unavailable(error: Unavailable) -> Response:
    return json_error(503, "unavailable", str(error))


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}")
    return value


# -- liveness and status -----------------------------------------------------------------------


async def healthz(request: Request) -> Response:
    """Liveness: the process and its HTTP actor are running."""
    return json_response({"status": "ok"})


def integration_status(ctx: WebContext, services: dict[str, Any]) -> dict[str, Any]:
    """Each external service: configured, enabled, and availability as last reported."""
    settings = ctx.settings
    result = {}
    for name in settings.service_configs():
        reported = services.get(name)
        result[name] = {
            "configured": bool(settings.service_configs()[name].is_configured),
            "enabled": settings.is_configured(name),
            "available": None if reported is None else reported.get("available"),
            "error": None if reported is None else reported.get("error"),
        }
    return {"services": result, "demo_mode": settings.demo_mode}


async def api_status(request: Request) -> Response:
    """Every actor's state, restarts and last error; queues; services; listen addresses."""
    ctx = _ctx(request)
    from actors.health import StatusRequest  # the health actor owns the report's shape

    try:
        report = await _ask(ctx, "health", StatusRequest())
    except Unavailable as error:
        return _unavailable(error)
    return json_response(
        {
            **report,
            "integrations": integration_status(ctx, report.get("services", {})),
            "addresses": ctx.addresses.as_dict(),
        }
    )


# -- the garden ----------------------------------------------------------------------------------


def _snapshot_from_db(conn: sqlite3.Connection) -> dict[str, Any]:
    state = GardenState()
    state.rebuild_from_db(conn)
    return state.snapshot(live_viewers=0)


async def api_garden(request: Request) -> Response:
    """The garden snapshot (what a new viewer gets first)."""
    ctx = _ctx(request)
    if ctx.mailbox("websocket") is None:
        # Real-time events are switched off: fold the event log here instead.
        return json_response(await ctx.readers.run(_snapshot_from_db))
    try:
        return json_response(await _ask(ctx, "websocket", SnapshotRequest()))
    except Unavailable as error:
        return _unavailable(error)


async def api_connections(request: Request) -> Response:
    """`get_connection_stats()` of the WebSocket actor."""
    try:
        return json_response(await _ask(_ctx(request), "websocket", ConnectionStatsRequest()))
    except Unavailable as error:
        return _unavailable(error)


def _events_page(conn: sqlite3.Connection, since: int, limit: int) -> tuple[bytes, int, bool]:
    rows = events_since(conn, since, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    frames = b",".join(row.frame() for row in rows)
    return frames, (rows[-1].id if rows else since), more


async def api_events(request: Request) -> Response:
    """The event log, paged by id: `?since=<id>&limit=<n>` (oldest first)."""
    ctx = _ctx(request)
    try:
        since = _int_param(request, "since", 0, 0, 2**62)
        limit = _int_param(request, "limit", 100, 1, 1000)
    except ValueError as error:
        return json_error(400, "bad_parameter", str(error))
    frames, next_since, more = await ctx.readers.run(_events_page, since, limit)
    # The envelopes are already JSON: splice them in rather than decode and re-encode.
    tail = msgspec.json.encode({"next_since": next_since, "has_more": more})
    body = b'{"events":[' + frames + b"]," + tail[1:]
    return Response(body, media_type="application/json")


async def api_portfolio(request: Request) -> Response:
    """Plants per stage, fastest growing, dormant, coding time, languages (growth history)."""
    ctx = _ctx(request)
    try:
        from greenhouse.histories import get_portfolio_overview
    except ImportError:
        return json_error(503, "unavailable", "the growth history is not part of this build")
    return json_response(await ctx.readers.run(get_portfolio_overview))


async def api_mood(request: Request) -> Response:
    """The current mood and its trends over `?hours=` (default 24, at most 8784)."""
    ctx = _ctx(request)
    try:
        hours = _int_param(request, "hours", 24, 1, 24 * 366)
    except ValueError as error:
        return json_error(400, "bad_parameter", str(error))
    try:
        from greenhouse.histories import get_mood_trends, load_last_mood
    except ImportError:
        return json_error(503, "unavailable", "the mood history is not part of this build")
    now = ctx.clock.time()

    def read(conn: sqlite3.Connection) -> dict[str, Any]:
        return {"current": load_last_mood(conn), "trends": get_mood_trends(conn, hours, now)}

    return json_response(await ctx.readers.run(read))


# -- the scheduler -------------------------------------------------------------------------------


def _scheduler_message(name: str, **fields: Any) -> Any:
    kind = getattr(messages, name, None)
    if kind is None:
        raise Unavailable("the scheduler is not part of this build")
    return kind(**fields)


async def api_scheduler(request: Request) -> Response:
    """The scheduler's tasks, next runs and counters."""
    ctx = _ctx(request)
    try:
        stats = await _ask(ctx, "scheduler", _scheduler_message("SchedulerStatsRequest"))
    except Unavailable as error:
        return _unavailable(error)
    return json_response(stats)


def _bearer_ok(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    # Constant time over bytes, so neither length nor content leaks through timing.
    return hmac.compare_digest(given.strip().encode(), token.encode())


async def run_task(request: Request) -> Response:
    """Run a scheduled task now (admin: `Authorization: Bearer $GREENHOUSE_ADMIN_TOKEN`)."""
    ctx = _ctx(request)
    token = ctx.settings.web.admin_token
    if not token:
        return json_error(
            403, "admin_disabled", "set GREENHOUSE_ADMIN_TOKEN to enable admin endpoints"
        )
    if not _bearer_ok(request, token.get()):
        return json_error(
            401,
            "unauthorized",
            "a valid admin bearer token is required",
            headers={"www-authenticate": 'Bearer realm="greenhouse"'},
        )
    task_id = request.path_params["task_id"]
    if not task_id or len(task_id) > 100:
        return json_error(400, "bad_parameter", "task id must be 1 to 100 characters")
    try:
        message = _scheduler_message("ExecuteTaskNow", task_id=task_id)
        box = ctx.mailbox("scheduler")
        if box is None:
            raise Unavailable("the scheduler actor is not running in this garden")
        execution_id = await ask(box, message, timeout=ctx.ask_timeout)
    except Unavailable as error:
        return _unavailable(error)
    except AskTimeout:
        return json_error(503, "unavailable", "the scheduler did not answer in time")
    except AskError as error:
        # The scheduler refused (an unknown task, for one): its message is the detail.
        return json_error(404, "task_not_run", str(error.__cause__))
    return json_response({"task_id": task_id, "execution_id": execution_id}, status=202)


# -- /metrics ------------------------------------------------------------------------------------


async def metrics(request: Request) -> Response:
    """Prometheus text: actors, queues, services, viewers, events, HTTP and opt-in sources."""
    ctx = _ctx(request)
    samples: list[MetricSample] = []
    from actors.health import StatusRequest

    async def gather(actor: str, message: Any) -> Any:
        try:
            return await _ask(ctx, actor, message, within=2.0)
        except Unavailable:
            return None

    results: dict[str, Any] = {}

    async def into(key: str, actor: str, message: Any) -> None:
        results[key] = await gather(actor, message)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(into, "status", "health", StatusRequest())
        nursery.start_soon(into, "ws", "websocket", ConnectionStatsRequest())
        request_type = getattr(messages, "MetricsRequest", None)
        if request_type is not None:
            for source in ctx.metrics_sources:
                nursery.start_soon(into, f"source:{source}", source, request_type())
    samples += _status_samples(results.get("status"))
    samples += _viewer_samples(results.get("ws"))
    samples += await ctx.readers.run(_event_samples)
    samples += _http_samples(ctx)
    for key, value in results.items():
        if key.startswith("source:") and isinstance(value, list):
            samples += [s for s in value if isinstance(s, MetricSample)]
    return Response(render_metrics(samples), media_type=CONTENT_TYPE)


def _status_samples(status: dict[str, Any] | None) -> list[MetricSample]:
    if status is None:
        return [MetricSample("greenhouse_status_available", "gauge", "Health actor answered.", 0)]
    out = [MetricSample("greenhouse_status_available", "gauge", "Health actor answered.", 1)]
    tree = status.get("tree") or {}

    def walk(node: dict[str, Any]) -> None:
        for child in node.get("children", []) or []:
            if isinstance(child, dict):
                name = str(child.get("name", "?"))
                out.append(
                    MetricSample(
                        "greenhouse_actor_restarts_total",
                        "counter",
                        "Restarts of each supervised actor.",
                        child.get("restarts", 0) or 0,
                        {"actor": name},
                    )
                )
                out.append(
                    MetricSample(
                        "greenhouse_actor_running",
                        "gauge",
                        "1 when the actor is running.",
                        1 if child.get("state") == "running" else 0,
                        {"actor": name},
                    )
                )
                walk(child)

    if isinstance(tree, dict):
        walk(tree)
    for name, queue in (status.get("queues") or {}).items():
        labels = {"mailbox": name}
        out.append(
            MetricSample(
                "greenhouse_queue_depth",
                "gauge",
                "Messages waiting.",
                queue.get("depth", 0),
                labels,
            )
        )
        out.append(
            MetricSample(
                "greenhouse_queue_delivered_total",
                "counter",
                "Messages delivered to the mailbox.",
                queue.get("delivered", 0),
                labels,
            )
        )
        out.append(
            MetricSample(
                "greenhouse_queue_dropped_total",
                "counter",
                "Messages dropped by the overflow policy.",
                queue.get("dropped", 0),
                labels,
            )
        )
    for name, service in (status.get("services") or {}).items():
        out.append(
            MetricSample(
                "greenhouse_service_available",
                "gauge",
                "1 when the external service answered last time.",
                1 if service.get("available") else 0,
                {"service": name},
            )
        )
    return out


def _viewer_samples(ws: dict[str, Any] | None) -> list[MetricSample]:
    if ws is None:
        return []
    out = [
        MetricSample("greenhouse_viewers", "gauge", "Live WebSocket viewers.", ws["active"]),
        MetricSample(
            "greenhouse_viewers_accepted_total",
            "counter",
            "Viewers accepted.",
            ws["total_accepted"],
        ),
        MetricSample(
            "greenhouse_viewer_frames_sent_total",
            "counter",
            "Frames sent to viewers.",
            ws["messages_sent"],
        ),
        MetricSample(
            "greenhouse_viewer_bytes_sent_total",
            "counter",
            "Bytes sent to viewers.",
            ws["bytes_sent"],
        ),
        MetricSample(
            "greenhouse_viewer_overflow_closes_total",
            "counter",
            "Viewers closed with 1013 because their queue overflowed.",
            ws["closed_overflow"],
        ),
        MetricSample(
            "greenhouse_viewer_queued", "gauge", "Frames queued to viewers.", ws["queued"]
        ),
    ]
    for reason, count in ws["rejected_by_reason"].items():
        out.append(
            MetricSample(
                "greenhouse_viewers_rejected_total",
                "counter",
                "Viewer connections refused.",
                count,
                {"reason": reason},
            )
        )
    return out


def _event_samples(conn: sqlite3.Connection) -> list[MetricSample]:
    rows = conn.execute("SELECT type, COUNT(*) FROM events GROUP BY type").fetchall()
    return [
        MetricSample(
            "greenhouse_events_total",
            "counter",
            "Stored garden events by type.",
            count,
            {"type": kind},
        )
        for kind, count in rows
    ]


def _http_samples(ctx: WebContext) -> list[MetricSample]:
    stats = ctx.stats
    out = [
        MetricSample(
            "greenhouse_http_requests_total",
            "counter",
            "HTTP requests.",
            count,
            {"route": route, "method": method, "status": str(status)},
        )
        for (route, method, status), count in sorted(stats.requests.items())
    ]
    for route in sorted(stats.latency_count):
        out.append(
            MetricSample(
                "greenhouse_http_request_seconds_sum",
                "counter",
                "Total time answering requests.",
                stats.latency_sum[route],
                {"route": route},
            )
        )
        out.append(
            MetricSample(
                "greenhouse_http_request_seconds_count",
                "counter",
                "Requests timed.",
                stats.latency_count[route],
                {"route": route},
            )
        )
    for outcome, count in sorted(stats.webhooks.items()):
        out.append(
            MetricSample(
                "greenhouse_webhook_deliveries_total",
                "counter",
                "GitHub deliveries by outcome.",
                count,
                {"outcome": outcome},
            )
        )
    return out
