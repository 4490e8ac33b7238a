"""Tree wiring of the real-time surface (issue 8): the WebSocket actor and the HTTP actor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenhouse.messages import EventStored
from greenhouse.runtime import ChildSpec, Restart
from greenhouse.web.addresses import ListenAddresses
from greenhouse.web.context import ReaderPool, WebContext
from greenhouse.web.deliveries import WebhookDeliveryRecorded, write_deliveries

from .http import HttpActor
from .websocket import ViewerLimits, WebSocketActor

if TYPE_CHECKING:
    from .tree import Garden

__all__ = ["add_web"]


def add_web(garden: Garden, children: list[ChildSpec]) -> None:
    """Add the WebSocket actor (unless real-time events are off) and the HTTP actor.

    `extras={"web": False}` leaves both out (the deterministic simulation runs in virtual time,
    where real sockets and worker threads have no place).
    """
    if garden.extras.get("web", True) is False:
        return
    settings, bus, clock = garden.settings, garden.bus, garden.clock
    web = settings.web
    addresses = garden.extras.setdefault("addresses", ListenAddresses())
    if settings.features.real_time_events:
        websocket_box = bus.subscribe("websocket", (EventStored,), capacity=4096)
        garden.mailboxes["websocket"] = websocket_box
        limits = ViewerLimits(max_viewers=web.max_viewers)
        children.append(
            ChildSpec(
                "websocket",
                lambda: WebSocketActor(
                    websocket_box,
                    bus,
                    garden.store,
                    clock=clock,
                    host=web.host,
                    port=web.ws_port,
                    allowed_origins=web.allowed_origins,
                    limits=limits,
                    addresses=addresses,
                ),
                Restart.PERMANENT,
            )
        )
    garden.store.register_writer(WebhookDeliveryRecorded, write_deliveries)

    def make_http() -> HttpActor:
        ctx = WebContext(
            settings=settings,
            clock=clock,
            bus=bus,
            store=garden.store,
            mailboxes=garden.mailboxes,
            addresses=addresses,
            readers=ReaderPool(garden.store, clock=clock),
            metrics_sources=garden.extras.setdefault("metrics_sources", []),
        )
        return HttpActor(ctx, host=web.host, port=web.http_port, clock=clock)

    children.append(ChildSpec("http", make_http, Restart.PERMANENT))
