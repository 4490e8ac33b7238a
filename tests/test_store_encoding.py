"""The store's fast encoding path gives exactly what the plain, slow path gives."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenhouse.messages import (
    CommitPushed,
    MusicChanged,
    WebSocketEvent,
    encode_envelope,
    iso_timestamp,
)
from greenhouse.store import Store, events_since

# Any text, NUL and other control characters included (SQLite's JSON functions stop at NUL,
# so such a batch must take the row-by-row path and still store every character).
texts = st.text(max_size=12)
timestamps = st.one_of(
    st.just(0.0), st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False)
)
commits = st.builds(
    CommitPushed,
    repository=texts,
    commit_count=st.integers(min_value=-(2**53), max_value=2**53),
    author=texts,
    impact_score=st.floats(allow_nan=False, allow_infinity=False),
    delivery_id=st.none() | texts,
    source=texts,
    timestamp=timestamps,
)
tracks = st.builds(
    MusicChanged,
    track=st.none() | texts,
    artists=st.lists(texts, max_size=3).map(tuple),
    source=texts,
    timestamp=timestamps,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("enc") / "g.db")
    yield store
    store.close()


@given(events=st.lists(st.one_of(commits, tracks), min_size=1, max_size=6))
def test_stored_rows_and_frames_equal_the_plain_encoding(store, events):
    now = 1_705_314_600.25
    first = store.last_event_id() + 1
    batch = store.prepare(events, now)
    store.commit(batch)
    reader = store.reader()
    rows = events_since(reader, first - 1)
    reader.close()
    assert [row.id for row in rows] == list(range(first, first + len(events)))
    for event, row, frame in zip(events, rows, batch.frames, strict=True):
        assert row.type == event.event_type.value
        assert row.source == event.source  # every character, NUL included
        assert row.timestamp == iso_timestamp(event.timestamp or now)
        assert row.data == event.payload_json().decode()
        assert json.loads(row.data) == json.loads(msgspec.json.encode(event.payload()))
        plain = encode_envelope(
            WebSocketEvent(row.id, row.type, msgspec.Raw(row.data), row.timestamp, row.source)
        )
        assert frame == plain == row.frame()  # live frame, replayed frame, msgspec's frame


def test_a_batch_prepared_before_another_commit_is_refused(tmp_path):
    store = Store(tmp_path / "g.db")
    event = CommitPushed(repository="r", commit_count=1, author="a", impact_score=0.5)
    stale = store.prepare([event], 1.0)
    store.write_batch([event], 1.0)
    with pytest.raises(RuntimeError, match="next id is 2"):
        store.commit(stale)
    (_, row), = store.write_batch([event], 1.0)
    assert row.id == 2
    store.close()
