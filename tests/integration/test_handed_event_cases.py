"""Handed event files through the real broker, a worker process and embedded ClickHouse."""

from __future__ import annotations

import base64
import urllib.request
import time
from pathlib import Path

import orjson
import pytest

from tests.support.kafka import consumer_lag, read_all
from tests.support.workers import WorkerFactory, wait_until

pytestmark = pytest.mark.integration

ZERO = {"sent": 0, "delivered": 0, "viewed": 0, "clicked": 0, "failed": 0}


def _stats(workers: WorkerFactory, user_id: str) -> dict:
    result = workers.cli("stats", user_id, "--json", http_port=str(workers.started[0].port))
    return orjson.loads(result.stdout)


def _events(worker, user_id: str) -> dict[tuple[str, str], dict]:
    rows = worker.get(f"/api/v1/users/{user_id}/events")["events"]
    return {(row["message_id"], row["event"]): row for row in rows}


@pytest.fixture
def loaded(workers: WorkerFactory, shared_cases: Path):
    worker = workers.start()
    for path in sorted((shared_cases / "events").iterdir()):
        workers.cli("produce", str(path))

    def all_stored() -> bool:
        totals = worker.get("/api/v1/totals")["unique_messages_by_event"]
        return totals == {"sent": 1, "delivered": 3, "viewed": 0, "clicked": 2, "failed": 1}

    wait_until(all_stored, timeout_s=60, what="the handed events to be stored")
    return workers, worker


def test_multi_device_push_counts_once(loaded):
    workers, worker = loaded

    stats = _stats(workers, "u-100")

    assert stats["total"] == {**ZERO, "delivered": 1, "clicked": 1}
    assert stats["by_channel"] == {"push": {**ZERO, "delivered": 1, "clicked": 1}}


def test_multi_device_reports_kept_beside(loaded):
    _, worker = loaded

    events = _events(worker, "u-100")

    assert set(events) == {("msg-1", "delivered"), ("msg-1", "clicked")}
    assert events["msg-1", "delivered"]["reports"] == 3
    assert events["msg-1", "delivered"]["devices"] == 3
    assert events["msg-1", "delivered"]["first_occurred_at"] == "2026-03-01T10:00:00Z"
    assert events["msg-1", "clicked"]["reports"] == 2
    assert events["msg-1", "clicked"]["devices"] == 1


def test_provider_retries_keep_first_time(loaded):
    workers, worker = loaded

    stats = _stats(workers, "u-200")
    events = _events(worker, "u-200")

    assert stats["total"] == {**ZERO, "sent": 1, "delivered": 1, "failed": 1}
    assert events["msg-9", "delivered"]["first_occurred_at"] == "2026-03-02T08:00:00.150000Z"
    assert events["msg-9", "delivered"]["reports"] == 2
    assert events["msg-9", "sent"]["template_key"] == "otp"
    assert events["msg-9", "sent"]["template_version"] == "2"
    assert events["msg-9", "sent"]["content_body"] == "Your code is 123456"
    assert events["msg-10", "failed"]["failure_code"] == "carrier_rejected"
    assert events["msg-10", "failed"]["failure_detail"] == "number unreachable"


def test_poison_pills_counted_around(loaded):
    workers, _ = loaded

    stats = _stats(workers, "u-600")

    assert stats["total"] == {**ZERO, "delivered": 1, "clicked": 1}


def test_poison_pills_reach_dead_letters(loaded, kafka_bootstrap: str, shared_cases: Path):
    workers, _ = loaded
    poison_lines = (shared_cases / "events" / "poison_pills.bin").read_bytes()[:-1].split(b"\n")

    records = read_all(kafka_bootstrap, workers.dead_letter_topic, expected=3)
    envelopes = sorted((orjson.loads(r.value) for r in records), key=lambda e: e["source"]["offset"])

    assert len(envelopes) == 3
    assert {e["source"]["topic"] for e in envelopes} == {workers.events_topic}
    originals = [base64.b64decode(e["value_base64"]) for e in envelopes]
    assert sorted(originals) == sorted([poison_lines[1], poison_lines[2], poison_lines[3]])
    reasons = {base64.b64decode(e["value_base64"]): e["reason"] for e in envelopes}
    assert "not a JSON object" in reasons[poison_lines[1]]
    assert "'message_id' is missing" in reasons[poison_lines[2]]
    assert "empty" in reasons[b""]
    for envelope in envelopes:
        assert isinstance(envelope["source"]["partition"], int)
        assert envelope["source"]["offset"] >= 0


def test_committed_offsets_pass_every_record(loaded, kafka_bootstrap: str):
    workers, _ = loaded

    def lag_is_zero() -> bool:
        lag = consumer_lag(kafka_bootstrap, workers.app_id, workers.events_topic)
        return bool(lag) and all(value == 0 for value in lag.values())

    wait_until(lag_is_zero, timeout_s=30, interval_s=1, what="consumer lag to reach zero")


def test_replaying_files_changes_nothing(loaded, shared_cases: Path):
    workers, worker = loaded
    before = {u: _stats(workers, u) for u in ("u-100", "u-200", "u-600")}

    for path in sorted((shared_cases / "events").iterdir()):
        workers.cli("produce", str(path))
    wait_until(
        lambda: worker.get("/api/v1/users/u-600/events")["events"][0]["reports"] >= 1
        and _events(worker, "u-100")["msg-1", "delivered"]["reports"] == 6,
        timeout_s=30,
        what="the second copy to be processed",
    )
    time.sleep(0.5)

    after = {u: _stats(workers, u) for u in ("u-100", "u-200", "u-600")}
    assert after == before


def test_metrics_count_handed_records(loaded):
    _, worker = loaded
    wait_until(
        lambda: "user_insights_events_in_total 14.0" in _metrics(worker),
        timeout_s=30,
        what="the metrics to count all 14 records",
    )

    text = _metrics(worker)

    assert "user_insights_unique_events_total 7.0" in text
    assert "user_insights_duplicates_dropped_total 4.0" in text
    assert 'user_insights_dead_lettered_total{topic="' + worker.env["USER_INSIGHTS_EVENTS_TOPIC"] + '"} 3.0' in text
    assert "user_insights_storage_ok" in text
    assert "user_insights_consumer_lag{" in text


def _metrics(worker) -> str:
    with urllib.request.urlopen(worker.base_url + "/metrics", timeout=10) as response:
        return response.read().decode()
