"""A hostile network in front of the world: `HostileTransport` sabotages answers on a `FaultPlan`.

`HostileTransport(inner, plan, clock)` wraps any httpx transport (the world's) and, while a
`FaultWindow` of the plan is open for a request's host, answers the way broken networks and
broken APIs do: timeouts, hangs, connection resets, 5xx storms, 429 floods with and without
`Retry-After`, truncated or malformed JSON, 50 MB bodies, slow-drip bodies, wrong content types.
Windows are in the garden clock's monotonic seconds, so a clock jump moves no window.

It keeps score the way a strict server would: `injected` per fault kind, every request per host,
and `violations`, the requests that reached a host while a `Retry-After` it had sent was still
running (a correct client sends none).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import httpx
import trio

from greenhouse.runtime import Clock

__all__ = ["Fault", "FaultPlan", "FaultWindow", "HostileTransport"]

HUGE_BODY_BYTES = 50 * 1024 * 1024
_CHUNK = b" " * (256 * 1024)


class Fault(enum.StrEnum):
    """What a broken network or API does to a request."""

    TIMEOUT = "timeout"  # httpx.ReadTimeout / ConnectTimeout from the transport
    HANG = "hang"  # the request never answers (only the client's own deadline ends it)
    RESET = "reset"  # connection refused / reset / dropped mid-response
    SERVER_ERROR = "5xx_storm"  # 500, 502, 503, 504 in turn
    RATE_LIMIT = "429_retry_after"  # 429 with Retry-After
    RATE_LIMIT_BARE = "429_no_retry_after"  # 429 with no hint at all
    TRUNCATED_JSON = "truncated_json"  # the real answer, cut in half
    MALFORMED_JSON = "malformed_json"  # 200 with a body that is not JSON
    HUGE_BODY = "50mb_body"  # a 50 MB body, its length declared or not
    SLOW_DRIP = "slow_drip"  # headers at once, then a byte every few seconds
    WRONG_CONTENT_TYPE = "wrong_content_type"  # a captive portal's HTML page with 200


@dataclass(frozen=True)
class FaultWindow:
    """`kind` hits requests to `hosts` (None: every host) from `start` to `end` (monotonic s)."""

    kind: Fault
    start: float
    end: float
    hosts: frozenset[str] | None = None

    def covers(self, at: float, host: str) -> bool:
        """True when a request to `host` at `at` is hit by this window."""
        return self.start <= at < self.end and (self.hosts is None or host in self.hosts)


@dataclass
class FaultPlan:
    """The windows of a hostile run (the first open one wins)."""

    windows: list[FaultWindow] = field(default_factory=list)
    retry_after: float = 30.0  # what RATE_LIMIT answers say
    drip_interval: float = 5.0  # seconds between SLOW_DRIP bytes

    def active(self, at: float, host: str) -> Fault | None:
        """The fault for a request to `host` at `at`, if any."""
        for window in self.windows:
            if window.covers(at, host):
                return window.kind
        return None

    @classmethod
    def single(
        cls, kind: Fault, start: float, end: float, hosts: Iterable[str] | None = None
    ) -> FaultPlan:
        """A plan with one window."""
        return cls([FaultWindow(kind, start, end, frozenset(hosts) if hosts else None)])


class _Drip(httpx.AsyncByteStream):
    """A JSON-looking body sent one byte every `interval` seconds, forever."""

    def __init__(self, interval: float) -> None:
        self.interval = interval

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"["
        while True:
            await trio.sleep(self.interval)
            yield b" "


class _Huge(httpx.AsyncByteStream):
    """`size` bytes of whitespace in 256 KiB chunks (one buffer, reused)."""

    def __init__(self, size: int) -> None:
        self.size = size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.size:
            chunk = _CHUNK[: self.size - sent]
            sent += len(chunk)
            yield chunk


class HostileTransport(httpx.AsyncBaseTransport):
    """Sabotages the answers of `inner` while the plan says so, and keeps score."""

    def __init__(self, inner: httpx.AsyncBaseTransport, plan: FaultPlan, clock: Clock) -> None:
        self.inner = inner
        self.plan = plan
        self.clock = clock
        self.injected: Counter[Fault] = Counter()
        self.requests: Counter[str] = Counter()
        self.violations: Counter[str] = Counter()
        self.retry_until: dict[str, float] = {}  # host -> monotonic end of our Retry-After
        self._turn = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        now = self.clock.monotonic()
        self.requests[host] += 1
        if now < self.retry_until.get(host, 0.0):
            self.violations[host] += 1
        kind = self.plan.active(now, host)
        if kind is None:
            return await self.inner.handle_async_request(request)
        self.injected[kind] += 1
        self._turn += 1
        return await self._sabotage(kind, request, host, now)

    async def _sabotage(
        self, kind: Fault, request: httpx.Request, host: str, now: float
    ) -> httpx.Response:
        turn = self._turn
        if kind is Fault.TIMEOUT:
            error = httpx.ReadTimeout if turn % 2 else httpx.ConnectTimeout
            raise error("simulated timeout", request=request)
        if kind is Fault.HANG:
            await trio.sleep_forever()
        if kind is Fault.RESET:
            errors = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)
            raise errors[turn % 3]("[Errno 104] Connection reset by peer", request=request)
        if kind is Fault.SERVER_ERROR:
            status = (500, 502, 503, 504)[turn % 4]
            return httpx.Response(status, json={"message": "simulated outage"})
        if kind is Fault.RATE_LIMIT:
            self.retry_until[host] = now + self.plan.retry_after
            return httpx.Response(
                429,
                headers={"Retry-After": f"{self.plan.retry_after:g}"},
                json={"message": "slow down"},
            )
        if kind is Fault.RATE_LIMIT_BARE:
            return httpx.Response(429, text="Too Many Requests")
        if kind is Fault.MALFORMED_JSON:
            garbage = (b'{"data": [1, 2,,]', b"\xff\xfe\x00garbage", b"null}", b"")[turn % 4]
            return httpx.Response(
                200, headers={"Content-Type": "application/json"}, content=garbage
            )
        if kind is Fault.WRONG_CONTENT_TYPE:
            page = b"<html><body><h1>Hotel Wi-Fi</h1>Please log in.</body></html>"
            return httpx.Response(200, headers={"Content-Type": "text/html"}, content=page)
        if kind is Fault.HUGE_BODY:
            headers = {"Content-Type": "application/json"}
            if turn % 2:  # half of them say how big they are, half just keep sending
                headers["Content-Length"] = str(HUGE_BODY_BYTES)
            return httpx.Response(200, headers=headers, stream=_Huge(HUGE_BODY_BYTES))
        if kind is Fault.SLOW_DRIP:
            return httpx.Response(
                200,
                headers={"Content-Type": "application/json"},
                stream=_Drip(self.plan.drip_interval),
            )
        # TRUNCATED_JSON: the real answer, cut short (and without its validators).
        real = await self.inner.handle_async_request(request)
        body = await real.aread()
        headers = {
            k: v for k, v in real.headers.items()
            if k.lower() not in ("content-length", "etag", "last-modified")
        }
        return httpx.Response(real.status_code, headers=headers, content=body[: len(body) // 2])
