"""Message details when events arrive out of order, more than once or not at all.

Every record is produced with an explicit Kafka timestamp, which the worker stores as the
event's `received_at`, so arrival order and arrival times are exact. All messages belong to
user `dana`, so they share one partition and are processed in production order.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tests.support.kafka import produce
from tests.support.workers import WorkerFactory, WorkerProcess, wait_until

pytestmark = pytest.mark.integration

USER = "dana"
# Whole seconds, two minutes ago: inside the dedup window and never clamped as future.
BASE_MS = (int(time.time()) - 120) * 1000


def _record(
    arrival_s: int, event: str, message_id: str, occurred_at: str, **fields: Any
) -> tuple[bytes, bytes, int]:
    value = {
        "event": event,
        "user_id": USER,
        "message_id": message_id,
        "channel": "push",
        "occurred_at": occurred_at,
        **fields,
    }
    return (USER.encode(), orjson.dumps(value), BASE_MS + arrival_s * 1000)


def _arrival(arrival_s: int) -> str:
    return datetime.fromtimestamp(BASE_MS / 1000 + arrival_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


TEMPLATE = {"key": "reminder", "version": 4}
CONTENT = {"title": "Reminder", "body": "Your cart is waiting", "variables": {"items": 3}}
ACTION = {"button": "View cart", "url": "https://example.com/cart"}

RECORDS = [
    # (a) clicked, then delivered, then sent.
    _record(0, "clicked", "m-reversed", "2026-11-20T10:00:30Z", action=ACTION),
    _record(1, "delivered", "m-reversed", "2026-11-20T10:00:01Z", device_id="phone-1"),
    _record(2, "sent", "m-reversed", "2026-11-20T10:00:00Z", template=TEMPLATE, content=CONTENT),
    # The same lifecycle in order.
    _record(3, "sent", "m-in-order", "2026-11-20T11:00:00Z", template=TEMPLATE, content=CONTENT),
    _record(4, "delivered", "m-in-order", "2026-11-20T11:00:01Z"),
    _record(5, "clicked", "m-in-order", "2026-11-20T11:00:30Z", action=ACTION),
    # (b) a click and nothing else.
    _record(6, "clicked", "m-click-only", "2026-11-20T12:00:30Z", action={"url": "https://x.test"}),
    # (c) only sent.
    _record(7, "sent", "m-sent-only", "2026-11-20T13:00:00Z", template={"key": "news"}),
    # (d) sent, then failed; and failed without sent.
    _record(8, "sent", "m-failed", "2026-11-20T14:00:00Z", template=TEMPLATE),
    _record(
        9,
        "failed",
        "m-failed",
        "2026-11-20T14:00:02Z",
        reason={"code": "token_expired", "detail": "device token no longer valid"},
    ),
    _record(10, "failed", "m-failed-only", "2026-11-20T14:30:00Z", reason={"code": "blocked"}),
    # (e) clicked without viewed; viewed without anything before it.
    _record(11, "sent", "m-no-view", "2026-11-20T15:00:00Z", template=TEMPLATE),
    _record(12, "delivered", "m-no-view", "2026-11-20T15:00:01Z"),
    _record(13, "clicked", "m-no-view", "2026-11-20T15:00:40Z", action=ACTION),
    _record(14, "viewed", "m-view-only", "2026-11-20T15:30:00Z"),
    # (f) one delivery reported by three devices.
    _record(15, "delivered", "m-devices", "2026-11-20T16:00:01Z", device_id="dev-a", event_id="1"),
    _record(16, "delivered", "m-devices", "2026-11-20T16:00:02Z", device_id="dev-b", event_id="2"),
    _record(17, "delivered", "m-devices", "2026-11-20T16:00:03Z", device_id="dev-c", event_id="3"),
    # (g) a provider retry that reports an earlier occurred_at than the first report.
    _record(18, "delivered", "m-retry", "2026-11-20T17:00:00.500Z", event_id="p-1"),
    _record(19, "delivered", "m-retry", "2026-11-20T17:00:00.150Z", event_id="p-2"),
]

# Reports per (message, event) once every record is stored.
EXPECTED_REPORTS = {
    "m-reversed": 3,
    "m-in-order": 3,
    "m-click-only": 1,
    "m-sent-only": 1,
    "m-failed": 2,
    "m-failed-only": 1,
    "m-no-view": 3,
    "m-view-only": 1,
    "m-devices": 3,
    "m-retry": 2,
}


def _implied(event: str) -> dict[str, Any]:
    return {
        "event": event,
        "status": "implied",
        "first_occurred_at": None,
        "event_at": None,
        "received_at": None,
        "reports": None,
        "devices": None,
        "device_id": None,
        "event_id": None,
    }


def _not_reported(event: str) -> dict[str, Any]:
    return {**_implied(event), "status": "not_reported"}


def _reported(
    event: str,
    occurred_at: str,
    arrival_s: int,
    *,
    reports: int = 1,
    devices: int = 0,
    device_id: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "event": event,
        "status": "reported",
        "first_occurred_at": occurred_at,
        "event_at": occurred_at,
        "received_at": _arrival(arrival_s),
        "reports": reports,
        "devices": devices,
        "device_id": device_id,
        "event_id": event_id,
    }


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    factory = WorkerFactory(
        kafka_bootstrap, tmp_path_factory.mktemp("message-details"), uuid.uuid4().hex[:10]
    )
    try:
        started = factory.start()
        produce(kafka_bootstrap, factory.events_topic, RECORDS)

        def all_stored() -> bool:
            for message_id, expected in EXPECTED_REPORTS.items():
                status, body = started.request("GET", f"/api/v1/users/{USER}/messages/{message_id}")
                if status != 200:
                    return False
                reports = sum(entry["reports"] or 0 for entry in body["timeline"])
                if reports != expected:
                    return False
            return True

        wait_until(all_stored, timeout_s=60, what="every message of the details cases to be stored")
        yield started
    finally:
        factory.stop_all()


def _details(worker: WorkerProcess, message_id: str) -> dict[str, Any]:
    status, body = worker.request("GET", f"/api/v1/users/{USER}/messages/{message_id}")
    assert status == 200, body
    return body


def test_reversed_arrival_all_reported(worker: WorkerProcess):
    body = _details(worker, "m-reversed")

    assert body["timeline"] == [
        _reported("sent", "2026-11-20T10:00:00Z", 2),
        _reported("delivered", "2026-11-20T10:00:01Z", 1, devices=1, device_id="phone-1"),
        _reported("clicked", "2026-11-20T10:00:30Z", 0),
    ]


def test_reversed_arrival_flagged(worker: WorkerProcess):
    body = _details(worker, "m-reversed")

    assert body["arrived_out_of_order"] is True


def test_reversed_arrival_keeps_payloads(worker: WorkerProcess):
    body = _details(worker, "m-reversed")

    assert body["sent_reported"] is True
    assert body["template"] == {"key": "reminder", "version": "4"}
    assert body["content"] == {
        "title": "Reminder",
        "body": "Your cart is waiting",
        "variables": {"items": 3},
    }
    assert body["click_action"] == {"button": "View cart", "url": "https://example.com/cart"}


def test_in_order_arrival_not_flagged(worker: WorkerProcess):
    body = _details(worker, "m-in-order")

    assert body["arrived_out_of_order"] is False
    assert [entry["status"] for entry in body["timeline"]] == ["reported"] * 3


def test_click_only_implies_sent_delivered(worker: WorkerProcess):
    body = _details(worker, "m-click-only")

    assert body["timeline"] == [
        _implied("sent"),
        _implied("delivered"),
        _reported("clicked", "2026-11-20T12:00:30Z", 6),
    ]


def test_click_only_has_no_template(worker: WorkerProcess):
    body = _details(worker, "m-click-only")

    assert body["sent_reported"] is False
    assert body["template"] is None
    assert body["content"] is None
    assert body["click_action"] == {"button": None, "url": "https://x.test"}
    assert body["arrived_out_of_order"] is False


def test_sent_only_delivery_not_reported(worker: WorkerProcess):
    body = _details(worker, "m-sent-only")

    assert body["timeline"] == [
        _reported("sent", "2026-11-20T13:00:00Z", 7),
        _not_reported("delivered"),
    ]
    assert body["template"] == {"key": "news", "version": None}
    assert body["content"] == {"title": None, "body": None, "variables": {}}
    assert body["click_action"] is None
    assert body["failure_reason"] is None


def test_failed_has_no_delivered_entry(worker: WorkerProcess):
    body = _details(worker, "m-failed")

    assert body["timeline"] == [
        _reported("sent", "2026-11-20T14:00:00Z", 8),
        _reported("failed", "2026-11-20T14:00:02Z", 9),
    ]
    assert body["failure_reason"] == {
        "code": "token_expired",
        "detail": "device token no longer valid",
    }


def test_failed_only_implies_sent(worker: WorkerProcess):
    body = _details(worker, "m-failed-only")

    assert body["timeline"] == [
        _implied("sent"),
        _reported("failed", "2026-11-20T14:30:00Z", 10),
    ]
    assert body["failure_reason"] == {"code": "blocked", "detail": None}
    assert body["sent_reported"] is False


def test_click_does_not_imply_view(worker: WorkerProcess):
    body = _details(worker, "m-no-view")

    assert [entry["event"] for entry in body["timeline"]] == ["sent", "delivered", "clicked"]
    assert [entry["status"] for entry in body["timeline"]] == ["reported"] * 3


def test_view_implies_sent_delivered(worker: WorkerProcess):
    body = _details(worker, "m-view-only")

    assert body["timeline"] == [
        _implied("sent"),
        _implied("delivered"),
        _reported("viewed", "2026-11-20T15:30:00Z", 14),
    ]


def test_three_devices_one_delivery(worker: WorkerProcess):
    body = _details(worker, "m-devices")

    assert body["timeline"] == [
        _implied("sent"),
        _reported(
            "delivered",
            "2026-11-20T16:00:01Z",
            15,
            reports=3,
            devices=3,
            device_id="dev-a",
            event_id="1",
        ),
    ]


def test_retry_keeps_earliest_occurrence(worker: WorkerProcess):
    body = _details(worker, "m-retry")
    delivered = body["timeline"][1]

    assert delivered["first_occurred_at"] == "2026-11-20T17:00:00.150000Z"
    assert delivered["event_at"] == "2026-11-20T17:00:00.150000Z"
    assert delivered["received_at"] == _arrival(18)
    assert delivered["reports"] == 2
    assert delivered["event_id"] == "p-1"


def test_retry_counts_once(worker: WorkerProcess):
    status, body = worker.request("GET", f"/api/v1/users/{USER}/stats")

    assert status == 200
    # Deliveries: m-reversed, m-in-order, m-no-view, m-devices, m-retry.
    assert body["total"]["counts"] == {
        "sent": 5,
        "delivered": 5,
        "viewed": 1,
        "clicked": 4,
        "failed": 2,
    }
