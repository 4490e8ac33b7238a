"""The whole garden against a hostile world: every fault of the plan, one drill each.

Each drill runs the real tree in virtual time: 1 h calm, 2 h 7 min of one fault on every
service's host, 2.5 h calm (see `actors.fault_drill`). About a second of wall time each.
"""

from __future__ import annotations

import logging

import pytest

from actors.fault_drill import CLOCK_JUMPS, DrillReport, run_drill
from greenhouse.simulation.faults import Fault

# Each poller's interval in the drills: a service must be back by its first poll after the API
# recovers (plus its retry backoff), not after some extra penalty.
POLL_INTERVAL = {"spotify": 240, "weather": 900, "wakatime": 1800, "github": 1800, "social": 3600}
# Faults that spoil only some answers (a truncated 304 is still a good 304).
PARTIAL = {Fault.TRUNCATED_JSON.value}


@pytest.fixture(scope="module")
def control(tmp_path_factory) -> DrillReport:
    logging.disable(logging.WARNING)
    try:
        return run_drill(None, tmp_path_factory.mktemp("control") / "g.db")
    finally:
        logging.disable(logging.NOTSET)


def test_the_control_run_lives_and_loses_nothing(control):
    assert control.went_down == [] and control.restarts == 0 and not control.escalated
    assert control.commits_seen > 0  # there is something to lose
    assert control.events_lost == 0
    assert control.events_published == control.events_stored > 0


@pytest.mark.parametrize("fault", [f.value for f in Fault] + list(CLOCK_JUMPS))
def test_the_garden_survives_and_recovers(fault, control, tmp_path):
    logging.disable(logging.WARNING)
    try:
        expected = None if fault in CLOCK_JUMPS else control.commits_seen
        report = run_drill(fault, tmp_path / "g.db", expected_commits=expected)
    finally:
        logging.disable(logging.NOTSET)
    assert report.injected > 0
    # The runtime kept running: no escalation, no actor restarts at all.
    assert not report.escalated
    assert report.restarts == 0, report.restarted_actors
    # The faults mattered, and every service that went down came back once its API did.
    assert report.went_down if fault not in PARTIAL else True
    assert report.unavailable_at_end == []
    assert report.recoveries >= len(report.went_down)
    for service, seconds in report.time_to_recover.items():
        assert seconds <= POLL_INTERVAL[service] + 120, (service, seconds)
    # No request after a Retry-After or an exhausted GitHub limit.
    assert report.limit_violations == 0
    # Every published event stored; every commit of the world recorded exactly once.
    assert report.events_lost == 0
    assert report.events_published == report.events_stored
    if expected is not None:
        assert report.commits_seen == expected
