"""Input fuzzing: random requests at every HTTP endpoint and random frames at the WebSocket.

One demo garden (every actor, fed by the world) runs on ephemeral ports in a thread of this
process for the whole module; hypothesis throws methods, paths, query strings, headers and bodies
(some correctly signed, so they get past the signature into the parsers) at the HTTP API, and
text/binary frames of any size, bad JSON and unknown actions at viewers. Nothing may answer 500,
a 5xx other than a stated 503 "unavailable" is a failure, the garden must keep answering, and
the process's resident memory must level off under repeated abuse.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trio_websocket import ConnectionClosed, open_websocket_url

from actors.simulation import demo_garden
from actors.tree import run_garden
from greenhouse.config import settings_from_mapping
from greenhouse.services.github_webhooks import sign

SECRET = "demo-webhook-secret"
ADMIN = "fuzz-admin-token-0123456789abcdef"
ROUTES = [
    "/healthz", "/metrics", "/webhooks/github", "/api/status", "/api/garden", "/api/portfolio",
    "/api/mood", "/api/events", "/api/scheduler", "/api/connections", "/api/tasks/github_sync/run",
    "/", "/ws", "/api", "/api/tasks//run", "/webhooks/github/", "/api/events/../status",
]
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm (no psutil needed)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE


class GardenThread:
    """The demo garden on ephemeral ports, run by trio in a thread of its own."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.ready = threading.Event()
        self.http = ""
        self.ws = ""
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        config = settings_from_mapping(
            {"GREENHOUSE_HTTP_PORT": "0", "GREENHOUSE_WS_PORT": "0",
             "GREENHOUSE_ADMIN_TOKEN": ADMIN, "GREENHOUSE_ALLOWED_ORIGINS": "https://ok.example"}
        )
        garden, _ = demo_garden(config, db_path=str(self.db))
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(run_garden, garden)
            addresses = garden.extras["addresses"]
            self.http = await addresses.wait("http")
            self.ws = await addresses.wait("websocket")
            self.ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    def __enter__(self) -> GardenThread:
        self._thread.start()
        assert self.ready.wait(30), "the garden did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None and self._token is not None
        trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(10)


@pytest.fixture(scope="module")
def garden(tmp_path_factory) -> Iterator[GardenThread]:
    with GardenThread(tmp_path_factory.mktemp("fuzz") / "g.db") as running:
        yield running


@pytest.fixture(scope="module")
def http(garden) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=garden.http, timeout=10.0) as client:
        yield client


def acceptable(response: httpx.Response) -> bool:
    """Below 500, or a 503 that says which part is unavailable (never a made-up answer)."""
    if response.status_code < 500:
        return True
    if response.status_code != 503:
        return False
    return response.json().get("error") == "unavailable"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# Push-shaped bodies with random values in the fields the parser reads.
push_like = st.fixed_dictionaries(
    {},
    optional={
        "ref": json_values, "commits": json_values, "head_commit": json_values,
        "repository": json_values | st.fixed_dictionaries({"full_name": json_values}),
        "pusher": json_values, "sender": json_values, "action": json_values,
    },
)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
headers = st.dictionaries(
    st.sampled_from(["Content-Type", "X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256",
                     "Authorization", "Origin", "Accept", "Access-Control-Request-Method",
                     "X-Forwarded-For", "User-Agent", "Cookie"]),
    header_text,
    max_size=6,
)
bodies = st.one_of(
    st.binary(max_size=512),
    json_values.map(msgspec.json.encode),
    push_like.map(msgspec.json.encode),
    st.integers(60_000, 80_000).map(lambda n: b'{"pad":"' + b"x" * n + b'"}'),
)
queries = st.dictionaries(
    st.sampled_from(["since", "limit", "hours", "types", "days", "page"]) | st.text(max_size=8),
    st.one_of(st.integers(-(2**70), 2**70).map(str), st.text(max_size=30)),
    max_size=4,
)
paths = st.one_of(
    st.sampled_from(ROUTES),
    st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), max_size=40).map(lambda p: "/" + p),
    st.text(max_size=30).map(lambda t: f"/api/tasks/{t}/run"),
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=paths, query=queries, sent_headers=headers, body=bodies,
    signed=st.booleans(), event=st.sampled_from(["push", "ping", "issues", "star", "x" * 300]),
    admin=st.booleans(),
)
def test_no_request_gets_a_server_error(
    http, method, path, query, sent_headers, body, signed, event, admin
):
    if signed:  # past the signature check, into the delivery parser
        sent_headers = {
            **sent_headers, "X-Hub-Signature-256": sign(SECRET, body), "X-GitHub-Event": event
        }
    if admin:
        sent_headers = {**sent_headers, "Authorization": f"Bearer {ADMIN}"}
    def send(client: httpx.Client) -> httpx.Response:
        request = client.build_request(
            method, path, params=query, headers=sent_headers,
            content=body if method not in ("GET", "HEAD") else None,
        )
        return client.send(request)

    try:
        try:
            response = send(http)
        except httpx.RemoteProtocolError:
            # A pooled keep-alive connection the server had closed (it does after a refused,
            # unread body): the same request once more on a fresh connection must be answered.
            with httpx.Client(base_url=http.base_url, timeout=10.0) as fresh:
                response = send(fresh)
    except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
        return  # the client refuses to send it at all (h11 checks header values)
    assert acceptable(response), (response.status_code, response.text[:300])
    # Errors are JSON (Starlette's own answer to a refused CORS preflight is the exception).
    if response.status_code >= 400 and method not in ("HEAD", "OPTIONS") and response.content:
        assert response.headers["content-type"].startswith("application/json")


frames = st.lists(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v)),
        st.fixed_dictionaries(
            {"action": st.sampled_from(["subscribe", "ping", "resume", "", "x" * 100]) | st.text()},
            optional={"types": json_values, "since": json_values},
        ).map(json.dumps),
        st.integers(4_000, 20_000).map(lambda n: "x" * n),  # over the 4 KiB frame limit
    ),
    max_size=8,
)


async def _viewer_session(url: str, sent: list[str | bytes]) -> tuple[list[dict[str, Any]], int | None]:
    replies: list[dict[str, Any]] = []
    code: int | None = None
    with trio.fail_after(10):
        async with open_websocket_url(url) as ws:
            replies.append(json.loads(await ws.get_message()))
            try:
                for message in sent:
                    await ws.send_message(message)
                with trio.move_on_after(0.15):
                    while True:
                        replies.append(json.loads(await ws.get_message()))
            except ConnectionClosed as closed:
                code = closed.reason.code
    return replies, code


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(sent=frames, since=st.none() | st.integers(0, 10**6))
def test_no_frame_crashes_a_viewer_session_or_the_server(garden, sent, since):
    url = garden.ws if since is None else f"{garden.ws}?since={since}"
    replies, code = trio.run(_viewer_session, url, sent)
    assert replies[0]["type"] == ("snapshot" if since is None else "resumed")
    # Closed only for a stated reason: a frame too big, too many messages, or falling behind.
    # After a frame over the limit the server's 1009 can race the client's next send, which
    # then sees the connection drop (1006): still the server's refusal, not a crash (1011).
    oversized = any(len(m.encode() if isinstance(m, str) else m) > 4096 for m in sent)
    allowed = {None, 1000, 1008, 1013} | ({1009, 1006} if oversized else set())
    assert code in allowed, code
    for reply in replies:
        assert {"id", "type", "data", "timestamp"} <= set(reply)
    errors = [r for r in replies if r["type"] == "error"]
    for error in errors:
        assert error["data"]["error"] in {
            "bad_frame", "bad_message", "bad_json", "unknown_action", "unknown_type",
            "rate_limited", "since_ahead",
        }


def test_the_garden_still_answers_and_memory_levels_off(garden, http):
    def abuse(rounds: int) -> None:
        for n in range(rounds):
            body = b'{"pad":"' + b"y" * (n % 7 * 1000) + b'"'
            http.post("/webhooks/github", content=body, headers={
                "X-GitHub-Event": "push", "X-GitHub-Delivery": f"d-{n}",
                "X-Hub-Signature-256": sign(SECRET, body),
            })
            http.get(f"/api/events?since={n}&limit=1000")
            http.get(f"/no/such/{n}")
            http.post(f"/api/tasks/{n}/run", headers={"Authorization": "Bearer wrong"})

    abuse(150)  # warm-up: caches, reader connections, metrics labels
    first = rss_bytes()
    abuse(150)
    second = rss_bytes()
    abuse(150)
    third = rss_bytes()
    assert http.get("/healthz").status_code == 200
    replies, code = trio.run(_viewer_session, garden.ws, ['{"action": "ping"}'])
    assert [r["type"] for r in replies][:1] == ["snapshot"] and code is None
    # Bounded: the last 1,200 requests (after a warm-up of 600) add no more than a few MB.
    assert third - first < 8 * 2**20, (first, second, third)
