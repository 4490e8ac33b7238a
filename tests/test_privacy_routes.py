"""The privacy endpoints over real HTTP (hypercorn on an ephemeral port, the whole tree)."""

from __future__ import annotations

import csv
import io
import logging
import random
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import trio

from actors.tree import build_garden, run_garden
from greenhouse.config import settings_from_mapping

ADMIN = "privacy-admin-token-0123456789"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


@asynccontextmanager
async def running(db: Path, **env: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_from_mapping({
        "GREENHOUSE_DB": str(db),
        "GREENHOUSE_HTTP_PORT": "0",
        "GREENHOUSE_WS_PORT": "0",
        "ENABLE_REAL_TIME_EVENTS": "false",
        "GREENHOUSE_ADMIN_TOKEN": ADMIN,
        "GREENHOUSE_FLUSH_INTERVAL": "0.01",
        **env,
    })
    garden = build_garden(settings)
    async with trio.open_nursery() as nursery:
        await nursery.start(run_garden, garden)
        with trio.fail_after(10):
            url = await garden.extras["addresses"].wait("http")
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield client
        nursery.cancel_scope.cancel()


def _visitor_ids(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT visitor_id FROM analytics_visits ORDER BY id")]
    finally:
        conn.close()


async def _wait_visits(db: Path, count: int) -> list[str]:
    with trio.fail_after(10):
        while len(ids := _visitor_ids(db)) < count:  # noqa: ASYNC110 (written by a thread)
            await trio.sleep(0.02)
    return ids


def _as(ip: str, agent: str = UA, **headers: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip, "User-Agent": agent, **headers}


async def test_visit_beacon_derives_ids_and_honours_signals(tmp_path):
    db = tmp_path / "g.db"
    async with running(db) as http:
        ok = await http.post("/api/visits", json={"path": "/garden?t=1",
                                                  "referrer": "https://a.example/x?q=1"},
                             headers=_as("203.0.113.10"))
        assert ok.status_code == 202 and ok.json() == {"recorded": True, "reason": None}
        other = await http.post("/api/visits", json={"path": "/"}, headers=_as("203.0.113.11"))
        assert other.json()["recorded"]
        dnt = await http.post("/api/visits", json={}, headers=_as("203.0.113.12", DNT="1"))
        gpc = await http.post("/api/visits", json={}, headers=_as("203.0.113.13", **{"Sec-GPC": "1"}))
        assert dnt.json() == {"recorded": False, "reason": "dnt"}
        assert gpc.json() == {"recorded": False, "reason": "gpc"}
        ids = await _wait_visits(db, 2)
    # The test client connects from loopback, a trusted proxy by default: X-Forwarded-For
    # tells the visitors apart.
    assert len(set(ids)) == 2
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT path FROM analytics_visits ORDER BY id").fetchall()[0] == (
        "/garden",
    )
    conn.close()


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(tmp_path):
    db = tmp_path / "g.db"
    # No trusted proxies: the socket peer (127.0.0.1) is the client whatever the header says.
    async with running(db, GREENHOUSE_TRUSTED_PROXIES="10.9.9.9") as http:
        for ip in ("203.0.113.10", "203.0.113.11"):
            response = await http.post("/api/visits", json={}, headers=_as(ip))
            assert response.json()["recorded"]
        ids = await _wait_visits(db, 2)
    assert len(set(ids)) == 1


async def test_consent_and_requests_over_http(tmp_path):
    db = tmp_path / "g.db"
    alice, bob = _as("198.51.100.20"), _as("198.51.100.21")
    async with running(db) as http:
        consent = await http.post("/api/privacy/consent",
                                  json={"granted": ["analytics", "personalization"]},
                                  headers=alice)
        assert consent.status_code == 200
        assert consent.json()["categories"] == {"analytics": True, "personalization": True}
        for page in ("/a", "/b"):
            await http.post("/api/visits", json={"path": page}, headers=alice)
        await http.post("/api/visits", json={"path": "/bob"}, headers=bob)
        await _wait_visits(db, 3)

        created = await http.post("/api/privacy/requests", json={"type": "portability"},
                                  headers=alice)
        assert created.status_code == 201
        request = created.json()
        assert request["status"] == "completed" and request["type"] == "portability"
        assert request["deadline_at"] - request["received_at"] >= 28 * 86400
        mine = await http.get(request["links"]["self"], headers=alice)
        export = mine.json()["export"]
        assert sorted(r["path"] for r in export["data"]["analytics_visits"]) == ["/a", "/b"]
        rows = list(csv.DictReader(io.StringIO(
            (await http.get(request["links"]["self"] + "?format=csv", headers=alice)).text
        )))
        assert {r["value"] for r in rows if r["column"] == "path"} >= {"/a", "/b"}
        assert "/bob" not in {r["value"] for r in rows}
        # Someone else sees the status, not the data.
        theirs = await http.get(request["links"]["self"], headers=bob)
        assert theirs.status_code == 200 and "export" not in theirs.json()
        denied = await http.get(request["links"]["self"] + "?format=csv", headers=bob)
        assert denied.status_code == 403
        admin = await http.get(request["links"]["self"],
                               headers={**bob, "Authorization": f"Bearer {ADMIN}"})
        assert admin.json()["export"] == export
        # A visitor cannot name another id.
        forbidden = await http.post("/api/privacy/requests",
                                    json={"type": "erasure", "visitor_id": "0" * 32},
                                    headers=bob)
        assert forbidden.status_code == 403

        erased = await http.post("/api/privacy/requests", json={"type": "erasure"}, headers=alice)
        assert erased.status_code == 201
        assert erased.json()["proof"]["remaining"] == 0
        assert erased.json()["proof"]["deleted"]["analytics_visits"] == 2
        dashboard = await http.get("/api/privacy/dashboard",
                                   headers={"Authorization": f"Bearer {ADMIN}"})
        assert dashboard.json()["requests"]["by_type"]["erasure"] == {"completed": 1}
    conn = sqlite3.connect(db)
    assert [r[0] for r in conn.execute("SELECT path FROM analytics_visits")] == ["/bob"]
    conn.close()


async def test_bad_input_gets_clear_errors(tmp_path):
    async with running(tmp_path / "g.db") as http:
        cases = [
            (await http.post("/api/visits", content=b"{not json", headers=_as("192.0.2.1")),
             400),
            (await http.post("/api/visits", json={"path": 5}, headers=_as("192.0.2.1")), 400),
            (await http.post("/api/privacy/consent", json={"granted": ["everything"]},
                             headers=_as("192.0.2.1")), 400),
            (await http.post("/api/privacy/consent", json={"grant": ["analytics"]},
                             headers=_as("192.0.2.1")), 400),
            (await http.post("/api/privacy/requests", json={"type": "delete-the-internet"},
                             headers=_as("192.0.2.1")), 400),
            (await http.post("/api/privacy/consent", content=b" " * 4097,
                             headers=_as("192.0.2.1")), 413),
            (await http.post("/api/visits", content=b"x" * 5000, headers=_as("192.0.2.1")), 413),
            (await http.get("/api/privacy/requests/nope"), 404),
            (await http.get("/api/privacy/requests/nope?format=xml"), 400),
            (await http.get("/api/privacy/dashboard"), 401),
        ]
        for response, status in cases:
            assert response.status_code == status, response.text
            assert set(response.json()) == {"error", "detail"}
        # Requests are limited per visitor (each one scans the whole database).
        for _ in range(10):
            ok = await http.post("/api/privacy/requests", json={"type": "access"},
                                 headers=_as("192.0.2.2"))
            assert ok.status_code == 201
        limited = await http.post("/api/privacy/requests", json={"type": "access"},
                                  headers=_as("192.0.2.2"))
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert set(limited.json()) == {"error", "detail"}
        # The garden still works afterwards.
        assert (await http.post("/api/visits", json={}, headers=_as("192.0.2.1"))).status_code == 202


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + (record.exc_text or ""))


async def test_no_raw_address_or_agent_through_http(tmp_path):
    rng = random.Random(9)
    clients = []
    for index in range(40):
        if index % 2:
            ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        else:
            ip = ":".join(f"{rng.randint(1, 0xFFFF):x}" for _ in range(8))
        clients.append((ip, f"Mozilla/5.0 (X11; Linux x86_64) Gecko Firefox/{index}.0 t{rng.random()}"))
    capture = _Capture()
    root, greenhouse = logging.getLogger(), logging.getLogger("greenhouse")
    old = root.level, greenhouse.level, greenhouse.propagate
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    greenhouse.setLevel(logging.DEBUG)
    greenhouse.propagate = True
    db = tmp_path / "g.db"
    try:
        async with running(db) as http:
            for ip, agent in clients:
                await http.post("/api/visits", json={"path": "/"}, headers=_as(ip, agent))
                await http.post("/api/visits", json={"path": "/x"},
                                headers={"User-Agent": agent, "X-Forwarded-For": f"{ip}, junk"})
            await http.post("/api/privacy/consent", json={"granted": ["analytics"]},
                            headers=_as(*clients[0]))
            await http.post("/api/privacy/requests", json={"type": "portability"},
                            headers=_as(*clients[1]))
            await _wait_visits(db, 40)
    finally:
        root.removeHandler(capture)
        root.setLevel(old[0])
        greenhouse.setLevel(old[1])
        greenhouse.propagate = old[2]
    text = b"".join(p.read_bytes() for p in tmp_path.iterdir()).decode("latin-1")
    logs = "\n".join(capture.lines)
    conn = sqlite3.connect(db)
    dump = "\n".join(conn.iterdump())
    conn.close()
    for ip, agent in clients:
        for haystack in (text, logs, dump):
            assert ip not in haystack and agent not in haystack


async def test_scheduler_runs_data_cleanup_on_the_privacy_actor(tmp_path):
    db = tmp_path / "g.db"
    auth = {"Authorization": f"Bearer {ADMIN}"}
    async with running(db) as http:
        started = await http.post("/api/tasks/data_cleanup/run", headers=auth)
        assert started.status_code == 202, started.text
        with trio.fail_after(10):
            while True:
                dashboard = (await http.get("/api/privacy/dashboard", headers=auth)).json()
                if dashboard["last_cleanup"] is not None:
                    break
                await trio.sleep(0.05)
    assert dashboard["audit_last_30_days"]["data_cleanup"] == 1
    assert "visits" in dashboard["last_cleanup"]["detail"]["deleted"]
