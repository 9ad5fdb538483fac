"""Deduplication of notification events: one (user_id, message_id, event) counts once.

The state of one logical event lives in a faust tumbling-window table keyed by
``user_id \\x1f message_id \\x1f event``; the events topic is keyed by `user_id`, so every
report of a key arrives on one partition and one worker owns its state.

Window rules:

* Size: ``dedup_window_s`` (default 3600 s), tumbling, aligned to the Unix epoch; a window
  covers ``[start, start + size)``.
* Clock: the *pipeline time* of a record, its Kafka timestamp clamped so that it is never
  later than the worker's clock plus ``dedup_max_clock_skew_s``. The device's
  `occurred_at` is kept as an attribute and never chooses a window, so a phone whose clock
  says 1970 or 2099 neither opens an odd window nor expires state early.
* Lookup: a report looks in its own window and in the window before it. Two reports
  ``dedup_window_s`` or less apart are therefore always merged, also when a window boundary
  falls between them (a single tumbling window would split them).
* Expiry: faust drops a window ``dedup_expires_s`` after it closes, measured on the worker's
  wall clock (faust's rule, not stream time). A duplicate that arrives later starts a fresh
  state; storage is keyed by the same identity, so it changes no unique count (see
  `schemas/ddl.py`).

Replays: each state remembers the highest offset it has counted. A record at or below that
offset was counted before (a restart re-reads uncommitted records), so it is not counted
again, but its state is still written out: storing a snapshot twice is harmless, losing one
is not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schemas.events import NotificationEvent

# Distinct device ids remembered per logical event; more devices still count as reports.
MAX_TRACKED_DEVICES = 32


@dataclass(frozen=True, slots=True)
class RecordPosition:
    """Source position of a report (topic, partition, offset) and its pipeline time in milliseconds."""

    topic: str
    partition: int
    offset: int
    pipeline_time_ms: int


@dataclass(frozen=True, slots=True)
class DedupState:
    """Merged state of one logical event: times, report and device counts, first payload."""

    first_occurred_ms: int
    last_occurred_ms: int
    first_received_ms: int
    reports: int
    device_ids: tuple[str, ...]
    last_offset: int
    first_partition: int
    first_offset: int
    event_id: str
    device_id: str
    payload: dict[str, Any]

    def to_json(self) -> list[Any]:
        """Encode for the faust table and its changelog, as a compact JSON list."""
        return [
            self.first_occurred_ms,
            self.last_occurred_ms,
            self.first_received_ms,
            self.reports,
            list(self.device_ids),
            self.last_offset,
            self.first_partition,
            self.first_offset,
            self.event_id,
            self.device_id,
            self.payload,
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> DedupState:
        return cls(
            first_occurred_ms=data[0],
            last_occurred_ms=data[1],
            first_received_ms=data[2],
            reports=data[3],
            device_ids=tuple(data[4]),
            last_offset=data[5],
            first_partition=data[6],
            first_offset=data[7],
            event_id=data[8],
            device_id=data[9],
            payload=data[10],
        )


def event_payload(event: NotificationEvent) -> dict[str, Any]:
    """Extract the parts of a report that describe the message: template, content, action, reason."""
    payload: dict[str, Any] = {}
    if event.template is not None:
        payload["template"] = event.template.model_dump(exclude_none=True)
    if event.content is not None:
        payload["content"] = event.content.model_dump(exclude_none=True)
    if event.action is not None:
        payload["action"] = event.action.model_dump(exclude_none=True)
    if event.reason is not None:
        payload["reason"] = event.reason.model_dump(exclude_none=True)
    return payload


def merge_report(
    state: DedupState | None, event: NotificationEvent, position: RecordPosition
) -> tuple[DedupState, bool]:
    """Merge one report into the state of its logical event.

    Returns the new state and whether the report was counted. A report at or below the
    state's `last_offset` is a re-read of a counted record, so it leaves the state unchanged.
    """
    occurred_ms = int(event.occurred_at.timestamp() * 1000)
    if state is None:
        return _first_state(event, position, occurred_ms), True

    if position.offset <= state.last_offset:
        return state, False

    devices = state.device_ids
    if event.device_id and event.device_id not in devices and len(devices) < MAX_TRACKED_DEVICES:
        devices = (*devices, event.device_id)

    payload = state.payload or event_payload(event)
    merged = DedupState(
        first_occurred_ms=min(state.first_occurred_ms, occurred_ms),
        last_occurred_ms=max(state.last_occurred_ms, occurred_ms),
        first_received_ms=min(state.first_received_ms, position.pipeline_time_ms),
        reports=state.reports + 1,
        device_ids=devices,
        last_offset=position.offset,
        first_partition=state.first_partition,
        first_offset=state.first_offset,
        event_id=state.event_id,
        device_id=state.device_id,
        payload=payload,
    )
    return merged, True


def _first_state(
    event: NotificationEvent, position: RecordPosition, occurred_ms: int
) -> DedupState:
    return DedupState(
        first_occurred_ms=occurred_ms,
        last_occurred_ms=occurred_ms,
        first_received_ms=position.pipeline_time_ms,
        reports=1,
        device_ids=(event.device_id,) if event.device_id else (),
        last_offset=position.offset,
        first_partition=position.partition,
        first_offset=position.offset,
        event_id=event.event_id or "",
        device_id=event.device_id or "",
        payload=event_payload(event),
    )


class PipelineClock:
    """Turns a record's Kafka timestamp into its pipeline time.

    The timestamp is the producer's create time (or the broker's append time, when the
    topic is configured so). It is clamped to at most ``now + max_skew_s`` so a producer
    clock running ahead cannot push state into future windows.
    """

    def __init__(self, max_skew_s: float, now_s: Callable[[], float] = time.time) -> None:
        self._max_skew_s = max_skew_s
        self._now_s = now_s

    def pipeline_time_s(self, record_timestamp_s: float | None) -> float:
        now_s = self._now_s()
        if record_timestamp_s is None or record_timestamp_s <= 0:
            return now_s
        return min(record_timestamp_s, now_s + self._max_skew_s)
