"""Visitor analytics: sessions, journeys, engagement metrics and live viewers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.engines.analytics import (
    LiveViewers,
    Visit,
    engagement_metrics,
    plant_from_path,
    referrer_host,
    sessionize,
    visitor_journey,
)

T0 = 1_800_000_000.0
MIN = 60.0

visits_strategy = st.lists(
    st.builds(
        Visit,
        visitor_id=st.sampled_from(["v1", "v2", "v3", "v4"]),
        path=st.sampled_from(["/", "/plants/a", "/plants/b", "/about", "/api/plants/c"]),
        at=st.floats(min_value=T0, max_value=T0 + 3 * 86400),
    ),
    max_size=80,
)


@given(visits_strategy)
def test_sessions_partition_the_visits(visits: list[Visit]) -> None:
    sessions = sessionize(visits)
    assert sum(len(s.paths) for s in sessions) == len(visits)
    by_visitor: dict[str, list] = {}
    for session in sessions:
        by_visitor.setdefault(session.visitor_id, []).append(session)
    for own in by_visitor.values():
        own.sort(key=lambda s: s.start)
        for earlier, later in zip(own, own[1:], strict=False):
            assert later.start - earlier.end > 30 * MIN  # a new session only after the timeout


@given(visits_strategy, st.floats(min_value=1, max_value=100))
def test_engagement_numbers_are_consistent(visits: list[Visit], hours: float) -> None:
    metrics = engagement_metrics(visits, T0 + 3 * 86400, hours)
    assert 0.0 <= metrics.bounce_rate <= 1.0
    assert metrics.visitors <= metrics.sessions <= metrics.page_views
    assert metrics.returning_visitors <= metrics.visitors
    if metrics.sessions:
        assert metrics.pages_per_session >= 1.0


def test_a_half_hour_of_silence_ends_a_session() -> None:
    visits = [
        Visit(visitor_id="v", path="/", at=T0),
        Visit(visitor_id="v", path="/plants/a", at=T0 + 10 * MIN),
        Visit(visitor_id="v", path="/plants/b", at=T0 + 40 * MIN),  # exactly 30 min: same session
        Visit(visitor_id="v", path="/", at=T0 + 71 * MIN),  # 31 min later: a new one
    ]
    sessions = sessionize(visits)
    assert [s.paths for s in sessions] == [("/", "/plants/a", "/plants/b"), ("/",)]
    assert sessions[0].entry == "/" and sessions[0].exit == "/plants/b"
    assert sessions[0].duration == 40 * MIN


def test_engagement_metrics_for_a_small_day() -> None:
    now = T0 + 86400
    visits = [
        # v1: two sessions (returning), the second one a bounce
        Visit(visitor_id="v1", path="/", at=now - 5 * 3600, referrer="news.ycombinator.com"),
        Visit(visitor_id="v1", path="/plants/greenhouse", at=now - 5 * 3600 + 120),
        Visit(visitor_id="v1", path="/about", at=now - 5 * 3600 + 300),
        Visit(visitor_id="v1", path="/", at=now - 3600),
        # v2: one bounce
        Visit(visitor_id="v2", path="/plants/greenhouse", at=now - 7200),
        # v3: seen only 2 days ago, outside the 24 h window
        Visit(visitor_id="v3", path="/", at=now - 2 * 86400),
    ]
    metrics = engagement_metrics(visits, now, hours=24)
    assert metrics.visitors == 2
    assert metrics.sessions == 3
    assert metrics.page_views == 5
    assert metrics.pages_per_session == pytest.approx(5 / 3)
    assert metrics.bounce_rate == pytest.approx(2 / 3)
    assert metrics.returning_visitors == 1
    assert metrics.average_session_seconds == pytest.approx(300 / 3)
    assert metrics.most_viewed_plants == [("greenhouse", 2)]
    assert metrics.top_entry_pages[0] == ("/", 2)
    assert metrics.most_common_paths[0][1] == 1
    assert metrics.top_referrers == [("news.ycombinator.com", 1)]


def test_visitor_journey() -> None:
    visits = [
        Visit(visitor_id="a", path="/", at=T0),
        Visit(visitor_id="a", path="/plants/x", at=T0 + 60),
        Visit(visitor_id="b", path="/", at=T0 + 30),
        Visit(visitor_id="a", path="/about", at=T0 + 7200),
    ]
    journey = visitor_journey(visits, "a")
    assert journey.total_page_views == 3
    assert [s["entry_page"] for s in journey.sessions] == ["/", "/about"]
    assert journey.sessions[0]["paths"] == ["/", "/plants/x"]
    assert journey.sessions[0]["exit_page"] == "/plants/x"
    assert (journey.first_seen, journey.last_seen) == (T0, T0 + 7200)
    assert visitor_journey(visits, "nobody").sessions == []


def test_referrers_keep_only_the_host_and_plants_come_from_paths() -> None:
    assert referrer_host("https://Example.com/search?q=my+name&email=a@b.c") == "example.com"
    assert referrer_host("not a url") is None
    assert referrer_host("http://[::1") is None
    assert referrer_host(None) is None
    assert plant_from_path("/plants/greenhouse?x=1") == "greenhouse"
    assert plant_from_path("/api/plants/greenhouse") == "greenhouse"
    assert plant_from_path("/about") is None


@given(st.lists(st.tuples(st.booleans(), st.sampled_from("abcdef"))))
def test_live_viewers_never_go_negative_or_double_count(events: list[tuple[bool, str]]) -> None:
    live = LiveViewers()
    model: set[str] = set()
    for connect, connection in events:
        changed = live.connect(connection) if connect else live.disconnect(connection)
        expected = (connection not in model) if connect else (connection in model)
        assert changed == expected
        if connect:
            model.add(connection)
        else:
            model.discard(connection)
        assert len(live) == len(model) >= 0
