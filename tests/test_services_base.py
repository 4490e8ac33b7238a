"""BaseIntegration against fake transports: retries, limits, conditional GETs, bad bodies."""

from __future__ import annotations

import random
from typing import Any

import httpx
import msgspec
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.runtime.clock import Clock
from greenhouse.services.base import (
    APIResponse,
    BaseIntegration,
    CachedResponse,
    ErrorKind,
    MemoryGate,
    MemoryResponseCache,
    RateLimitExceeded,
    RateLimitInfo,
    RequestGate,
    ResponseCache,
    RetryPolicy,
)

TOKEN = "ghp_supersecrettoken1234"
EPOCH = 1_700_000_000.0


class Item(msgspec.Struct):
    id: int
    name: str


class TokenService(BaseIntegration):
    name = "fake"

    def _get_auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}


class Recorder:
    """A sleep that records and then really sleeps (virtual under MockClock)."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await trio.sleep(max(0.0, seconds))


def make(handler: Any, **kwargs: Any) -> tuple[TokenService, Recorder]:
    sleep = Recorder()
    kwargs.setdefault("clock", Clock(start_epoch=EPOCH))
    service = TokenService(
        "https://api.example.test",
        transport=httpx.MockTransport(handler),
        sleep=sleep,
        rng=random.Random(7),
        **kwargs,
    )
    return service, sleep


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def test_rate_limit_headers_parse() -> None:
    info = RateLimitInfo.from_headers(
        {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Used": "5000",
            "X-RateLimit-Reset": "1700000600",
            "X-RateLimit-Resource": "core",
            "Retry-After": "30",
        },
        now=EPOCH,
    )
    assert info == RateLimitInfo(
        limit=5000, remaining=0, used=5000, reset=1700000600.0, resource="core", retry_after=30.0
    )
    assert info.exhausted
    assert RateLimitInfo.from_headers({"content-type": "x"}, now=EPOCH) is None
    dated = RateLimitInfo.from_headers({"retry-after": "Tue, 14 Nov 2023 22:14:20 GMT"}, now=EPOCH)
    assert dated is not None and dated.retry_after == pytest.approx(1700000060 - EPOCH, abs=1)
    junk = RateLimitInfo.from_headers({"x-ratelimit-limit": "lots", "retry-after": "-3"}, now=EPOCH)
    assert junk is None


async def test_decodes_into_type_and_sends_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])

    service, _ = make(handler)
    result = await service.get("/items", list[Item])
    assert result.ok and result.status_code == 200
    assert result.data == [Item(1, "a"), Item(2, "b")]
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in repr(service)
    await service.aclose()


@pytest.mark.parametrize(
    "body, fragment",
    [(b"{not json", "unexpected response shape"), (b'[{"id": "x", "name": 1}]', "Expected `int`")],
)
async def test_bad_bodies_become_decode_errors(body: bytes, fragment: str) -> None:
    service, _ = make(lambda r: httpx.Response(200, content=body))
    result = await service.get("/items", list[Item])
    assert not result.ok and result.error_kind == ErrorKind.DECODE
    assert fragment in (result.error or "") and result.data is None


@pytest.mark.parametrize("declared", [True, False, "in memory"])
async def test_oversized_body_is_an_error(declared: bool | str) -> None:
    big = b"[" + b"1," * 600_000 + b"1]"

    async def stream():  # no content-length: the cap is enforced while reading
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    def handler(request: httpx.Request) -> httpx.Response:
        if declared is True:
            return httpx.Response(200, content=big)
        if declared == "in memory":  # already read, and no content-length to go by
            response = httpx.Response(200, content=big)
            del response.headers["content-length"]
            return response
        return httpx.Response(200, content=stream())

    service, _ = make(handler, max_body_bytes=100_000)
    result = await service.get("/big", list[int])
    assert result.error_kind == ErrorKind.TOO_LARGE and "100000 bytes" in (result.error or "")


async def test_5xx_retried_with_backoff_then_reported(autojump_clock: Any) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(502, json={"message": "bad gateway"})

    policy = RetryPolicy(max_retries=3, backoff_base=1.0, backoff_cap=5.0)
    service, sleep = make(handler, retry=policy)
    result = await service.get("/x")
    assert calls == 4 and result.attempts == 4
    assert result.error_kind == ErrorKind.SERVER and result.status_code == 502
    assert "bad gateway" in (result.error or "")
    assert len(sleep.sleeps) == 3
    for attempt, slept in enumerate(sleep.sleeps):
        assert 0.0 <= slept <= min(5.0, 2**attempt)


async def test_5xx_then_success(autojump_clock: Any) -> None:
    replies = [httpx.Response(503), httpx.Response(200, json={"id": 3, "name": "ok"})]
    service, _ = make(lambda r: replies.pop(0))
    result = await service.get("/x", Item)
    assert result.ok and result.data == Item(3, "ok") and result.attempts == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_other_4xx_never_retried(status: int) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, json={"message": "nope"})

    service, sleep = make(handler)
    result = await service.get("/x")
    assert calls == 1 and sleep.sleeps == []
    assert result.status_code == status and result.error_kind == ErrorKind.HTTP


async def test_429_obeys_retry_after(autojump_clock: Any) -> None:
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(trio.current_time())
        if len(times) == 1:
            return httpx.Response(429, headers={"retry-after": "42"})
        return httpx.Response(200, json={"id": 1, "name": "a"})

    service, _ = make(handler)
    result = await service.get("/x", Item)
    assert result.ok and len(times) == 2
    assert times[1] - times[0] == pytest.approx(42.0, abs=0.01)


async def test_retry_after_too_long_is_reported_not_slept(autojump_clock: Any) -> None:
    service, sleep = make(lambda r: httpx.Response(429, headers={"retry-after": "99999"}))
    result = await service.get("/x")
    assert result.error_kind == ErrorKind.RATE_LIMITED and sleep.sleeps == []


async def test_exhausted_limit_waits_until_reset_without_requests(autojump_clock: Any) -> None:
    times: list[float] = []
    reset = int(EPOCH) + 600

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(trio.current_time())
        headers = {"x-ratelimit-remaining": "0" if len(times) == 1 else "4999"}
        headers["x-ratelimit-reset"] = str(reset)
        return httpx.Response(200, json={"id": len(times), "name": "a"}, headers=headers)

    service, _ = make(handler)
    start = trio.current_time()
    first = await service.get("/a", Item)
    assert first.ok and first.rate_limit is not None and first.rate_limit.exhausted
    second = await service.get("/b", Item)
    assert second.ok and len(times) == 2  # not a single request while exhausted
    assert times[1] - start == pytest.approx(600.0, abs=1.0)


async def test_connect_errors_retried_and_token_never_shown(autojump_clock: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused while sending Bearer {TOKEN}", request=request)

    service, sleep = make(handler, retry=RetryPolicy(max_retries=2))
    result = await service.get("/x")
    assert result.error_kind == ErrorKind.TRANSPORT and result.attempts == 3
    assert len(sleep.sleeps) == 2
    assert TOKEN not in (result.error or "") and "***" in (result.error or "")
    health = await service.health_check()
    assert not health.available and TOKEN not in (health.error or "")


async def test_hanging_server_times_out(autojump_clock: Any) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await trio.sleep_forever()
        raise AssertionError

    service, _ = make(handler, timeout=2.0, retry=RetryPolicy(max_retries=1))
    result = await service.get("/x")
    assert result.error_kind == ErrorKind.TIMEOUT and result.attempts == 2


async def test_etag_round_trip_serves_304_from_cache_for_free() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"etag": '"v1"'})
        return httpx.Response(
            200,
            json={"id": 9, "name": "fresh"},
            headers={"etag": '"v1"', "link": '<https://x/?page=2>; rel="next"'},
        )

    gate = MemoryGate()
    service, _ = make(handler, gate=gate)
    first = await service.get("/thing", Item)
    assert first.ok and not first.from_cache and gate.tokens_spent["fake"] == 1
    second = await service.get("/thing", Item)
    assert second.ok and second.from_cache and second.status_code == 304
    assert second.data == first.data and second.headers["link"] == first.headers["link"]
    assert seen[1].headers["if-none-match"] == '"v1"'
    assert gate.tokens_spent["fake"] == 1  # the revalidation cost no token
    assert gate.admissions["fake"] == 2  # but it was still admitted through the gate


async def test_only_a_conditional_get_keeps_its_answer_for_revalidation() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": 1, "name": "x"}, headers={"etag": '"v1"'})

    service, _ = make(handler)
    cache = service.cache
    assert isinstance(cache, MemoryResponseCache)
    assert (await service.make_request("GET", "/now", response_type=Item, conditional=False)).ok
    assert len(cache) == 0  # never read back by an unconditional request: not written
    assert (await service.get("/thing", Item)).ok
    assert len(cache) == 1


async def test_gate_denial_is_an_error_not_an_exception() -> None:
    class Closed:
        async def acquire(self, service: str, endpoint: str, tokens: int = 1) -> None:
            raise RateLimitExceeded(service, 12.0)

        async def report(self, *args: Any) -> None:
            raise AssertionError("nothing was sent")

    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200)

    assert isinstance(Closed(), RequestGate)
    service, _ = make(handler, gate=Closed())
    result = await service.get("/x")
    assert result.error_kind == ErrorKind.RATE_LIMITED and calls == 0


async def test_memory_cache_ttl_and_lru() -> None:
    now = [0.0]
    cache = MemoryResponseCache(max_entries=2, time=lambda: now[0])
    assert isinstance(cache, ResponseCache)
    entry = CachedResponse(body=b"1", etag='"a"')
    await cache.set("a", entry, ttl=10)
    await cache.set("b", entry, ttl=10)
    assert await cache.get("a") == entry  # touches a: b is now least recently used
    await cache.set("c", entry, ttl=10)
    assert await cache.get("b") is None and len(cache) == 2
    now[0] = 11.0
    assert await cache.get("a") is None


async def test_memory_gate_reports_block_and_refuse() -> None:
    now = [EPOCH]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    gate = MemoryGate(time=lambda: now[0], sleep=sleep, max_wait=100)
    await gate.report("gh", "/x", RateLimitInfo(remaining=0, reset=EPOCH + 50), True, 3.0)
    await gate.acquire("gh", "/x")
    assert slept == [50.0]
    await gate.report("gh", "/x", RateLimitInfo(retry_after=500), False, 3.0)
    with pytest.raises(RateLimitExceeded) as denied:
        await gate.acquire("gh", "/x")
    assert denied.value.retry_after == pytest.approx(500)


@given(
    status=st.sampled_from([200, 201, 204, 301, 304, 400, 404, 429, 500, 503]),
    body=st.binary(max_size=300),
    headers=st.dictionaries(
        st.sampled_from(["etag", "retry-after", "x-ratelimit-remaining", "x-ratelimit-reset"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
    ),
)
def test_arbitrary_responses_never_raise(status: int, body: bytes, headers: dict[str, str]) -> None:
    async def main() -> APIResponse[Any]:
        service, _ = make(
            lambda r: httpx.Response(status, content=body, headers=headers),
            retry=RetryPolicy(max_retries=1, max_rate_limit_wait=5.0),
        )
        return await service.get("/x", list[Item])

    result = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert result.ok == (result.error is None)
    if result.ok:
        assert isinstance(result.data, list)


class OpenGate:
    """A gate that never waits: the service must still respect the server's limit itself."""

    async def acquire(self, service: str, endpoint: str, tokens: int = 1) -> None:
        return None

    async def report(self, *args: Any) -> None:
        return None


async def test_service_respects_server_limit_even_with_an_open_gate(autojump_clock: Any) -> None:
    times: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        times.append(trio.current_time())
        headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(EPOCH) + 300)}
        return httpx.Response(200, json={"id": 1, "name": "a"}, headers=headers)

    service, _ = make(handler, gate=OpenGate())
    start = trio.current_time()
    await service.get("/a", Item)
    await service.get("/b", Item)
    assert len(times) == 2 and times[1] - start == pytest.approx(300.0, abs=1.0)


def test_default_jitter_follows_the_global_seed() -> None:
    def draws() -> list[float]:
        random.seed(1234)
        service = TokenService("https://api.example.test")
        return [service.retry.backoff(3, service._rng) for _ in range(5)]

    assert draws() == draws()


class SlowGate(OpenGate):
    """A gate that takes a moment to answer (as the bucket actor's `ask` does)."""

    async def acquire(self, service: str, endpoint: str, tokens: int = 1) -> None:
        await trio.sleep(1.0)


async def test_a_429_learnt_while_another_request_waits_for_the_gate_holds_it(
    autojump_clock: Any,
) -> None:
    # Found by tests/test_event_flow_stateful.py: request B passed the server-limit check,
    # then waited for the gate while A's 429 arrived, and was sent inside Retry-After.
    sent: list[tuple[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.path, trio.current_time()))
        if request.url.path == "/a" and len(sent) == 1:
            return httpx.Response(429, headers={"retry-after": "30"})
        return httpx.Response(200, json={"id": 1, "name": "a"})

    service, _ = make(handler, gate=SlowGate())
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service.get, "/a", Item)
        await trio.sleep(0.5)  # B reaches the gate while A is in flight
        nursery.start_soon(service.get, "/b", Item)
    first_b = min(t for path, t in sent if path == "/b")
    assert first_b - start >= 1.0 + 30.0 - 0.01, sent


async def test_invalid_utf8_inside_json_is_a_decode_error_not_an_exception():
    """msgspec raises UnicodeDecodeError (not DecodeError) for a JSON string with bad UTF-8."""
    import httpx as _httpx

    from greenhouse.services.base import BaseIntegration as _Base

    for status in (200, 400):
        transport = _httpx.MockTransport(lambda r, s=status: _httpx.Response(s, content=b'"\x80"'))
        client = _Base("http://bad.example", transport=transport)
        client.name = "bad"
        response = await client.get("/x", str)
        assert response.data is None
        assert response.error
        await client.aclose()


async def test_request_urls_are_the_ones_httpx_builds() -> None:
    """URLs are parsed once per (path, params) and reused: each is what httpx itself builds."""
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json=[])

    base = "https://api.example.test/v1"
    service = TokenService(base, transport=httpx.MockTransport(handler))
    asked: list[tuple[str, dict[str, Any] | None]] = [
        ("/items", None),
        ("/items", {"page": 1}),
        ("/items", {"page": True}),  # equal to 1, written "true"
        ("/items", {"page": 1.0}),  # equal to 1, written "1.0"
        ("/items", {"page": 1}),
        ("/items?sort=new", {"page": 2}),
        ("/items", {"ids": ["a", "b"]}),  # unhashable: built afresh
        ("/search", {"q": "a b&c"}),
    ]
    for path, params in asked * 2:
        assert (await service.get(path, params=params)).ok
    reference = httpx.AsyncClient(base_url=base)
    expected = [reference.build_request("GET", p, params=q).url for p, q in asked] * 2
    assert seen == expected
    # page=1 (twice), page=true and page=1.0 stay apart however equal their values are.
    assert len({str(url) for url in seen}) == len(asked) - 1
    await reference.aclose()
    await service.aclose()


async def test_cookies_a_server_sets_are_not_sent_back() -> None:
    cookies: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cookies.append(request.headers.get("cookie"))
        return httpx.Response(200, json=[], headers={"set-cookie": "sid=tracking; Path=/"})

    service, _ = make(handler)
    for _ in range(2):
        assert (await service.get("/items", conditional=False)).ok
    assert cookies == [None, None]
    assert not service.client.cookies
    await service.aclose()


def test_repeated_response_headers_are_joined_as_httpx_joins_them() -> None:
    from greenhouse.services.base import header_map

    headers = httpx.Headers([("Link", "<a>"), ("ETag", '"x"'), ("link", "<b>")])
    assert header_map(headers) == {"link": headers["link"], "etag": '"x"'}
    assert header_map(headers)["link"] == "<a>, <b>"


async def test_an_in_process_transport_gives_the_same_outcomes_as_the_client_path(
    autojump_clock: Any,
) -> None:
    """`InProcessTransport` skips `AsyncClient.send`; what a caller gets is the same."""
    from greenhouse.services.base import InProcessTransport

    def scenario(name: str) -> Any:
        state = {"n": 0}

        def handler(request: httpx.Request) -> httpx.Response:
            state["n"] += 1
            if name == "ok":
                return httpx.Response(200, json=[{"id": 1, "name": "a"}], headers={"etag": '"1"'})
            if name == "revalidated":
                if request.headers.get("if-none-match") == '"1"':
                    return httpx.Response(304, headers={"etag": '"1"'})
                return httpx.Response(200, json=[{"id": 1, "name": "a"}], headers={"etag": '"1"'})
            if name == "retry-after":
                if state["n"] == 1:
                    return httpx.Response(429, headers={"retry-after": "7"}, json={"message": "slow"})
                return httpx.Response(200, json=[])
            if name == "5xx":
                return httpx.Response(503, json={"message": "down"})
            if name == "oversized":
                return httpx.Response(200, content=b"[" + b"1," * 60_000 + b"1]")
            raise httpx.ConnectError("refused", request=request)

        return handler

    def outcome(result: APIResponse[Any], sent: list[httpx.Request], sleeps: list[float]) -> Any:
        return (
            result.data, result.status_code, result.from_cache, result.error, result.error_kind,
            result.etag, result.rate_limit, result.headers, result.attempts, sleeps,
            [(r.method, str(r.url), sorted(r.headers.items())) for r in sent],
        )

    for name in ("ok", "revalidated", "retry-after", "5xx", "oversized", "refused"):
        seen = []
        for kind in (httpx.MockTransport, InProcessTransport):
            sent: list[httpx.Request] = []
            handler = scenario(name)

            def recording(
                request: httpx.Request, handler: Any = handler, sent: list[Any] = sent
            ) -> httpx.Response:
                sent.append(request)
                return handler(request)

            sleep = Recorder()
            service = TokenService(
                "https://api.example.test/v1",
                transport=kind(recording),
                sleep=sleep,
                rng=random.Random(7),
                clock=Clock(start_epoch=EPOCH),
                max_body_bytes=50_000,
            )
            result = await service.get("/items", list[Item], params={"page": 1})
            if name == "revalidated":
                result = await service.get("/items", list[Item], params={"page": 1})
            seen.append(outcome(result, sent, sleep.sleeps))
            await service.aclose()
        assert seen[0] == seen[1], name


async def test_an_in_process_transport_builds_a_repeated_bodiless_request_once(
    autojump_clock: Any,
) -> None:
    """A poll sends the same GET again and again: built once; a request with a body never is
    reused (each carries its own body)."""
    from greenhouse.services.base import InProcessTransport

    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=[{"id": len(sent), "name": request.content.decode()}])

    service = TokenService(
        "https://api.example.test/v1",
        transport=InProcessTransport(handler),
        clock=Clock(start_epoch=EPOCH),
    )
    first = await service.get("/items", list[Item])
    second = await service.get("/items", list[Item])
    other = await service.get("/items", list[Item], params={"page": 2})
    posted = [
        await service.make_request("POST", "/items", response_type=list[Item], json={"n": n})
        for n in (1, 2)
    ]
    await service.aclose()
    assert [r.data[0].id for r in (first, second, other)] == [1, 2, 3]
    assert sent[0] is sent[1] and sent[2] is not sent[0]
    assert sent[2].url.params["page"] == "2"
    assert sent[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert [p.data[0].name for p in posted] == ['{"n":1}', '{"n":2}']
    assert sent[3] is not sent[4]
