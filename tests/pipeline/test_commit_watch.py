"""The commit watch: partitions whose acked offsets faust would not commit."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from faust.types import TP

from pipeline.commit_watch import CommitWatch, StalledPartition, find_stalled

EVENTS_0 = TP("notification-events", 0)
EVENTS_1 = TP("notification-events", 1)


def test_contiguous_acks_not_stalled():
    stalled = find_stalled({EVENTS_0: [100, 101, 102]}, {EVENTS_0: 100})

    assert stalled == []


def test_one_offset_past_not_stalled():
    # faust commits in this case, so it is no stall.
    stalled = find_stalled({EVENTS_0: [101, 102]}, {EVENTS_0: 100})

    assert stalled == []


def test_gap_before_oldest_ack_stalled():
    stalled = find_stalled({EVENTS_0: [105, 106, 104]}, {EVENTS_0: 100})

    assert stalled == [StalledPartition("notification-events", 0, 100, 104, 3)]


def test_nothing_committed_not_stalled():
    # faust skips its check while the committed offset is None or 0.
    stalled = find_stalled({EVENTS_0: [5, 6], EVENTS_1: [7]}, {EVENTS_0: None})

    assert stalled == []


def _consumer(acked, committed):
    return SimpleNamespace(_acked=acked, _committed_offset=committed)


def test_watch_confirms_on_second_check(caplog):
    watch = CommitWatch()
    consumer = _consumer({EVENTS_0: [104, 105]}, {EVENTS_0: 100})

    with caplog.at_level(logging.ERROR, logger="pipeline.commit_watch"):
        first = watch.check(consumer)
        second = watch.check(consumer)
        third = watch.check(consumer)

    assert first == []
    assert second == [StalledPartition("notification-events", 0, 100, 104, 2)]
    assert third == second
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "topic=notification-events[0] committed_offset=100" in errors[0].getMessage()


def test_watch_clears_after_commit():
    watch = CommitWatch()
    stuck = _consumer({EVENTS_0: [104]}, {EVENTS_0: 100})
    watch.check(stuck)
    watch.check(stuck)

    moved = watch.check(_consumer({EVENTS_0: [106]}, {EVENTS_0: 105}))

    assert moved == []
    assert watch.stalled == []


def test_watch_without_consumer():
    watch = CommitWatch()

    assert watch.check(None) == []
