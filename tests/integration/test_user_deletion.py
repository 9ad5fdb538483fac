"""User deletion: gone from every table at once, late events kept out, re-import from zero."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from urllib.parse import quote

import orjson
import pytest

from tests.support.kafka import consumer_lag, produce
from tests.support.workers import WorkerFactory, WorkerProcess, wait_until

pytestmark = pytest.mark.integration

ZERO = {"sent": 0, "delivered": 0, "viewed": 0, "clicked": 0, "failed": 0}


def _event(user_id: str, message_id: str, event: str, at: datetime) -> tuple[bytes, bytes, None]:
    value = {
        "event": event,
        "user_id": user_id,
        "message_id": message_id,
        "channel": "push",
        "occurred_at": at.isoformat().replace("+00:00", "Z"),
        "device_id": "phone-1",
    }
    return user_id.encode(), orjson.dumps(value), None


def _counts(worker: WorkerProcess, user_id: str) -> dict:
    return worker.get(f"/api/v1/users/{user_id}/stats")["total"]["counts"]


def _drain(workers: WorkerFactory, bootstrap: str, topic: str) -> None:
    wait_until(
        lambda: sum(consumer_lag(bootstrap, workers.app_id, topic).values()) == 0,
        timeout_s=60,
        interval_s=0.5,
        what=f"every record of {topic} to be processed",
    )


def _import(worker: WorkerProcess, csv_text: str) -> dict:
    status, body = worker.request(
        "POST", "/api/v1/users/import", csv_text.encode(), {"Content-Type": "text/csv"}
    )
    assert status == 200, body
    return body


@pytest.fixture
def populated(workers: WorkerFactory, kafka_bootstrap: str):
    worker = workers.start()
    _import(worker, "user_id,phone_number,nickname\nu-del-1,+821020000001,지울사람\nu-keep,+821020000002,남는사람\n")
    before = datetime.now(tz=UTC) - timedelta(hours=1)
    produce(
        kafka_bootstrap,
        workers.events_topic,
        [
            _event("u-del-1", "m1", "sent", before),
            _event("u-del-1", "m1", "delivered", before + timedelta(seconds=1)),
            _event("u-keep", "m2", "sent", before),
        ],
    )
    wait_until(lambda: _counts(worker, "u-del-1")["delivered"] == 1, timeout_s=60, what="events stored")
    wait_until(lambda: _counts(worker, "u-keep")["sent"] == 1, timeout_s=60, what="events stored")
    return worker, before


def test_delete_removes_everything_at_once(populated):
    worker, _ = populated

    status, body = worker.request("DELETE", "/api/v1/users/u-del-1")

    assert status == 200
    assert body == {"user_id": "u-del-1", "deleted": True}
    assert worker.request("GET", "/api/v1/users/u-del-1")[0] == 404
    assert worker.get("/api/v1/users/search?q=u-del")["total"] == 0
    assert worker.get("/api/v1/users/search?q=" + quote("지울"))["total"] == 0
    assert _counts(worker, "u-del-1") == ZERO
    assert worker.get("/api/v1/users/u-del-1/events")["events"] == []
    assert worker.get("/api/v1/users/u-del-1/messages")["total"] == 0
    assert _counts(worker, "u-keep") == {**ZERO, "sent": 1}


def test_late_events_do_not_recreate(populated, workers: WorkerFactory, kafka_bootstrap: str):
    worker, before = populated
    worker.request("DELETE", "/api/v1/users/u-del-1")

    produce(
        kafka_bootstrap,
        workers.events_topic,
        [
            _event("u-del-1", "m1", "clicked", before + timedelta(seconds=5)),
            _event("u-del-1", "m3", "sent", datetime.now(tz=UTC)),
        ],
    )
    _drain(workers, kafka_bootstrap, workers.events_topic)

    assert _counts(worker, "u-del-1") == ZERO
    assert worker.request("GET", "/api/v1/users/u-del-1")[0] == 404
    assert worker.get("/api/v1/users/search?q=u-del-1")["total"] == 0


def test_reimport_starts_from_zero(populated, workers: WorkerFactory, kafka_bootstrap: str):
    worker, before = populated
    worker.request("DELETE", "/api/v1/users/u-del-1")

    report = _import(worker, "user_id,phone_number\nu-del-1,+821020000009\n")
    assert report["created"] == 1
    assert _counts(worker, "u-del-1") == ZERO

    produce(
        kafka_bootstrap,
        workers.events_topic,
        [
            _event("u-del-1", "m1", "viewed", before + timedelta(seconds=9)),
            _event("u-del-1", "m4", "sent", datetime.now(tz=UTC) + timedelta(seconds=1)),
        ],
    )
    wait_until(lambda: _counts(worker, "u-del-1")["sent"] == 1, timeout_s=60, what="the new event")
    _drain(workers, kafka_bootstrap, workers.events_topic)

    assert _counts(worker, "u-del-1") == {**ZERO, "sent": 1}
    profile = worker.get("/api/v1/users/u-del-1?show_phone=true")
    assert profile["phone_number"] == "+821020000009"
    assert profile["nickname"] is None


def test_profile_topic_delete(populated, workers: WorkerFactory, kafka_bootstrap: str):
    worker, _ = populated

    produce(kafka_bootstrap, workers.profiles_topic, [(b"u-keep", b'{"op":"delete","user_id":"u-keep"}', None)])

    wait_until(
        lambda: worker.request("GET", "/api/v1/users/u-keep")[0] == 404,
        timeout_s=60,
        what="the profile-topic deletion",
    )
    assert _counts(worker, "u-keep") == ZERO
    assert worker.get("/api/v1/users/search?q=" + quote("남는"))["total"] == 0
