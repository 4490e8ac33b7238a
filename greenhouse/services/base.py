"""The HTTP client base every external service uses.

`BaseIntegration` wraps one `httpx.AsyncClient` (transport injectable, so tests, demo mode and
simulation go through the same code as production) and adds what every integration needs:

* a timeout on every call (httpx's own plus a trio cancel scope around each attempt);
* bounded retries with exponential backoff and full jitter on connect errors, timeouts, 5xx and
  429, never on any other 4xx; every sleep goes through an injectable `sleep`, so the whole thing
  runs in virtual time under `trio.testing.MockClock`;
* rate-limit headers parsed into `RateLimitInfo` and handed to a `RequestGate` (the owner of the
  service's bucket), which is also asked before every request;
* conditional GETs through a `ResponseCache`: the stored ETag / Last-Modified is sent, and a 304
  is answered from the cache;
* a body-size cap, and decoding with msgspec into a given type.

Nothing here raises for a bad response: the caller gets an `APIResponse` whose `error` says what
went wrong, and tokens are scrubbed from every error text.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time as _time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import httpx
import msgspec
import trio

from greenhouse.runtime.clock import Clock
from greenhouse.services.decode_memo import DecodeMemo

__all__ = [
    "APIResponse",
    "BaseIntegration",
    "CachedResponse",
    "ErrorKind",
    "HealthStatus",
    "InProcessTransport",
    "MemoryGate",
    "MemoryResponseCache",
    "RateLimitExceeded",
    "RateLimitInfo",
    "RequestGate",
    "ResponseCache",
    "RetryPolicy",
]

T = TypeVar("T")

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
# For this long after a server-imposed wait ends, a client sends one request at a time.
PROBE_WINDOW = 60.0

# Response headers kept alongside a cached body, because callers need them when a 304 is served
# from the cache (pagination, poll interval).
KEPT_HEADERS = ("link", "x-poll-interval", "last-modified", "etag", "content-type")
# Request URLs (base URL, path and query merged and parsed by httpx) kept per client: pollers
# ask the same few paths again and again, and parsing a URL is about a third of building one.
URL_CACHE_SIZE = 256


def _json_decode(body: bytes, type_: Any) -> Any:
    return msgspec.json.decode(body, type=type_)


def header_map(headers: httpx.Headers) -> dict[str, str]:
    """A response's headers read once: lower-case names, repeated ones joined as httpx does."""
    return dict(headers.items())


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing a server sets."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _APIClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` without cookie persistence.

    The APIs authenticate every request by header; a cookie one of them sets (Spotify's
    accounts host sets tracking ones) is neither kept nor sent back, which also spares httpx's
    cookie-jar bookkeeping on every response.
    """

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        pass  # an assignment (httpx's API allows one) is ignored: nothing is ever kept


_NO_COOKIES = _NoCookies()


class InProcessTransport(httpx.MockTransport):
    """An httpx transport answered by a handler in this process (demo and simulation worlds).

    `BaseIntegration` builds its requests as `AsyncClient.build_request` does (base URL,
    the client's default headers, timeouts) and hands them to this transport directly rather
    than through `AsyncClient.send`: an in-process handler has no connection to pool and its
    answers are final (no redirect is followed, no cookie kept), so the client's machinery for
    those is skipped (about a fifth of a request's CPU). A real transport, or a plain
    `MockTransport` as the tests use, always goes through `build_request` and `send`.
    """


class ErrorKind:
    """Values of `APIResponse.error_kind`: what sort of failure, for callers that branch on it."""

    TRANSPORT = "transport"
    TIMEOUT = "timeout"
    HTTP = "http"
    SERVER = "server"
    RATE_LIMITED = "rate_limited"
    DECODE = "decode"
    TOO_LARGE = "too_large"


# --------------------------------------------------------------------------------------------
# Rate-limit information.


class RateLimitInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the server said about its limit in one response (all optional)."""

    limit: int | None = None
    remaining: int | None = None
    used: int | None = None
    reset: float | None = None  # epoch seconds when the window resets
    resource: str | None = None
    retry_after: float | None = None  # seconds to wait, from `Retry-After`

    @property
    def exhausted(self) -> bool:
        """True when the server says no request will succeed before `reset`."""
        return self.remaining is not None and self.remaining <= 0

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], now: float) -> RateLimitInfo | None:
        """Parse `x-ratelimit-*` and `retry-after`; None when the response carries none."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if "retry-after" not in lowered and not any(
            name.startswith("x-ratelimit-") for name in lowered
        ):
            return None

        def integer(name: str) -> int | None:
            raw = lowered.get(name)
            if raw is None:
                return None
            try:
                return int(raw.strip())
            except ValueError:
                return None

        reset_raw = integer("x-ratelimit-reset")
        info = cls(
            limit=integer("x-ratelimit-limit"),
            remaining=integer("x-ratelimit-remaining"),
            used=integer("x-ratelimit-used"),
            reset=float(reset_raw) if reset_raw is not None else None,
            resource=lowered.get("x-ratelimit-resource"),
            retry_after=parse_retry_after(lowered.get("retry-after"), now),
        )
        if info == cls():
            return None
        return info


def parse_retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds from now: either delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        return max(0.0, when.timestamp() - now)
    if seconds != seconds or seconds < 0:  # NaN or negative: ignore rather than trust
        return None
    return seconds


# --------------------------------------------------------------------------------------------
# The response.


class APIResponse(msgspec.Struct, Generic[T], kw_only=True):
    """The outcome of one call: data or an error, never an exception."""

    data: T | None = None
    status_code: int = 0  # 0 when no HTTP response was received
    from_cache: bool = False
    etag: str | None = None
    rate_limit: RateLimitInfo | None = None
    error: str | None = None
    error_kind: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)  # the KEPT_HEADERS only
    attempts: int = 0

    @property
    def ok(self) -> bool:
        """True when the call produced data."""
        return self.error is None

    def failure(self) -> APIResponse[Any]:
        """This response's error, re-typed for a caller that returns another data type."""
        return APIResponse(
            status_code=self.status_code,
            error=self.error,
            error_kind=self.error_kind,
            rate_limit=self.rate_limit,
            attempts=self.attempts,
        )


class HealthStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Result of `health_check()`."""

    service: str
    available: bool
    status_code: int = 0
    latency_ms: float = 0.0
    error: str | None = None
    rate_limit: RateLimitInfo | None = None


# --------------------------------------------------------------------------------------------
# The request gate: whoever owns the service's rate-limit bucket.


class RateLimitExceeded(Exception):
    """A gate refuses a request; `retry_after` says how long until one would be allowed."""

    def __init__(self, service: str, retry_after: float) -> None:
        super().__init__(f"{service}: rate limited, retry after {retry_after:.1f}s")
        self.service = service
        self.retry_after = retry_after


@runtime_checkable
class RequestGate(Protocol):
    """Admission control for outgoing requests, and where server limits are reported.

    `acquire` waits until `tokens` may be spent, or raises `RateLimitExceeded`. `tokens=0` is an
    admission check only: it is used for conditional requests, which cost nothing when the server
    answers 304, and must still wait while the server says the limit is exhausted.
    `report` is called after every attempt with the parsed limit headers (or None), whether it
    succeeded, and how long it took.
    """

    async def acquire(self, service: str, endpoint: str, tokens: int = 1) -> None: ...

    async def report(
        self,
        service: str,
        endpoint: str,
        info: RateLimitInfo | None,
        ok: bool,
        elapsed_ms: float,
    ) -> None: ...


class MemoryGate:
    """The default gate: obeys what the server reported and counts what was spent.

    It blocks while a reported `remaining` is 0 (until `reset`) or a `retry-after` is running,
    refusing with `RateLimitExceeded` when the wait would be longer than `max_wait`. It has no
    bucket of its own; issue 5's rate-limit actor replaces it with a real one.
    """

    def __init__(
        self,
        *,
        time: Callable[[], float] = _time.time,
        sleep: Callable[[float], Awaitable[None]] = trio.sleep,
        max_wait: float = 3600.0,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._time = time
        # Deadlines are kept on a clock that never jumps (wall time does, e.g. when NTP syncs).
        self._monotonic = monotonic or time
        self._sleep = sleep
        self.max_wait = max_wait
        self.blocked_until: dict[str, float] = {}
        self.tokens_spent: dict[str, int] = {}
        self.admissions: dict[str, int] = {}
        self.reports: list[tuple[str, str, RateLimitInfo | None, bool, float]] = []

    async def acquire(self, service: str, endpoint: str, tokens: int = 1) -> None:
        """Wait while the service is blocked; then count the tokens."""
        wait = self.blocked_until.get(service, 0.0) - self._monotonic()
        if wait > self.max_wait:
            raise RateLimitExceeded(service, wait)
        if wait > 0:
            await self._sleep(wait)
        self.admissions[service] = self.admissions.get(service, 0) + 1
        self.tokens_spent[service] = self.tokens_spent.get(service, 0) + tokens

    async def report(
        self,
        service: str,
        endpoint: str,
        info: RateLimitInfo | None,
        ok: bool,
        elapsed_ms: float,
    ) -> None:
        """Remember server limits; keep a short history for metrics and tests."""
        self.reports.append((service, endpoint, info, ok, elapsed_ms))
        del self.reports[:-1000]
        now = self._time()
        until = server_block_until(info, now)
        if until is not None:
            until = self._monotonic() + (until - now)
            self.blocked_until[service] = max(self.blocked_until.get(service, 0.0), until)


def server_block_until(info: RateLimitInfo | None, now: float) -> float | None:
    """Epoch second before which the server said no request will succeed, or None."""
    if info is None:
        return None
    until: float | None = None
    if info.retry_after is not None:
        until = now + info.retry_after
    if info.exhausted and info.reset is not None and info.reset > now:
        until = max(until or 0.0, info.reset)
    return until


# --------------------------------------------------------------------------------------------
# The response cache.


class CachedResponse(msgspec.Struct, frozen=True, kw_only=True):
    """A stored response body with what is needed to revalidate it."""

    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    stored_at: float = 0.0
    status_code: int = 200
    headers: dict[str, str] = msgspec.field(default_factory=dict)


@runtime_checkable
class ResponseCache(Protocol):
    """Where conditional-request bodies live; issue 5's cache actor replaces the default."""

    async def get(self, key: str) -> CachedResponse | None: ...

    async def set(self, key: str, value: CachedResponse, ttl: float) -> None: ...


class MemoryResponseCache:
    """The default cache: an in-memory LRU with a TTL per entry."""

    def __init__(self, *, max_entries: int = 1024, time: Callable[[], float] = _time.monotonic):
        self.max_entries = max_entries
        self._time = time
        self._items: OrderedDict[str, tuple[float, CachedResponse]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def get(self, key: str) -> CachedResponse | None:
        """The entry, or None when absent or expired."""
        item = self._items.get(key)
        if item is None or item[0] <= self._time():
            if item is not None:
                del self._items[key]
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return item[1]

    async def set(self, key: str, value: CachedResponse, ttl: float) -> None:
        """Store for `ttl` seconds, evicting the least recently used beyond `max_entries`."""
        self._items[key] = (self._time() + ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


# --------------------------------------------------------------------------------------------
# The integration base.


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How many times and how patiently to retry."""

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    # A server asking us to wait longer than this gets an error instead of a sleeping caller.
    max_rate_limit_wait: float = 3600.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return rng.uniform(0.0, min(self.backoff_cap, self.backoff_base * (2**attempt)))


class _TooLarge(Exception):
    pass


class BaseIntegration:
    """One external API on httpx, with retries, limits, conditional GETs and typed decoding."""

    name: str = "service"
    health_path: str = "/"
    # A client whose response types are frozen models reuses the values of a body that is the
    # same bytes as the last one of its type (a 304's cached body, an unchanged answer).
    memo_decoded: bool = False

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        gate: RequestGate | None = None,
        cache: ResponseCache | None = None,
        cache_ttl: float = 24 * 3600.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        user_agent: str = "digital-greenhouse/0.1",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        # Time comes from the runtime clock (virtual under MockClock); `sleep` can be swapped
        # on its own so tests can record every backoff.
        self.clock = clock or Clock()
        self._sleep = sleep or self.clock.sleep
        self._time = self.clock.time
        self._monotonic = self.clock.monotonic
        self.gate: RequestGate = gate or MemoryGate(
            time=self._time, sleep=self._sleep, monotonic=self._monotonic
        )
        self.cache: ResponseCache = cache or MemoryResponseCache(time=self._time)
        self.cache_ttl = cache_ttl
        self.max_body_bytes = max_body_bytes
        # Keyed by the service name and the global generator's next draw at construction: a
        # seeded run (`run.py simulate`) draws the same backoff jitter whatever the order in
        # which concurrent services consume theirs.
        self._rng = rng or random.Random(f"{self.name}:{random.getrandbits(64)}")
        self._transport = transport
        self._in_process = transport if isinstance(transport, InProcessTransport) else None
        # In-process requests without a body, built once per method, URL and headers.
        self._bodiless: dict[tuple[str, httpx.URL | str, tuple[tuple[str, str], ...]], httpx.Request] = {}
        self._user_agent = user_agent
        self._client: httpx.AsyncClient | None = None
        self._urls: dict[tuple[str, tuple[tuple[str, type, Any], ...]], httpx.URL] = {}
        self._decode_memo = DecodeMemo() if self.memo_decoded else None
        # Our own memory of server limits, so no request the limit says will fail is ever sent,
        # whatever gate is plugged in (a `monotonic()` deadline).
        self._blocked_until = 0.0
        self._probe = trio.Lock()
        self.last_rate_limit: RateLimitInfo | None = None
        self.log = logging.getLogger(f"greenhouse.{self.name}")

    # ---- to override ------------------------------------------------------------------------

    def _get_auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a request (none by default)."""
        return {}

    def _secrets(self) -> list[str]:
        """Clear-text secret values to scrub from any error text."""
        return [v.split(" ", 1)[-1] for v in self._get_auth_headers().values() if v]

    def _is_rate_limited(self, response: httpx.Response, info: RateLimitInfo | None) -> bool:
        """True when a response means "slow down" rather than "you are wrong"."""
        return response.status_code == 429

    # ---- lifecycle --------------------------------------------------------------------------

    @property
    def client(self) -> httpx.AsyncClient:
        """The shared client, made on first use."""
        if self._client is None:
            self._client = _APIClient(
                base_url=self.base_url,
                transport=self._transport,
                timeout=httpx.Timeout(self.timeout),
                headers={"User-Agent": self._user_agent},
                follow_redirects=True,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> BaseIntegration:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def server_wait(self) -> float:
        """Seconds before the server allows another request (its `Retry-After`, or an exhausted
        limit's reset), 0 when it set no wait: what a poller tells the scheduler to hold off."""
        return max(0.0, self._blocked_until - self._monotonic())

    # ---- helpers ----------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """`text` with every secret value replaced by `***`."""
        for secret in sorted(self._secrets(), key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def cache_key(self, method: str, path: str, params: Mapping[str, Any] | None) -> str:
        """The cache key for a request: service, method, and the URL with sorted params."""
        query = "&".join(f"{k}={params[k]}" for k in sorted(params)) if params else ""
        return f"{self.name}:{method}:{path}" + (f"?{query}" if query else "")

    def _fail(self, kind: str, message: str, status: int = 0, **extra: Any) -> APIResponse[Any]:
        text = self.redact(f"{self.name}: {message}")
        self.log.warning("%s", text)
        return APIResponse(error=text, error_kind=kind, status_code=status, **extra)

    def _request_url(self, path: str, params: Mapping[str, Any] | None) -> httpx.URL:
        """`path` and `params` merged with the base URL, as httpx does it, parsed once per pair."""
        try:
            # The type is in the key: 1, 1.0 and True are equal but httpx writes them apart.
            key = (path, tuple((k, type(v), v) for k, v in params.items()) if params else ())
            url = self._urls.get(key)
        except TypeError:  # an unhashable parameter value (a list): no caching
            return self.client.build_request("GET", path, params=params).url
        if url is None:
            if len(self._urls) >= URL_CACHE_SIZE:
                self._urls.clear()  # keys with a timestamp in them never come back
            url = self._urls[key] = self.client.build_request("GET", path, params=params).url
        return url

    def _build_request(
        self, method: str, url: httpx.URL | str, headers: dict[str, str], **content: Any
    ) -> httpx.Request:
        """`client.build_request`; for an in-process transport, the same request built with
        the client's and these headers merged (its requests keep no cookies to merge), and one
        without a body built once (the handler only reads it; a poll sends the same request
        again and again). `content` is httpx's `json=` or `data=`.
        """
        if self._in_process is None:
            return self.client.build_request(method, url, headers=headers, **content)
        key = tuple(headers.items())
        bodiless = not any(value is not None for value in content.values())
        if bodiless:
            request = self._bodiless.get((method, url, key))
            if request is not None:
                return request
        merged = httpx.Headers(self.client.headers)
        merged.update(headers)
        timeout = {"timeout": self.client.timeout.as_dict()}
        request = httpx.Request(method, url, headers=merged, extensions=timeout, **content)
        if bodiless:
            if len(self._bodiless) >= URL_CACHE_SIZE:
                self._bodiless.clear()  # URLs with a timestamp in them never come back
            self._bodiless[method, url, key] = request
        return request

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """`client.send(request, stream=True)`, or straight to an in-process transport."""
        if self._in_process is None:
            return await self.client.send(request, stream=True)
        response = await self._in_process.handle_async_request(request)
        response.request = request
        return response

    async def _read_capped(
        self, response: httpx.Response, declared: str | None = None
    ) -> bytes:
        if declared is None:
            declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _TooLarge
        try:
            # An in-process transport (a test's or the simulation's) hands the body over
            # already in memory; a network response is streamed, and stopped at the cap.
            body = response.content
        except httpx.ResponseNotRead:
            pass
        else:
            if len(body) > self.max_body_bytes:
                raise _TooLarge
            return body
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def _decode(self, body: bytes, type_: Any) -> Any:
        if type_ is bytes:
            return body
        if self._decode_memo is not None:
            return self._decode_memo.decode(body, type_, _json_decode)
        return msgspec.json.decode(body, type=type_)

    async def _wait_for_server_limit(self, endpoint: str) -> APIResponse[Any] | None:
        """Sleep while the server said we are blocked; an error when that is too long."""
        # Waited again when a concurrent request of this client was told to wait longer
        # meanwhile: no request may go out while the server said no.
        served = 0.0
        while (until := self._blocked_until) > served:
            wait = until - self._monotonic()
            if wait <= 0:
                break
            if wait > self.retry.max_rate_limit_wait:
                return self._fail(
                    ErrorKind.RATE_LIMITED,
                    f"{endpoint}: rate limit exhausted, resets in {wait:.0f}s",
                    rate_limit=self.last_rate_limit,
                )
            self.log.info("%s: waiting %.1fs for the rate limit to reset", endpoint, wait)
            await self._sleep(wait)
            served = until
        return None

    # ---- the one request path ---------------------------------------------------------------

    async def make_request(
        self,
        method: str,
        path: str,
        *,
        response_type: Any = Any,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        conditional: bool | None = None,
        cache_key: str | None = None,
        endpoint: str | None = None,
        tokens: int = 1,
    ) -> APIResponse[Any]:
        """Send one request (with retries) and decode the body into `response_type`.

        GETs are conditional by default: a cached ETag / Last-Modified is sent, a 304 is served
        from the cache and costs no gate token. Never raises for network or response problems.
        """
        method = method.upper()
        endpoint = endpoint or path.split("?", 1)[0]
        if conditional is None:
            conditional = method == "GET"
        key = cache_key or self.cache_key(method, path, params)
        cached = await self.cache.get(key) if conditional else None

        request_headers = {"Accept": "application/json"}
        request_headers.update(headers or {})
        if cached is not None:
            if cached.etag:
                request_headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                request_headers["If-Modified-Since"] = cached.last_modified
        # A revalidation is free when the answer is 304, so it is only admitted, not charged.
        cost = 0 if cached is not None else tokens

        attempt = 0
        while True:
            # Shortly after the server said "wait", this client's requests go one at a time:
            # concurrent tasks waking from the same wait would otherwise all be sent at once,
            # and all but the first would arrive after a fresh 429.
            recent = self._monotonic() < self._blocked_until + PROBE_WINDOW
            async with self._probe if recent else contextlib.nullcontext():
                blocked = await self._wait_for_server_limit(endpoint)
                if blocked is not None:
                    return blocked
                served = self._blocked_until
                try:
                    await self.gate.acquire(self.name, endpoint, cost)
                except RateLimitExceeded as denied:
                    return self._fail(
                        ErrorKind.RATE_LIMITED,
                        f"{endpoint}: rate limited by the local bucket for "
                        f"{denied.retry_after:.1f}s",
                        attempts=attempt,
                    )
                if self._blocked_until > served and self._monotonic() < self._blocked_until:
                    continue  # told to wait (again) while the gate admitted us: wait first
                attempt += 1
                outcome, retry_in, store = await self._attempt(
                    attempt,
                    method,
                    path,
                    endpoint,
                    params,
                    json,
                    request_headers,
                    response_type,
                    cached,
                )
            outcome.attempts = attempt
            # Kept only for revalidation: an unconditional request (Spotify's player, WakaTime's
            # stats, the weather) never reads it back, so it is not written either.
            if conditional and store is not None and (store.etag or store.last_modified):
                await self.cache.set(key, store, self.cache_ttl)
            if retry_in is None or attempt > self.retry.max_retries:
                return outcome
            self.log.info(
                "%s %s failed (%s); retry %d in %.2fs",
                method,
                endpoint,
                outcome.error_kind,
                attempt,
                retry_in,
            )
            await self._sleep(retry_in)

    async def _attempt(
        self,
        attempt: int,
        method: str,
        path: str,
        endpoint: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: dict[str, str],
        response_type: Any,
        cached: CachedResponse | None,
    ) -> tuple[APIResponse[Any], float | None, CachedResponse | None]:
        """One attempt: the response, the wait before retrying (None: don't), what to cache."""
        all_headers = {**self._get_auth_headers(), **headers}
        started = self._monotonic()
        response: httpx.Response | None = None
        info: RateLimitInfo | None = None
        body = b""
        seen: dict[str, str] = {}
        failure: APIResponse[Any] | None = None
        try:
            with trio.move_on_after(self.timeout * 1.5) as scope:
                url = self._request_url(path, params)
                request = self._build_request(method, url, all_headers, json=json)
                response = await self._send(request)
                try:
                    seen = header_map(response.headers)
                    info = RateLimitInfo.from_headers(seen, self._time())
                    body = await self._read_capped(response, seen.get("content-length"))
                finally:
                    await response.aclose()
            if scope.cancelled_caught:
                failure = self._fail(ErrorKind.TIMEOUT, f"{method} {endpoint}: timed out")
        except _TooLarge:
            assert response is not None
            failure = self._fail(
                ErrorKind.TOO_LARGE,
                f"{method} {endpoint}: response body over {self.max_body_bytes} bytes",
                status=response.status_code,
            )
        except httpx.TimeoutException:
            failure = self._fail(ErrorKind.TIMEOUT, f"{method} {endpoint}: timed out")
        except httpx.HTTPError as exc:
            failure = self._fail(
                ErrorKind.TRANSPORT, f"{method} {endpoint}: {type(exc).__name__}: {exc}"
            )
        elapsed_ms = (self._monotonic() - started) * 1000.0
        ok = failure is None and response is not None and response.status_code < 400
        await self._note_limits(endpoint, info, ok, elapsed_ms)

        if failure is not None:
            failure.rate_limit = info
            retryable = failure.error_kind in (ErrorKind.TIMEOUT, ErrorKind.TRANSPORT)
            wait = self.retry.backoff(attempt - 1, self._rng) if retryable else None
            return failure, wait, None
        assert response is not None
        return self._interpret(
            attempt, method, endpoint, response, seen, info, body, response_type, cached
        )

    async def _note_limits(
        self, endpoint: str, info: RateLimitInfo | None, ok: bool, elapsed_ms: float
    ) -> None:
        if info is not None:
            self.last_rate_limit = info
            now = self._time()
            until = server_block_until(info, now)
            if until is not None:
                # Kept in monotonic time: a wall-clock jump must not shorten or stretch it.
                self._blocked_until = max(self._blocked_until, self._monotonic() + until - now)
        await self.gate.report(self.name, endpoint, info, ok, elapsed_ms)

    def _interpret(
        self,
        attempt: int,
        method: str,
        endpoint: str,
        response: httpx.Response,
        seen: dict[str, str],
        info: RateLimitInfo | None,
        body: bytes,
        response_type: Any,
        cached: CachedResponse | None,
    ) -> tuple[APIResponse[Any], float | None, CachedResponse | None]:
        status = response.status_code
        kept = {h: seen[h] for h in KEPT_HEADERS if h in seen}
        etag = seen.get("etag")

        if status == 304:
            if cached is None:
                failure = self._fail(
                    ErrorKind.HTTP, f"{method} {endpoint}: 304 with nothing cached", status
                )
                return failure, None, None
            merged = {**cached.headers, **kept}
            return (
                self._decoded(
                    cached.body,
                    response_type,
                    method,
                    endpoint,
                    status=status,
                    from_cache=True,
                    etag=etag or cached.etag,
                    rate_limit=info,
                    headers=merged,
                ),
                None,
                None,
            )

        if status >= 400:
            detail = _error_detail(body)
            message = f"{method} {endpoint}: HTTP {status}" + (f": {detail}" if detail else "")
            if self._is_rate_limited(response, info):
                wait = info.retry_after if info and info.retry_after is not None else None
                if wait is None:
                    until = server_block_until(info, self._time())
                    wait = (
                        (until - self._time())
                        if until
                        else self.retry.backoff(attempt - 1, self._rng)
                    )
                failure = self._fail(ErrorKind.RATE_LIMITED, message, status, rate_limit=info)
                if wait > self.retry.max_rate_limit_wait:
                    return failure, None, None
                # The wait itself happens in make_request's server-limit check.
                self._blocked_until = max(self._blocked_until, self._monotonic() + wait)
                return failure, 0.0, None
            if status >= 500:
                failure = self._fail(ErrorKind.SERVER, message, status, rate_limit=info)
                return failure, self.retry.backoff(attempt - 1, self._rng), None
            return self._fail(ErrorKind.HTTP, message, status, rate_limit=info), None, None

        result = self._decoded(
            body,
            response_type,
            method,
            endpoint,
            status=status,
            from_cache=False,
            etag=etag,
            rate_limit=info,
            headers=kept,
        )
        store = None
        if result.ok and method == "GET":
            store = CachedResponse(
                body=body,
                etag=etag,
                last_modified=seen.get("last-modified"),
                stored_at=self._time(),
                status_code=status,
                headers=kept,
            )
        return result, None, store

    def _decoded(
        self, body: bytes, response_type: Any, method: str, endpoint: str, **fields: Any
    ) -> APIResponse[Any]:
        try:
            data = self._decode(body, response_type)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            return self._fail(
                ErrorKind.DECODE,
                f"{method} {endpoint}: unexpected response shape: {exc}",
                fields["status"],
                rate_limit=fields.get("rate_limit"),
            )
        return APIResponse(
            data=data,
            status_code=fields["status"],
            from_cache=fields["from_cache"],
            etag=fields["etag"],
            rate_limit=fields["rate_limit"],
            headers=fields["headers"],
        )

    async def get(self, path: str, response_type: Any = Any, **kwargs: Any) -> APIResponse[Any]:
        """A conditional GET, cached on success."""
        return await self.make_request("GET", path, response_type=response_type, **kwargs)

    async def health_check(self) -> HealthStatus:
        """One cheap request to `health_path`: is the service reachable and are we allowed in."""
        started = self._monotonic()
        response = await self.make_request(
            "GET", self.health_path, response_type=bytes, conditional=False, endpoint="health"
        )
        return HealthStatus(
            service=self.name,
            available=response.ok,
            status_code=response.status_code,
            latency_ms=(self._monotonic() - started) * 1000.0,
            error=response.error,
            rate_limit=response.rate_limit,
        )


def _error_detail(body: bytes) -> str:
    """A short, safe excerpt of an error body: its `message` field when it is JSON."""
    decoded: Any
    try:
        decoded = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):  # a JSON string with invalid UTF-8
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return decoded["message"][:200]
    text = body[:200].decode("utf-8", "replace").strip()
    return text.replace("\n", " ")
