"""Dedup merge rules with fixed timestamps and offsets."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.dedup import MAX_TRACKED_DEVICES, DedupState, PipelineClock, RecordPosition, merge_report
from schemas.events import NotificationEvent

BASE_MS = int(datetime(2026, 3, 1, 10, 0, tzinfo=UTC).timestamp() * 1000)


def _event(occurred_ms: int = BASE_MS, device: str | None = "phone-A", event_id: str = "e1", **extra) -> NotificationEvent:
    return NotificationEvent(
        event=extra.pop("event", "delivered"),
        user_id="u-100",
        message_id="msg-1",
        channel="push",
        occurred_at=datetime.fromtimestamp(occurred_ms / 1000, tz=UTC),
        device_id=device,
        event_id=event_id,
        **extra,
    )


def _at(offset: int, pipeline_ms: int = BASE_MS + 5_000) -> RecordPosition:
    return RecordPosition(topic="t", partition=3, offset=offset, pipeline_time_ms=pipeline_ms)


def test_first_report_opens_state():
    state, counted = merge_report(None, _event(), _at(10))

    assert counted is True
    assert state.reports == 1
    assert state.device_ids == ("phone-A",)
    assert state.first_occurred_ms == BASE_MS
    assert state.first_offset == 10
    assert state.last_offset == 10


def test_devices_merge_into_one():
    state, _ = merge_report(None, _event(device="phone-A"), _at(1))
    state, _ = merge_report(state, _event(BASE_MS + 1000, device="tablet-B", event_id="e2"), _at(2))
    state, _ = merge_report(state, _event(BASE_MS + 1000, device="phone-A-old", event_id="e3"), _at(3))

    assert state.reports == 3
    assert state.device_ids == ("phone-A", "tablet-B", "phone-A-old")
    assert state.first_occurred_ms == BASE_MS
    assert state.last_occurred_ms == BASE_MS + 1000
    assert state.event_id == "e1"


def test_earlier_retry_moves_first_time():
    state, _ = merge_report(None, _event(BASE_MS + 500, device=None), _at(1))
    state, counted = merge_report(state, _event(BASE_MS + 150, device=None, event_id="s3"), _at(2))

    assert counted is True
    assert state.first_occurred_ms == BASE_MS + 150
    assert state.reports == 2
    assert state.device_ids == ()


def test_reread_offset_is_not_counted():
    state, _ = merge_report(None, _event(), _at(7))
    state, _ = merge_report(state, _event(device="tablet-B"), _at(8))

    again, counted = merge_report(state, _event(device="tablet-B"), _at(8))
    older, counted_older = merge_report(state, _event(), _at(7))

    assert counted is False
    assert counted_older is False
    assert again == state
    assert older == state


def test_device_list_is_bounded():
    state, _ = merge_report(None, _event(device="d0"), _at(0))
    for n in range(1, MAX_TRACKED_DEVICES + 10):
        state, _ = merge_report(state, _event(device=f"d{n}"), _at(n))

    assert len(state.device_ids) == MAX_TRACKED_DEVICES
    assert state.reports == MAX_TRACKED_DEVICES + 10


def test_payload_kept_from_first_report():
    sent = _event(event="sent", device=None, template={"key": "otp", "version": 2}, content={"body": "hi"})
    state, _ = merge_report(None, sent, _at(1))
    bare = _event(event="sent", device=None, event_id="s2")
    state, _ = merge_report(state, bare, _at(2))

    assert state.payload == {"template": {"key": "otp", "version": 2}, "content": {"body": "hi", "variables": {}}}


def test_state_json_round_trip():
    state, _ = merge_report(None, _event(action={"button": "Open"}, event="clicked"), _at(4))

    assert DedupState.from_json(state.to_json()) == state


def test_clock_clamps_future_timestamps():
    clock = PipelineClock(max_skew_s=300, now_s=lambda: 1_000_000.0)

    assert clock.pipeline_time_s(999_000.0) == 999_000.0
    assert clock.pipeline_time_s(4_102_444_800.0) == 1_000_300.0
    assert clock.pipeline_time_s(None) == 1_000_000.0
    assert clock.pipeline_time_s(0.0) == 1_000_000.0
