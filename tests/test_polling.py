"""`PollerActor`, the base of every service poller: cadence, timeouts, availability, RunTask."""

from __future__ import annotations

import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from actors.spotify import SpotifyPoller
from greenhouse.messages import MusicChanged, RunTask, ServiceStatusChanged, TrackChanged
from greenhouse.models import MusicMood
from greenhouse.polling import PollerActor
from greenhouse.runtime import Bus, Clock
from greenhouse.services.base import APIResponse


class ScriptedPoller(PollerActor):
    """Each poll takes `delay` seconds and returns the next scripted outcome."""

    service_name = "scripted"
    task_id = "scripted_sync"

    def __init__(self, bus: Bus, outcomes: list[str | None], delay: float = 0.0, **kw) -> None:
        super().__init__("scripted", None, bus, Clock(start_epoch=0.0), **kw)
        self.outcomes = outcomes
        self.delay = delay
        self.started_at: list[float] = []

    async def poll(self) -> str | None:
        self.started_at.append(trio.current_time())
        await trio.sleep(self.delay)
        return self.outcomes.pop(0) if self.outcomes else None


async def test_cadence_is_fixed_even_when_a_sync_is_slow(autojump_clock) -> None:
    poller = ScriptedPoller(Bus(), [], delay=7.0, interval=30.0)
    with trio.move_on_after(100):
        await poller.run()
    starts = [round(t - poller.started_at[0]) for t in poller.started_at]
    assert starts == [0, 30, 60, 90]


async def test_a_hung_poll_times_out_and_marks_the_service_unavailable(autojump_clock) -> None:
    bus = Bus()
    seen = bus.subscribe("seen", (ServiceStatusChanged,), capacity=100)
    poller = ScriptedPoller(bus, [], delay=10_000.0, interval=None, sync_timeout=20.0)
    error = await poller.sync()
    assert error == "sync timed out after 20s" and poller.available is False
    status = seen.get_nowait()
    assert (
        status.service == "scripted" and not status.available and status.source == "scripted_sync"
    )


async def test_availability_is_announced_on_transitions_only(autojump_clock) -> None:
    bus = Bus()
    seen = bus.subscribe("seen", (ServiceStatusChanged,), capacity=100)
    poller = ScriptedPoller(bus, [None, "down", "down", "down", None, None, "down"], interval=None)
    for _ in range(7):
        await poller.sync()
    announced = []
    while len(seen):
        announced.append(seen.get_nowait().available)
    assert announced == [False, True, False]  # the first success is not news
    assert poller.failures == 4 and poller.polls == 7


async def test_runtask_for_another_task_is_ignored(autojump_clock) -> None:
    poller = ScriptedPoller(Bus(), ["boom"], interval=None)
    assert await poller.handle(RunTask(task_id="other", execution_id="1")) is None
    assert poller.polls == 0
    reply = await poller.handle(RunTask(task_id="scripted_sync", execution_id="2"))
    assert not reply.ok and reply.error == "boom" and reply.execution_id == "2"


class FixedMoods:
    """A stand-in for `SpotifyService`: answers moods from a list."""

    def __init__(self, moods: list[MusicMood]) -> None:
        self.moods = moods

    async def analyze_current_mood(self) -> APIResponse[MusicMood]:
        return APIResponse(data=self.moods.pop(0), status_code=200)

    async def aclose(self) -> None:
        pass


def _mood(state: int | None) -> MusicMood:
    if state is None:
        return MusicMood(is_playing=False)
    return MusicMood(is_playing=True, track_id=f"t{state}", track=f"Track {state}", confidence=0.5)


@given(st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=1, max_size=30))
def test_music_changed_exactly_when_what_plays_changes(states: list[int | None]) -> None:
    async def main() -> tuple[int, int]:
        bus = Bus()
        seen = bus.subscribe("seen", (MusicChanged, TrackChanged), capacity=1000)
        service = FixedMoods([_mood(s) for s in states])
        poller = SpotifyPoller(None, bus, service, Clock(start_epoch=0.0), interval=None)  # type: ignore[arg-type]
        for _ in states:
            assert await poller.sync() is None
        kinds = [type(seen.get_nowait()) for _ in range(len(seen))]
        return kinds.count(MusicChanged), kinds.count(TrackChanged)

    music, tracks = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    transitions = sum(1 for a, b in zip([None, *states], states, strict=False) if a != b)
    assert music == tracks == transitions
