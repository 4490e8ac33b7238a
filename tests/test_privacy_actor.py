"""The privacy actor in the supervision tree: visits, consent, requests, cleanup, rotation."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing

from actors.tree import build_garden
from greenhouse.config import ConfigError, settings_from_mapping
from greenhouse.messages import (
    ConsentSubmitted,
    DataSubjectRequestLookup,
    DataSubjectRequestSubmitted,
    PrivacyDashboardRequest,
    RunTask,
    SecretGet,
    SecretPut,
    TaskFinished,
    VisitorDataErased,
    VisitReceived,
    VisitRecorded,
)
from greenhouse.runtime import Clock, ask

DAY = 86400.0
T0 = 1_764_115_200.0 + 3600  # 2025-11-26T01:00:00Z
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def _garden(tmp_path, env=None):
    settings = settings_from_mapping({
        "GREENHOUSE_DB": str(tmp_path / "g.db"),
        "GREENHOUSE_HTTP_PORT": "0",
        "GREENHOUSE_WS_PORT": "0",
        **(env or {}),
    })
    garden = build_garden(settings, clock=Clock(start_epoch=T0))
    visits = garden.bus.subscribe("test-analytics", (VisitRecorded, VisitorDataErased), 1024)
    return garden, visits


async def _start(nursery, garden):
    nursery.start_soon(garden.root.run)
    # The actor is ready once it answers.
    await ask(garden.mailbox("privacy"), PrivacyDashboardRequest(), timeout=10)


def _drain(box):
    out = []
    while True:
        try:
            out.append(box.get_nowait())
        except trio.WouldBlock:
            return out


async def test_visits_are_forwarded_with_a_derived_id_only(tmp_path):
    garden, analytics = _garden(tmp_path)
    privacy = garden.mailbox("privacy")
    async with trio.open_nursery() as nursery:
        await _start(nursery, garden)
        outcome = await ask(privacy, VisitReceived(
            ip="203.0.113.9", user_agent=UA, path="/garden?x=1",
            referrer="https://news.example/item?id=42&utm=y",
        ))
        assert outcome.recorded and outcome.reason is None
        again = await ask(privacy, VisitReceived(ip="203.0.113.9", user_agent=UA, path="/"))
        assert again.recorded
        dnt = await ask(privacy, VisitReceived(ip="203.0.113.9", user_agent=UA, dnt=True))
        gpc = await ask(privacy, VisitReceived(ip="198.51.100.1", user_agent=UA, gpc=True))
        assert (dnt.recorded, dnt.reason, gpc.recorded, gpc.reason) == (False, "dnt", False, "gpc")
        nursery.cancel_scope.cancel()
    recorded = _drain(analytics)
    assert len(recorded) == 2  # DNT and GPC visits never reach analytics
    first, second = recorded
    assert first.visitor_id == second.visitor_id and len(first.visitor_id) == 32
    assert first.path == "/garden" and first.referrer == "https://news.example/item"
    assert "203.0.113.9" not in repr(recorded)


async def test_consent_withdrawal_stops_forwarding(tmp_path):
    garden, analytics = _garden(tmp_path)
    privacy = garden.mailbox("privacy")
    async with trio.open_nursery() as nursery:
        await _start(nursery, garden)
        state = await ask(privacy, ConsentSubmitted(
            ip="192.0.2.5", user_agent=UA, granted=("analytics", "personalization"),
        ))
        assert state.categories == {"analytics": True, "personalization": True}
        assert (await ask(privacy, VisitReceived(ip="192.0.2.5", user_agent=UA))).recorded
        state = await ask(privacy, ConsentSubmitted(ip="192.0.2.5", user_agent=UA, withdraw=True))
        assert state.categories == {"analytics": False, "personalization": False}
        outcome = await ask(privacy, VisitReceived(ip="192.0.2.5", user_agent=UA))
        assert (outcome.recorded, outcome.reason) == (False, "withdrawn")
        # Someone else is still counted.
        assert (await ask(privacy, VisitReceived(ip="192.0.2.6", user_agent=UA))).recorded
        nursery.cancel_scope.cancel()
    assert len(_drain(analytics)) == 2


async def test_requests_are_for_the_requester_only(tmp_path):
    garden, analytics = _garden(tmp_path)
    privacy = garden.mailbox("privacy")
    alice = {"ip": "2001:db8::1", "user_agent": UA}
    async with trio.open_nursery() as nursery:
        await _start(nursery, garden)
        await ask(privacy, ConsentSubmitted(**alice, granted=("analytics",)))
        request = await ask(privacy, DataSubjectRequestSubmitted(**alice, type="portability"))
        assert request.status == "completed"
        mine = await ask(privacy, DataSubjectRequestLookup(**alice, request_id=request.id))
        assert json.loads(mine.export_json)["data"]["consent_records"][0]["category"] == (
            "analytics"
        )
        assert mine.export_csv.startswith("table,row,column,value")
        other = await ask(privacy, DataSubjectRequestLookup(
            ip="2001:db8::2", user_agent=UA, request_id=request.id,
        ))
        assert other.request.status == "completed" and other.export_json is None
        admin = await ask(privacy, DataSubjectRequestLookup(
            ip="2001:db8::2", user_agent=UA, request_id=request.id, admin=True,
        ))
        assert admin.export_json == mine.export_json
        # An admin may act for a given id; a visitor's `visitor_id` field is ignored.
        ignored = await ask(privacy, DataSubjectRequestSubmitted(
            ip="2001:db8::3", user_agent=UA, type="erasure", visitor_id="f" * 32,
        ))
        erased = await ask(privacy, DataSubjectRequestSubmitted(**alice, type="erasure"))
        assert erased.status == "completed" and erased.proof["deleted"]["consent_records"] == 1
        assert await ask(privacy, DataSubjectRequestLookup(request_id="missing", **alice)) is None
        nursery.cancel_scope.cancel()
    erasures = [m for m in _drain(analytics) if isinstance(m, VisitorDataErased)]
    assert len(erasures) == 2 and "f" * 32 not in {m.visitor_id for m in erasures}
    assert ignored.status == "completed"


async def test_an_export_holds_the_visit_recorded_a_moment_before(tmp_path):
    # Background rows wait up to a second in the persistence actor; the request waits for them.
    garden, _ = _garden(tmp_path, {"GREENHOUSE_FLUSH_INTERVAL": "5"})
    privacy = garden.mailbox("privacy")
    who = {"ip": "192.0.2.77", "user_agent": UA}
    async with trio.open_nursery() as nursery:
        await _start(nursery, garden)
        assert (await ask(privacy, VisitReceived(**who, path="/just-now"))).recorded
        request = await ask(privacy, DataSubjectRequestSubmitted(**who, type="access"))
        found = await ask(privacy, DataSubjectRequestLookup(**who, request_id=request.id))
        nursery.cancel_scope.cancel()
    visits = json.loads(found.export_json)["data"]["analytics_visits"]
    assert [v["path"] for v in visits] == ["/just-now"]


async def test_data_cleanup_task_and_secrets(tmp_path):
    garden, _ = _garden(tmp_path)
    privacy = garden.mailbox("privacy")
    async with trio.open_nursery() as nursery:
        await _start(nursery, garden)
        finished = await ask(privacy, RunTask(task_id="data_cleanup", execution_id="e1"))
        assert isinstance(finished, TaskFinished) and finished.ok
        assert finished.execution_id == "e1"
        assert await ask(privacy, RunTask(task_id="mood_synthesis", execution_id="e2")) is None
        assert await ask(privacy, SecretPut(name="spotify.refresh_token", value="tok")) is False
        assert (await ask(privacy, SecretGet(name="spotify.refresh_token"))).get() == "tok"
        dashboard = await ask(privacy, PrivacyDashboardRequest())
        assert dashboard["last_cleanup"] is not None
        nursery.cancel_scope.cancel()


async def test_salt_rotates_at_midnight_without_visits(tmp_path, mock_clock):
    garden, _ = _garden(tmp_path)
    privacy = garden.mailbox("privacy")
    async with trio.open_nursery() as nursery:
        await _start(nursery, garden)
        before = await ask(privacy, PrivacyDashboardRequest())
        assert before["visitor_ids"]["salt_days"] == ["2025-11-26"]
        for day in range(1, 3):
            mock_clock.jump(DAY)
            await trio.testing.wait_all_tasks_blocked()
            after = await ask(privacy, PrivacyDashboardRequest())
            assert after["visitor_ids"]["salt_days"] == [f"2025-11-{26 + day}"]
        nursery.cancel_scope.cancel()


def test_malformed_secret_key_stops_start_up(tmp_path):
    settings = settings_from_mapping({
        "GREENHOUSE_DB": str(tmp_path / "g.db"), "GREENHOUSE_SECRET_KEY": "nope",
    })
    with pytest.raises(ConfigError, match="GREENHOUSE_SECRET_KEY"):
        build_garden(settings)


def test_malformed_trusted_proxies_stop_start_up(tmp_path):
    settings = settings_from_mapping({
        "GREENHOUSE_DB": str(tmp_path / "g.db"), "GREENHOUSE_TRUSTED_PROXIES": "127.0.0.1,caddy",
    })
    with pytest.raises(ConfigError, match="GREENHOUSE_TRUSTED_PROXIES: 'caddy'"):
        build_garden(settings)


def test_raw_fields_are_hidden_from_repr():
    visit = VisitReceived(ip="203.0.113.9", user_agent=UA, path="/p")
    assert "203.0.113.9" not in repr(visit) and "Firefox" not in str(visit)
    assert "path='/p'" in repr(visit)
