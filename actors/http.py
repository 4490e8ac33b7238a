"""The HTTP actor: serves the garden's Starlette app with hypercorn's trio worker.

Webhooks, the read API, the admin task trigger and /metrics (see `greenhouse/web/`). Endpoints
run in the garden's trio loop and talk to other actors by `ask`. A port in use is logged and
retried (like the WebSocket actor), never fatal to the garden.
"""

from __future__ import annotations

import logging
from functools import partial

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from greenhouse.runtime import Actor, Clock
from greenhouse.web import h11_coalesce
from greenhouse.web.app import create_app
from greenhouse.web.context import WebContext

__all__ = ["HttpActor"]


class HttpActor(Actor):
    """Runs the HTTP server for the app over `ctx` until cancelled."""

    def __init__(
        self,
        ctx: WebContext,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        clock: Clock | None = None,
        name: str = "http",
    ) -> None:
        super().__init__(name, None, ctx.bus, clock)
        self.ctx = ctx
        self.host = host
        self.port = port
        self.url: str | None = None
        self.listen_error: str | None = None
        self.listen_retry = 30.0

    def _config(self) -> Config:
        config = Config()
        config.bind = [f"{self.host}:{self.port}"]
        config.accesslog = None  # requests are counted in /metrics; no addresses in logs
        config.errorlog = logging.getLogger("greenhouse.http.server")
        config.include_server_header = False
        config.keep_alive_timeout = 5.0
        config.graceful_timeout = 2.0
        config.h11_max_incomplete_size = 16 * 1024  # request line and headers
        config.backlog = 1024
        return config

    async def run(self) -> None:
        h11_coalesce.install()  # a response head leaves with its body: one write, not two
        app = create_app(self.ctx)
        try:
            while True:
                try:
                    async with trio.open_nursery() as nursery:
                        binds = await nursery.start(partial(serve, app, self._config()))
                        self.listen_error = None
                        self.url = binds[0]
                        self.ctx.addresses.set("http", self.url)
                        self.log.info("HTTP API: %s", self.url)
                    return
                except OSError as error:
                    self.listen_error = (
                        f"cannot listen on {self.host}:{self.port}: {error.strerror}"
                    )
                    self.log.error("%s; retrying in %gs", self.listen_error, self.listen_retry)
                    await self.clock.sleep(self.listen_retry)
        finally:
            self.ctx.readers.close()
