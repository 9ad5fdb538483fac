"""Window rules on the real broker and store, with chosen Kafka record timestamps."""

from __future__ import annotations

import time

import orjson
import pytest

from tests.support.kafka import consumer_lag, produce, topic_config
from tests.support.workers import WorkerFactory, wait_until

pytestmark = pytest.mark.integration

WINDOW_S = 10


def _report(device: str, event_id: str) -> bytes:
    return orjson.dumps(
        {
            "event": "delivered",
            "user_id": "u-win",
            "message_id": "msg-boundary",
            "channel": "push",
            "device_id": device,
            "event_id": event_id,
            "occurred_at": "2026-03-01T10:00:00Z",
        }
    )


def _delivered(worker) -> dict:
    events = worker.get("/api/v1/users/u-win/events")["events"]
    return {(e["message_id"], e["event"]): e for e in events}.get(("msg-boundary", "delivered"), {})


def test_reports_across_boundary_merge(workers: WorkerFactory, kafka_bootstrap: str):
    worker = workers.start(dedup_window_s=str(WINDOW_S), dedup_expires_s=str(WINDOW_S))
    boundary_ms = (int(time.time()) // WINDOW_S) * WINDOW_S * 1000

    produce(
        kafka_bootstrap,
        workers.events_topic,
        [
            (b"u-win", _report("phone-A", "e1"), boundary_ms - 100),
            (b"u-win", _report("tablet-B", "e2"), boundary_ms + 100),
        ],
    )

    row = wait_until(lambda: _delivered(worker).get("reports") == 2 and _delivered(worker), timeout_s=30, what="two reports merged")
    assert row["devices"] == 2
    stats = worker.get("/api/v1/users/u-win/stats")
    assert stats["total"]["counts"]["delivered"] == 1


def test_late_duplicate_changes_no_count(workers: WorkerFactory, kafka_bootstrap: str):
    worker = workers.start(dedup_window_s=str(WINDOW_S), dedup_expires_s=str(WINDOW_S))
    now_ms = int(time.time() * 1000)
    produce(
        kafka_bootstrap,
        workers.events_topic,
        [
            (b"u-win", _report("phone-A", "e1"), now_ms - 60_000),
            (b"u-win", _report("tablet-B", "e2"), now_ms - 60_000 + 50),
        ],
    )
    wait_until(lambda: _delivered(worker).get("reports") == 2, timeout_s=30, what="first two reports")

    produce(kafka_bootstrap, workers.events_topic, [(b"u-win", _report("watch-C", "e3"), now_ms)])
    wait_until(
        lambda: sum(consumer_lag(kafka_bootstrap, workers.app_id, workers.events_topic).values()) == 0,
        timeout_s=30,
        interval_s=0.5,
        what="the late report to be processed and committed",
    )

    row = _delivered(worker)
    stats = worker.get("/api/v1/users/u-win/stats")
    assert stats["total"]["counts"]["delivered"] == 1
    assert row["reports"] == 2


def test_changelog_expires_by_time(workers: WorkerFactory, kafka_bootstrap: str):
    workers.start(dedup_window_s=str(WINDOW_S), dedup_expires_s=str(2 * WINDOW_S))
    changelog = f"{workers.app_id}-notification-dedup-changelog"

    config = topic_config(kafka_bootstrap, changelog)

    assert config["cleanup.policy"] == "compact,delete"
    assert config["retention.ms"] == str(3 * WINDOW_S * 1000)
    assert config["segment.ms"] == "60000"
