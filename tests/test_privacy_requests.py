"""Data-subject requests (access, portability, erasure), consent, DNT/GPC, retention, audit."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenhouse.config import PrivacyConfig
from greenhouse.privacy import (
    PersonalDataInAudit,
    PrivacyManager,
    PrivacySignals,
    TooManyRequests,
    UnknownConsentCategory,
    UnknownRequestType,
    count_references,
    one_month_after,
    scannable_tables,
    signals_from_headers,
)
from greenhouse.store import Store

DAY = 86400.0
T0 = 1_764_115_200.0  # 2025-11-26T00:00:00Z
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def _open(tmp_path: Path, **config) -> tuple[Store, PrivacyManager]:
    store = Store(tmp_path / "garden.db")
    return store, PrivacyManager.open(store.path, PrivacyConfig(**config))


@pytest.fixture
def garden(tmp_path):
    store, manager = _open(tmp_path)
    _other_subsystems(manager.conn)
    yield store, manager
    manager.close()
    store.close()


def _other_subsystems(conn: sqlite3.Connection) -> None:
    """Tables shaped like those other parts of the garden make (analytics, cache, search)."""
    with conn:
        conn.execute("CREATE TABLE visits (id INTEGER PRIMARY KEY, visitor_id TEXT, path TEXT, "
                     "referrer TEXT, at REAL)")
        # cache_entries is the real one: the cache's migration (issue 5) makes it.
        conn.execute("CREATE TABLE viewer_sessions (session TEXT, owner TEXT, started_at TEXT)")
        conn.execute("CREATE VIRTUAL TABLE notes_fts USING fts5(body)")


def _seed(manager: PrivacyManager, visitor: str, tag: str, now: float) -> None:
    conn = manager.conn
    with conn:
        conn.execute("INSERT INTO visits(visitor_id, path, referrer, at) VALUES (?, ?, ?, ?)",
                     (visitor, f"/{tag}", None, now))
        conn.execute("INSERT INTO visits(visitor_id, path, referrer, at) VALUES (?, ?, ?, ?)",
                     (visitor, f"/{tag}/plant", "https://example.org/", now + 5))
        conn.execute("INSERT INTO cache_entries(key, value, stored_at, expires_at, size) "
                     "VALUES (?, ?, ?, ?, 0)",
                     (f"analytics:session:{visitor}", json.dumps({"n": 3}).encode(), now,
                      now + 60))
        conn.execute("INSERT INTO viewer_sessions VALUES (?, ?, ?)",
                     (f"s-{tag}", json.dumps({"visitor": visitor}), "2025-11-26T00:00:00Z"))
        conn.execute("INSERT INTO notes_fts(body) VALUES (?)", (f"seen {visitor} at the pond",))
        conn.execute(
            "INSERT INTO events(type, data, timestamp, source) VALUES (?, ?, ?, ?)",
            ("visitor_note", json.dumps({"visitor_id": visitor, "tag": tag}),
             "2025-11-26T00:00:01Z", "analytics"),
        )
    manager.record_consent(visitor, ["analytics"], now, refused=["personalization"])


def _all_rows(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    return {
        table: sorted(map(repr, conn.execute(f'SELECT * FROM "{table}"').fetchall()))
        for table in scannable_tables(conn)
    }


def test_erasure_removes_every_reference_in_every_table(garden):
    _, manager = garden
    a = manager.generate_visitor_id("192.0.2.10", UA, T0)
    b = manager.generate_visitor_id("192.0.2.11", UA, T0)
    _seed(manager, a, "alice", T0)
    _seed(manager, b, "bob", T0)
    manager.create_data_subject_request("access", a, T0 + 1)  # a request row refers to a too
    found = count_references(manager.conn, a)
    assert {"visits", "cache_entries", "viewer_sessions", "notes_fts", "events",
            "consent_records", "data_subject_requests"} <= set(found)
    untouched_before = {
        t: [r for r in rows if a not in r] for t, rows in _all_rows(manager.conn).items()
    }

    request = manager.create_data_subject_request("erasure", a, T0 + 2)

    assert request.status == "completed"
    assert request.proof is not None and request.proof["remaining"] == 0
    assert request.proof["deleted"]["visits"] == 2
    # Checked over the whole schema, not a list: no row anywhere still holds the id.
    assert count_references(manager.conn, a) == {}
    # The file itself no longer has it either (secure_delete zeroes freed pages).
    manager.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db_file = Path(manager.conn.execute("PRAGMA database_list").fetchone()[2])
    assert a.encode() not in db_file.read_bytes()
    # Other visitors' rows are exactly as they were (plus the audit entries and request row).
    after = _all_rows(manager.conn)
    for table, rows in untouched_before.items():
        if table in ("privacy_audit_log", "data_subject_requests"):
            continue
        assert after[table] == rows, table
    assert count_references(manager.conn, b)["visits"] == 2
    # The erasure request survives as a record, without the id.
    assert manager.requests.subject_of(request.id) is None
    assert manager.get_request(request.id, T0 + 3).status == "completed"


@st.composite
def _schemas(draw):
    names = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).map(lambda s: "t_" + s)
    tables = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    shape = {}
    for table in tables:
        shape[table] = draw(st.lists(
            st.text("abcdefghij", min_size=1, max_size=6).map(lambda s: "c_" + s),
            min_size=1, max_size=4, unique=True,
        ))
    rows = {}
    for table, columns in shape.items():
        rows[table] = draw(st.lists(
            st.lists(
                st.one_of(
                    st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=10),
                    st.sampled_from(["A", "B"]).flatmap(
                        lambda who: st.sampled_from(["{id}", '{{"v": "{id}"}}', "x-{id}-y"]).map(
                            lambda fmt, who=who: (who, fmt)
                        )
                    ),
                ),
                min_size=len(columns), max_size=len(columns),
            ),
            max_size=6,
        ))
    return shape, rows


@settings(max_examples=25)
@given(_schemas())
def test_erasure_over_random_schemas(schema):
    shape, rows = schema
    with tempfile.TemporaryDirectory() as tmp:
        store, manager = _open(Path(tmp))
        try:
            a = manager.generate_visitor_id("192.0.2.1", UA, T0)
            b = manager.generate_visitor_id("192.0.2.2", UA, T0)
            ids = {"A": a, "B": b}
            conn = manager.conn
            with conn:
                for table, columns in shape.items():
                    conn.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
                    for row in rows[table]:
                        values = [
                            v[1].format(id=ids[v[0]]) if isinstance(v, tuple) else v for v in row
                        ]
                        conn.execute(
                            f"INSERT INTO {table} VALUES ({', '.join('?' for _ in values)})", values
                        )
            keep = {
                t: [r for r in rows_ if a not in r] for t, rows_ in _all_rows(conn).items()
                if t in shape
            }
            manager.create_data_subject_request("erasure", a, T0 + 1)
            assert count_references(conn, a) == {}
            after = _all_rows(conn)
            for table in shape:
                assert after[table] == keep[table]
        finally:
            manager.close()
            store.close()


def _parse_csv(text: str) -> dict[str, list[dict[str, str]]]:
    data: dict[str, dict[int, dict[str, str]]] = {}
    reader = csv.DictReader(io.StringIO(text))
    for line in reader:
        data.setdefault(line["table"], {}).setdefault(int(line["row"]), {})[line["column"]] = (
            line["value"]
        )
    return {t: [rows[i] for i in sorted(rows)] for t, rows in data.items()}


def test_access_and_portability_exports_hold_exactly_that_visitor(garden):
    _, manager = garden
    a = manager.generate_visitor_id("2001:db8::a", UA, T0)
    b = manager.generate_visitor_id("2001:db8::b", UA, T0)
    _seed(manager, a, "alice", T0)
    _seed(manager, b, "bob", T0)

    access = manager.create_data_subject_request("access", a, T0 + 1)
    exported_json, exported_csv = manager.requests.exports(access.id)
    assert access.status == "completed" and exported_csv is None
    document = json.loads(exported_json)
    assert document["visitor_id"] == a
    data = document["data"]
    # Exactly alice's rows: the same rows a direct query for her finds, nothing of bob's.
    assert sorted(r["path"] for r in data["visits"]) == ["/alice", "/alice/plant"]
    assert [r["key"] for r in data["cache_entries"]] == [f"analytics:session:{a}"]
    assert json.loads(data["viewer_sessions"][0]["owner"]) == {"visitor": a}
    assert data["notes_fts"] == [{"body": f"seen {a} at the pond"}]
    assert json.loads(data["events"][0]["data"]) == {"visitor_id": a, "tag": "alice"}
    assert {(r["category"], r["granted"]) for r in data["consent_records"]} == {
        ("analytics", 1), ("personalization", 0),
    }
    assert set(data) == {"visits", "cache_entries", "viewer_sessions", "notes_fts", "events",
                         "consent_records", "data_subject_requests"}
    assert b not in exported_json and "bob" not in exported_json
    assert "privacy_audit_log" not in data and "privacy_salts" not in data

    portability = manager.create_data_subject_request("portability", a, T0 + 2)
    port_json, port_csv = manager.requests.exports(portability.id)
    port_data = json.loads(port_json)["data"]
    assert b not in port_json and b not in port_csv
    # The earlier export is not copied into the new one (only the request's bookkeeping).
    assert "export_json" not in port_data["data_subject_requests"][0]
    # The CSV carries the same values as the JSON, cell for cell.
    parsed = _parse_csv(port_csv)
    assert set(parsed) == set(port_data)
    for table, table_rows in port_data.items():
        assert len(parsed[table]) == len(table_rows)
        for from_csv, from_json in zip(parsed[table], table_rows, strict=True):
            for column, value in from_json.items():
                expected = "" if value is None else (
                    msgspec.json.encode(value).decode() if isinstance(value, dict) else str(value)
                )
                assert from_csv[column] == expected


def test_request_types_and_deadline(garden):
    _, manager = garden
    with pytest.raises(UnknownRequestType):
        manager.create_data_subject_request("rectify-everything", "0" * 32, T0)
    request = manager.create_data_subject_request("access", "0" * 32, T0)
    assert request.deadline_at == T0 + 30 * DAY  # 26 Nov -> 26 Dec
    assert not request.overdue
    # One calendar month, clamped to the month's end (31 Jan -> 28 Feb).
    assert one_month_after(1_769_817_600.0) == 1_772_236_800.0  # 2026-01-31 -> 2026-02-28
    assert manager.get_request("nope", T0) is None


def test_requests_are_limited_per_id_and_per_hour(garden):
    _, manager = garden
    v = "a" * 32
    for _ in range(10):
        manager.create_data_subject_request("access", v, T0)
    with pytest.raises(TooManyRequests) as caught:
        manager.create_data_subject_request("access", v, T0 + 60)
    assert 86000 < caught.value.retry_after <= 86400
    # Another visitor, the admin, and the next day are not held back.
    manager.create_data_subject_request("access", "b" * 32, T0 + 60)
    manager.create_data_subject_request("access", v, T0 + 60, limited=False)
    manager.create_data_subject_request("access", v, T0 + DAY + 1)
    # Everyone together: at most 120 an hour.
    for n in range(119):  # plus the one above at T0 + DAY + 1
        manager.create_data_subject_request("access", f"{n:032x}", T0 + DAY + 2)
    with pytest.raises(TooManyRequests):
        manager.create_data_subject_request("access", "c" * 32, T0 + DAY + 3)


def test_failed_request_is_overdue_and_retried(garden):
    _, manager = garden
    with manager.conn:
        manager.conn.execute(
            "INSERT INTO data_subject_requests(id, type, visitor_id, status, received_at, "
            "deadline_at) VALUES ('r1', 'access', ?, 'failed', ?, ?)",
            ("f" * 32, T0, one_month_after(T0)),
        )
    assert manager.get_request("r1", T0 + 40 * DAY).overdue
    summary = manager.get_privacy_dashboard_data(T0 + 40 * DAY)["requests"]
    assert summary["overdue"] == 1
    manager.data_cleanup(T0 + 40 * DAY)
    assert manager.get_request("r1", T0 + 40 * DAY).status == "completed"


def test_consent_withdrawal_stops_analytics(garden):
    _, manager = garden
    v = manager.generate_visitor_id("192.0.2.50", UA, T0)
    none = PrivacySignals()
    assert manager.analytics_refusal(v, none, T0) is None  # cookieless default
    state = manager.record_consent(v, ["analytics", "personalization"], T0)
    assert state["analytics"].granted and state["personalization"].granted
    assert manager.analytics_refusal(v, none, T0 + 1) is None
    state = manager.withdraw_consent(v, T0 + 2, ["analytics"])
    assert not state["analytics"].granted and state["personalization"].granted
    assert manager.analytics_refusal(v, none, T0 + 3) == "withdrawn"
    # The history keeps the grant, marked withdrawn.
    rows = manager.conn.execute(
        "SELECT granted, withdrawn_at FROM consent_records WHERE visitor_id = ? "
        "AND category = 'analytics' ORDER BY id", (v,),
    ).fetchall()
    assert rows == [(1, T0 + 2), (0, None)]
    with pytest.raises(UnknownConsentCategory):
        manager.record_consent(v, ["tracking-everything"], T0)


def test_dnt_and_gpc_are_honoured(garden):
    _, manager = garden
    v = manager.generate_visitor_id("192.0.2.51", UA, T0)
    manager.record_consent(v, ["analytics"], T0)  # even an explicit grant does not beat them
    assert manager.analytics_refusal(v, signals_from_headers({"DNT": "1"}), T0) == "dnt"
    assert manager.analytics_refusal(v, signals_from_headers({"sec-gpc": "1"}), T0) == "gpc"
    assert manager.analytics_refusal(v, signals_from_headers({"DNT": "0"}), T0) is None


def test_require_consent_mode_and_policy_version(tmp_path):
    store, manager = _open(tmp_path, require_consent=True, policy_version="2")
    v = manager.generate_visitor_id("192.0.2.52", UA, T0)
    assert manager.analytics_refusal(v, PrivacySignals(), T0) == "no_consent"
    manager.record_consent(v, ["analytics"], T0, policy_version="1")  # an old policy
    assert manager.analytics_refusal(v, PrivacySignals(), T0) == "no_consent"
    manager.record_consent(v, ["analytics"], T0 + 1)
    assert manager.analytics_refusal(v, PrivacySignals(), T0 + 1) is None
    manager.close()
    store.close()
    store, manager = _open(tmp_path, analytics_enabled=False)
    assert manager.analytics_refusal(v, PrivacySignals(), T0) == "disabled"
    manager.close()
    store.close()


def test_audit_log_holds_no_personal_data(garden):
    _, manager = garden
    a = manager.generate_visitor_id("192.0.2.60", UA, T0)
    _seed(manager, a, "alice", T0)
    manager.create_data_subject_request("portability", a, T0)
    manager.create_data_subject_request("erasure", a, T0)
    manager.data_cleanup(T0 + DAY)
    entries = manager.audit.entries()
    assert {e["action"] for e in entries} >= {
        "consent_recorded", "request_received", "export_completed", "erasure_completed",
        "data_cleanup",
    }
    text = json.dumps(entries)
    assert a not in text and "192.0.2.60" not in text and "Firefox" not in text
    with pytest.raises(PersonalDataInAudit):
        manager.audit.write("oops", T0, visitor=a)
    with pytest.raises(PersonalDataInAudit):
        manager.audit.write("oops", T0, address="2001:db8::1")


def test_retention_per_data_type(tmp_path):
    store, manager = _open(tmp_path, retention_visits_days=30, retention_events_days=365,
                           retention_consent_days=30, retention_audit_days=365)
    _other_subsystems(manager.conn)
    conn = manager.conn
    now = T0 + 400 * DAY
    old_v, new_v = "a" * 32, "b" * 32
    with conn:
        conn.execute("INSERT INTO visits(visitor_id, path, at) VALUES (?, '/', ?)",
                     (old_v, now - 31 * DAY))
        conn.execute("INSERT INTO visits(visitor_id, path, at) VALUES (?, '/', ?)",
                     (new_v, now - 29 * DAY))
        conn.execute("INSERT INTO events(type, data, timestamp, source) VALUES "
                     "('x', '{}', '2025-11-26T00:00:00Z', 's'), "
                     "('x', '{}', '2026-12-30T00:00:00Z', 's')")
        # task_runs is the scheduler's table (greenhouse/task_runs.py), created by migration.
        conn.execute("INSERT INTO task_runs(id, task, trigger, status, started_at, finished_at,"
                     " duration, attempts) VALUES ('a', 'a', 'schedule', 'succeeded', ?, ?, 0, 1),"
                     " ('b', 'b', 'schedule', 'succeeded', ?, ?, 0, 1)",
                     (now - 15 * DAY, now - 15 * DAY, now - DAY, now - DAY))
        conn.execute("INSERT INTO growth_history(repository, at, score, stage) VALUES "
                     "('old', ?, 0.1, 'seed'), ('new', ?, 0.2, 'seed')",
                     (now - 366 * DAY, now - DAY))
        conn.execute("CREATE TABLE loose (visitor_id TEXT)")  # no time column: left alone
        conn.execute("INSERT INTO loose VALUES ('c')")
    manager.record_consent(old_v, ["analytics"], now - 31 * DAY)
    manager.record_consent(new_v, ["analytics"], now - DAY)
    open_request = manager.requests  # an open request is never deleted by retention
    with conn:
        conn.execute(
            "INSERT INTO data_subject_requests(id, type, visitor_id, status, received_at, "
            "deadline_at) VALUES ('open', 'access', NULL, 'received', ?, ?)",
            (now - 200 * DAY, now - 170 * DAY),
        )
    report = manager.data_cleanup(now)
    assert report["deleted"]["visits"]["visits"] == 1
    assert report["deleted"]["visits"]["loose"] == -1  # no time column: not guessed at
    assert report["deleted"]["visits"]["analytics_visits"] == 0  # found from the schema
    assert report["deleted"]["events"] == {"events": 1}
    assert report["deleted"]["task_runs"] == {"task_runs": 1}
    assert report["deleted"]["consent"] == {"consent_records": 1}
    # Other parts' histories are found by name (growth_history, track_plays, ...).
    assert {"growth_history", "mood_history", "track_plays", "weather_readings"} <= set(
        report["deleted"]["history"]
    )
    assert report["deleted"]["history"]["growth_history"] == 1
    assert [r[0] for r in conn.execute("SELECT repository FROM growth_history")] == ["new"]
    assert [r[0] for r in conn.execute("SELECT visitor_id FROM visits")] == [new_v]
    assert [r[0] for r in conn.execute("SELECT task FROM task_runs")] == ["b"]
    assert open_request.get("open", now).status == "received"
    dashboard = manager.get_privacy_dashboard_data(now)
    assert dashboard["retention_days"]["visits"] == 30
    assert dashboard["last_cleanup"]["detail"]["deleted"]["events"] == {"events": 1}
    manager.close()
    store.close()


def test_dashboard_has_no_personal_data(garden):
    _, manager = garden
    a = manager.generate_visitor_id("192.0.2.70", UA, T0)
    _seed(manager, a, "alice", T0)
    manager.create_data_subject_request("access", a, T0)
    data = manager.get_privacy_dashboard_data(T0)
    text = json.dumps(data)
    assert a not in text
    assert data["consent"]["current"]["analytics"] == {"granted": 1, "refused": 0}
    assert data["requests"]["by_type"] == {"access": {"completed": 1}}
    assert data["visitor_ids"]["salt_days"] == ["2025-11-26"]
    assert data["secrets_at_rest"]["encrypted"] is False
