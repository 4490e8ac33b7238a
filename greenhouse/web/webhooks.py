"""`POST /webhooks/github`: verify, de-duplicate, make durable, then answer.

Status codes: 413 too large (checked before reading the whole body), 401 bad or missing
signature, 400 malformed, 200 `ping` or a delivery id seen before (no second event), 202 once the
delivery's garden events and its `webhook_deliveries` row are committed, 503 when storage does
not answer in time (GitHub retries later with the same delivery id, which is then safe).

Verification and parsing are the GitHub issue's `parse_delivery` and `observations`; the garden
events among the observations (`commit_pushed`) are stored through the persistence actor, and the
other observations (`CommitsObserved`, `GitHubActivity`) are published for the engines. The
GitHub poller therefore need not convert the same delivery again.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from greenhouse.messages import GardenEvent
from greenhouse.runtime import AskError, AskTimeout
from greenhouse.services.github_webhooks import (
    WebhookError,
    WebhookPayloadError,
    WebhookSignatureError,
    WebhookTooLarge,
    observations,
    parse_delivery,
)

from .context import WebContext
from .deliveries import WebhookDeliveryRecorded, ask_in_order, delivery_recorded
from .responses import BodyTooLarge, json_error, json_response, read_limited, too_large

__all__ = ["github_webhook"]

_KIND = {
    WebhookTooLarge: ("too_large", "payload_too_large"),
    WebhookSignatureError: ("unauthorized", "bad_signature"),
    WebhookPayloadError: ("bad_request", "malformed_delivery"),
}


def _duplicate(ctx: WebContext, delivery_id: str) -> Response:
    ctx.stats.webhooks["duplicate"] += 1
    return json_response({"status": "duplicate", "delivery_id": delivery_id})


def _refuse(ctx: WebContext, error: WebhookError) -> Response:
    outcome, code = _KIND.get(type(error), ("bad_request", "malformed_delivery"))
    ctx.stats.webhooks[outcome] += 1
    return json_error(error.status, code, str(error))


async def github_webhook(request: Request) -> Response:
    """Receive one GitHub delivery."""
    ctx: WebContext = request.app.state.ctx
    limit = ctx.settings.github.webhook_max_bytes
    try:
        body = await read_limited(request, limit)
    except BodyTooLarge as error:
        ctx.stats.webhooks["too_large"] += 1
        return too_large(str(error))
    try:
        delivery = parse_delivery(request.headers, body, ctx.settings.github.webhook_secret, limit)
    except WebhookError as error:
        return _refuse(ctx, error)
    if delivery.event == "ping":
        ctx.stats.webhooks["ping"] += 1
        return json_response({"status": "pong", "delivery_id": delivery.delivery_id})
    did = delivery.delivery_id
    if did in ctx.in_flight:
        return _duplicate(ctx, did)
    # Claimed before the first await, so concurrent redeliveries cannot both pass the check.
    ctx.in_flight.add(did)
    try:
        if ctx.readers.run_now(delivery_recorded, did):
            return _duplicate(ctx, did)
        now = ctx.clock.time()
        try:
            messages = observations(delivery, now)
        except WebhookError as error:
            return _refuse(ctx, error)
        persistence = ctx.mailbox("persistence")
        if persistence is None:
            return json_error(503, "unavailable", "the persistence actor is not running")
        events = [m for m in messages if isinstance(m, GardenEvent)]
        record = WebhookDeliveryRecorded(
            delivery_id=did, event=delivery.event, action=delivery.action, received_at=now
        )
        try:
            replies = await ask_in_order(persistence, [*events, record], ctx.ask_timeout)
        except (AskTimeout, AskError):
            ctx.stats.webhooks["unavailable"] += 1
            return json_error(503, "unavailable", "the delivery could not be stored; retry later")
    finally:
        ctx.in_flight.discard(did)
    for message in messages:
        if not isinstance(message, GardenEvent):
            await ctx.bus.publish(message)
    ctx.stats.webhooks["accepted" if delivery.supported else "ignored"] += 1
    return json_response(
        {
            "status": "accepted" if delivery.supported else "ignored",
            "delivery_id": did,
            "event": delivery.event,
            "event_ids": replies[: len(events)],
        },
        status=202,
    )
