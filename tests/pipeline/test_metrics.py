"""Prometheus metrics of a worker, built from the real app, agents, sinks and counters."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import faust
import pytest
from aiohttp.test_utils import make_mocked_request
from faust.assignor.client_assignment import ClientAssignment
from faust.types import TP
from prometheus_client.parser import text_string_to_metric_families

from agents.notification_events import NotificationEventsAgent
from agents.user_profiles import UserProfilesAgent
from pipeline.errors import StorageError
from pipeline.metrics import (
    CONTENT_TYPE,
    consumer_lag,
    dedup_store_keys,
    metrics_handler,
    render_metrics,
)
from pipeline.settings import Settings
from pipeline.worker import Worker, create_faust_app
from sinks.event_sink import EventSink, SinkCounters

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "user-insights.json"
EVENTS = "notification-events"
PROFILES = "user-profiles"
# Labels Prometheus adds to every scraped sample.
TARGET_LABELS = {"instance", "job"}


class FakeConsumer:
    """The part of faust's Consumer that `consumer_lag` reads, with fixed offsets."""

    def __init__(self, highwaters: dict[TP, int | None], committed: dict[TP, int | None]):
        self._highwaters = highwaters
        # faust keeps committed offsets in a defaultdict that yields None for a new partition.
        self._committed_offset = defaultdict(lambda: None, committed)
        self.revoked: set[TP] = set()

    def assignment(self) -> set[TP]:
        return set(self._highwaters)

    def highwater(self, tp: TP) -> int | None:
        if tp in self.revoked:
            raise AssertionError("Partition is not assigned")
        return self._highwaters[tp]


class FailingStore:
    def __init__(self) -> None:
        self.fail = False
        self.batches: list[list] = []

    def write(self, rows, token: str) -> None:
        if self.fail:
            raise StorageError("ClickHouse is down")
        self.batches.append(list(rows))


def _sink(store: FailingStore) -> EventSink:
    sink = EventSink(
        store.write,
        batch_max_rows=1000,
        flush_interval_s=60.0,
        retry_initial_s=0.01,
        retry_max_s=0.01,
    )

    async def ack(record) -> None:
        return None

    sink.bind_ack(ack)
    return sink


@pytest.fixture
def stores() -> tuple[FailingStore, FailingStore]:
    return FailingStore(), FailingStore()


@pytest.fixture
def worker(tmp_path, stores) -> Worker:
    """A worker wired like build_worker, with memory tables and in-memory storage."""
    settings = Settings(data_dir=tmp_path, table_store="memory://", _env_file=None)
    app = create_faust_app(settings)
    sink = _sink(stores[0])
    profiles_sink = _sink(stores[1])
    agent = NotificationEventsAgent(app, settings, sink)
    profiles_agent = UserProfilesAgent(app, settings, profiles_sink)
    # As after the recovery of the first assignment, so that every readiness check passes.
    app.tables.recovery.completed.set()
    return Worker(settings, app, sink, agent, profiles_sink, profiles_agent, pool=None, api=None)


def _lines(worker: Worker) -> list[str]:
    body, _ = render_metrics(worker)
    return body.decode().splitlines()


def _samples(worker: Worker) -> dict[tuple[str, tuple], float]:
    body, _ = render_metrics(worker)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def _fill(worker: Worker) -> None:
    """Give every metric family at least one sample."""
    worker.app._consumer = FakeConsumer(
        {TP(EVENTS, 0): 100, TP(PROFILES, 0): 4}, {TP(EVENTS, 0): 90, TP(PROFILES, 0): 4}
    )
    worker.agent.table.table.data[b"key"] = b"[]"


# Pipeline and sink counters


def test_pipeline_counter_lines(worker):
    counters = worker.agent.counters
    counters.records_in = 12
    counters.unique_events = 7
    counters.duplicates = 3
    counters.replayed = 1
    counters.dead_lettered = 1
    worker.profiles_agent.dead_lettered = 2
    worker.profiles_agent.changes_applied = 5

    lines = _lines(worker)

    assert "user_insights_events_in_total 12.0" in lines
    assert "user_insights_unique_events_total 7.0" in lines
    assert "user_insights_duplicates_dropped_total 3.0" in lines
    assert "user_insights_replayed_records_total 1.0" in lines
    assert 'user_insights_dead_lettered_total{topic="notification-events"} 1.0' in lines
    assert 'user_insights_dead_lettered_total{topic="user-profiles"} 2.0' in lines
    assert "user_insights_profile_changes_total 5.0" in lines


def test_sink_counter_lines(worker):
    worker.sink.counters = SinkCounters(
        rows_written=4500,
        batches_written=3,
        records_acked=5200,
        insert_failures=2,
        last_insert_s=0.25,
        last_batch_rows=1500,
    )

    lines = _lines(worker)

    assert 'user_insights_rows_written_total{table="notification_events"} 4500.0' in lines
    assert 'user_insights_insert_batches_total{table="notification_events"} 3.0' in lines
    assert 'user_insights_records_acked_total{table="notification_events"} 5200.0' in lines
    assert 'user_insights_insert_failures_total{table="notification_events"} 2.0' in lines
    assert 'user_insights_insert_seconds{table="notification_events"} 0.25' in lines
    assert 'user_insights_insert_batch_rows{table="notification_events"} 1500.0' in lines
    assert 'user_insights_rows_written_total{table="users"} 0.0' in lines


async def test_metrics_after_real_flush(worker, stores):
    for offset, key in enumerate(["a", "b", "a"]):
        await worker.sink.add_row(key, (key, offset), record=offset)
    assert 'user_insights_buffered_records{table="notification_events"} 3.0' in _lines(worker)

    await worker.sink.flush()

    lines = _lines(worker)
    assert stores[0].batches == [[("a", 2), ("b", 1)]]
    assert 'user_insights_rows_written_total{table="notification_events"} 2.0' in lines
    assert 'user_insights_insert_batches_total{table="notification_events"} 1.0' in lines
    assert 'user_insights_insert_batch_rows{table="notification_events"} 2.0' in lines
    assert 'user_insights_records_acked_total{table="notification_events"} 3.0' in lines
    assert 'user_insights_buffered_records{table="notification_events"} 0.0' in lines
    key = ("user_insights_insert_seconds", (("table", "notification_events"),))
    seconds = _samples(worker)[key]
    assert seconds == worker.sink.counters.last_insert_s


async def test_failed_insert_lines(worker, stores):
    stores[0].fail = True
    await worker.sink.add_row("a", ("a", 0), record=0)

    with pytest.raises(StorageError):
        await worker.sink.flush(max_attempts=1)

    lines = _lines(worker)
    assert 'user_insights_storage_ok{table="notification_events"} 0.0' in lines
    assert 'user_insights_storage_ok{table="users"} 1.0' in lines
    assert 'user_insights_insert_failures_total{table="notification_events"} 1.0' in lines
    assert 'user_insights_buffered_records{table="notification_events"} 1.0' in lines
    assert "user_insights_ready 0.0" in lines
    assert 'user_insights_readiness_check{check="storage_accepts_writes"} 0.0' in lines
    assert 'user_insights_readiness_check{check="broker_reachable"} 1.0' in lines


def test_ready_lines(worker):
    assert "user_insights_ready 1.0" in _lines(worker)

    worker.broker_reachable = False

    lines = _lines(worker)
    assert "user_insights_ready 0.0" in lines
    assert 'user_insights_readiness_check{check="broker_reachable"} 0.0' in lines


# Consumer lag


def test_consumer_lag_lines(worker):
    worker.app._consumer = FakeConsumer(
        highwaters={
            TP(EVENTS, 0): 100,
            TP(EVENTS, 1): 50,
            TP(EVENTS, 2): None,
            TP(PROFILES, 3): 4,
            TP("user-insights-notification-dedup-changelog", 0): 999,
        },
        committed={TP(EVENTS, 0): 90, TP(PROFILES, 3): 4},
    )

    lines = [line for line in _lines(worker) if line.startswith("user_insights_consumer_lag{")]

    assert lines == [
        'user_insights_consumer_lag{partition="0",topic="notification-events"} 10.0',
        'user_insights_consumer_lag{partition="1",topic="notification-events"} 50.0',
        'user_insights_consumer_lag{partition="3",topic="user-profiles"} 0.0',
    ]


def test_consumer_lag_skips_revoked():
    consumer = FakeConsumer({TP(EVENTS, 0): 10, TP(EVENTS, 1): 20}, {})
    consumer.revoked.add(TP(EVENTS, 0))
    app = type("App", (), {"_consumer": consumer})()

    assert consumer_lag(app, [EVENTS]) == [(EVENTS, 1, 20)]


def test_consumer_lag_before_start(worker):
    assert consumer_lag(worker.app, [EVENTS]) == []

    assert worker.app.consumer is not None  # created, never started
    assert consumer_lag(worker.app, [EVENTS]) == []


# Dedup store


def test_dedup_keys_memory_store(worker):
    assert dedup_store_keys(worker.agent.table) is None
    assert not any(line.startswith("user_insights_dedup_store_keys ") for line in _lines(worker))

    store = worker.agent.table.table.data
    for key in (b"a", b"b", b"c"):
        store[key] = b"[]"

    assert "user_insights_dedup_store_keys 3.0" in _lines(worker)


def test_dedup_keys_rocksdb_actives(tmp_path):
    app = faust.App(
        "metrics-test",
        broker="kafka://127.0.0.1:9092",
        store="rocksdb://",
        datadir=str(tmp_path),
        autodiscover=False,
        web_enabled=False,
    )
    table = app.Table("dedup", default=list, partitions=4).tumbling(timedelta(seconds=60))
    store = table.table.data
    for partition, keys in ((0, 100), (1, 50), (2, 7)):
        database = store._db_for_partition(partition)
        for n in range(keys):
            database[f"key-{n}".encode()] = b"[]"
    changelog = table.table.changelog_topic_name
    app.assignor._assignment = ClientAssignment(
        actives={changelog: [0, 1]}, standbys={changelog: [2]}
    )

    # A fresh store without deletes estimates exactly; partition 2 is a standby.
    assert dedup_store_keys(table) == 150


# Exposition format and handler


def test_exposition_parses(worker):
    _fill(worker)
    body, content_type = render_metrics(worker)

    families = {f.name: f.type for f in text_string_to_metric_families(body.decode())}

    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert families == {
        "user_insights_events_in": "counter",
        "user_insights_unique_events": "counter",
        "user_insights_duplicates_dropped": "counter",
        "user_insights_replayed_records": "counter",
        "user_insights_dead_lettered": "counter",
        "user_insights_profile_changes": "counter",
        "user_insights_rows_written": "counter",
        "user_insights_insert_batches": "counter",
        "user_insights_insert_failures": "counter",
        "user_insights_records_acked": "counter",
        "user_insights_records_not_acked": "counter",
        "user_insights_insert_seconds": "gauge",
        "user_insights_insert_batch_rows": "gauge",
        "user_insights_buffered_records": "gauge",
        "user_insights_storage_ok": "gauge",
        "user_insights_consumer_lag": "gauge",
        "user_insights_commit_stalled": "gauge",
        "user_insights_dedup_store_keys": "gauge",
        "user_insights_ready": "gauge",
        "user_insights_readiness_check": "gauge",
    }


async def test_handler_serves_metrics(worker):
    worker.agent.counters.records_in = 9
    handler = metrics_handler(worker)

    response = await handler(make_mocked_request("GET", "/metrics"))

    assert response.status == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE
    assert response.body == render_metrics(worker)[0]
    assert b"\nuser_insights_events_in_total 9.0\n" in response.body


# Grafana dashboard


def _expressions(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for value in node.values() for e in _expressions(value)]
    if isinstance(node, list):
        return [e for item in node for e in _expressions(item)]
    return []


def test_dashboard_loads():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))

    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
    assert len(_expressions(dashboard)) >= 8


def test_dashboard_metric_names(worker):
    _fill(worker)
    samples = _samples(worker)
    names = {name for name, _ in samples}
    labels = {label for _, pairs in samples for label, _ in pairs} | TARGET_LABELS
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))

    for expr in _expressions(dashboard):
        used = re.findall(r"\buser_insights_\w+", expr)
        assert used, expr
        for name in used:
            assert name in names, f"{name} in {expr!r}"
        for grouping in re.findall(r"\bby \(([^)]*)\)", expr):
            for label in grouping.split(","):
                assert label.strip() in labels, f"label {label.strip()} in {expr!r}"
