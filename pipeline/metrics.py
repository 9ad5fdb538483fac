"""Prometheus metrics of one worker process, read from the counters its parts already keep.

The agents and sinks count in plain attributes (`PipelineCounters`, `SinkCounters`); this
module reads them when Prometheus scrapes, so nothing on the record path calls
prometheus_client. Route `metrics_handler(worker)` at ``GET /metrics``.

Sink metrics carry a `table` label: ``notification_events`` for the events sink and
``users`` for the profiles sink.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from faust.exceptions import ConsumerNotStarted
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from pipeline.worker import Worker


# The classic text format (version 0.0.4), which Prometheus 2 and 3 both read.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "user_insights_"
ESTIMATE_NUM_KEYS = "rocksdb.estimate-num-keys"

Handler = Callable[[web.Request], Awaitable[web.Response]]


def render_metrics(worker: Worker) -> tuple[bytes, str]:
    """Render the worker's metrics in the Prometheus text format; returns (body, content type)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_WorkerCollector(worker))
    return generate_latest(registry), CONTENT_TYPE


def metrics_handler(worker: Worker) -> Handler:
    """Return an aiohttp handler that serves `render_metrics(worker)`."""

    async def serve_metrics(request: web.Request) -> web.Response:
        body, content_type = render_metrics(worker)
        # aiohttp rejects a charset inside `content_type=`, so the header is set as is.
        return web.Response(body=body, headers={"Content-Type": content_type})

    return serve_metrics


class _WorkerCollector:
    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    def collect(self) -> Iterator[Metric]:
        worker = self._worker
        yield from _pipeline_metrics(worker)
        yield from _sink_metrics(worker)
        yield _consumer_lag_metric(worker)
        yield _commit_stalled_metric(worker)
        yield _dedup_store_metric(worker)
        yield from _readiness_metrics(worker)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    # prometheus_client appends `_total` to the sample name of a counter.
    return CounterMetricFamily(PREFIX + name, documentation, value=value)


def _pipeline_metrics(worker: Worker) -> Iterator[Metric]:
    counters = worker.agent.counters
    yield _counter(
        "events_in", "Records read from the events topic, valid or not.", counters.records_in
    )
    yield _counter(
        "unique_events",
        "Reports that started a new dedup state: the first report of a (user_id, message_id, "
        "event), or a later one whose state had expired.",
        counters.unique_events,
    )
    yield _counter(
        "duplicates_dropped",
        "Reports merged into an existing dedup state; they change no unique count.",
        counters.duplicates,
    )
    yield _counter(
        "replayed_records",
        "Records at or below an offset their dedup state already counted (read again after a "
        "restart or rebalance); they are stored again but not counted.",
        counters.replayed,
    )

    dead_lettered = CounterMetricFamily(
        PREFIX + "dead_lettered",
        "Invalid records sent to the dead-letter topic, by the topic they were read from.",
        labels=["topic"],
    )
    dead_lettered.add_metric([worker.settings.events_topic], counters.dead_lettered)
    dead_lettered.add_metric([worker.settings.profiles_topic], worker.profiles_agent.dead_lettered)
    yield dead_lettered

    yield _counter(
        "profile_changes",
        "Valid profile changes read from the profiles topic.",
        worker.profiles_agent.changes_applied,
    )


def _sink_metrics(worker: Worker) -> Iterator[Metric]:
    sinks = (("notification_events", worker.sink), ("users", worker.profiles_sink))
    families = {
        "rows_written": CounterMetricFamily(
            PREFIX + "rows_written", "Rows inserted into ClickHouse.", labels=["table"]
        ),
        "batches_written": CounterMetricFamily(
            PREFIX + "insert_batches", "Successful ClickHouse inserts.", labels=["table"]
        ),
        "insert_failures": CounterMetricFamily(
            PREFIX + "insert_failures",
            "Failed ClickHouse insert attempts; each is retried with backoff.",
            labels=["table"],
        ),
        "records_acked": CounterMetricFamily(
            PREFIX + "records_acked",
            "Source records acked after their rows were stored; only acked offsets commit.",
            labels=["table"],
        ),
        "records_not_acked": CounterMetricFamily(
            PREFIX + "records_not_acked",
            "Source records stored but not acked because they were read before the current "
            "partition assignment; their partition's owner reads them again.",
            labels=["table"],
        ),
        "last_insert_s": GaugeMetricFamily(
            PREFIX + "insert_seconds",
            "Duration of the last successful insert, in seconds (0 before the first).",
            labels=["table"],
        ),
        "last_batch_rows": GaugeMetricFamily(
            PREFIX + "insert_batch_rows",
            "Rows in the last successful insert (0 before the first).",
            labels=["table"],
        ),
    }
    buffered = GaugeMetricFamily(
        PREFIX + "buffered_records",
        "Source records in the open batch, waiting for their insert.",
        labels=["table"],
    )
    storage_ok = GaugeMetricFamily(
        PREFIX + "storage_ok",
        "1 while the last insert succeeded, 0 after a failed insert until one succeeds.",
        labels=["table"],
    )

    for table, sink in sinks:
        for attribute, family in families.items():
            family.add_metric([table], getattr(sink.counters, attribute))
        buffered.add_metric([table], sink.buffered_records)
        storage_ok.add_metric([table], 1 if sink.storage_ok else 0)

    yield from families.values()
    yield buffered
    yield storage_ok


def _consumer_lag_metric(worker: Worker) -> Metric:
    family = GaugeMetricFamily(
        PREFIX + "consumer_lag",
        "Records not yet committed per assigned partition: the highwater (log end offset) "
        "minus this group's committed offset, counted from 0 before the first commit.",
        labels=["topic", "partition"],
    )
    topics = {worker.settings.events_topic, worker.settings.profiles_topic}
    for topic, partition, lag in consumer_lag(worker.app, topics):
        family.add_metric([topic, str(partition)], lag)
    return family


def _commit_stalled_metric(worker: Worker) -> Metric:
    family = GaugeMetricFamily(
        PREFIX + "commit_stalled",
        "1 for a partition whose acked records cannot be committed because the oldest acked "
        "offset is more than one past the committed offset (see pipeline/commit_watch.py).",
        labels=["topic", "partition"],
    )
    for stalled in worker.commit_watch.stalled:
        family.add_metric([stalled.topic, str(stalled.partition)], 1)
    return family


def consumer_lag(app: Any, topics: Iterable[str]) -> list[tuple[str, int, int]]:
    """Return (topic, partition, lag) for the partitions of `topics` assigned to this worker.

    The highwater comes from the last fetch response, so a partition is left out until its
    first fetch. The committed offset is faust's own record of what it committed, or found
    committed at assignment. faust stores an offset of 0 as None, so None counts from 0.
    NOTE: `_committed_offset` is a private attribute of faust's Consumer (faust-streaming
    0.15); faust has no public accessor for it.
    """
    consumer = getattr(app, "_consumer", None)  # `app.consumer` would create a consumer
    if consumer is None:
        return []
    try:
        assigned = consumer.assignment()
    except ConsumerNotStarted:
        return []

    selected_topics = set(topics)
    committed = getattr(consumer, "_committed_offset", {})
    lags = []
    for tp in sorted(assigned):
        if tp.topic not in selected_topics:
            continue
        try:
            highwater = consumer.highwater(tp)
        except AssertionError:
            # aiokafka asserts that the partition is assigned; a rebalance may have revoked
            # it since assignment() returned.
            continue
        if highwater is None:
            continue
        done = committed.get(tp) or 0
        lags.append((tp.topic, tp.partition, max(0, highwater - done)))
    return lags


def _dedup_store_metric(worker: Worker) -> Metric:
    family = GaugeMetricFamily(
        PREFIX + "dedup_store_keys",
        "Keys in the dedup table on this worker's active partitions; one key per logical "
        "event and window. RocksDB gives an estimate (rocksdb.estimate-num-keys).",
    )
    keys = dedup_store_keys(worker.agent.table)
    if keys is not None:
        family.add_metric([], keys)
    return family


def dedup_store_keys(table: Any) -> int | None:
    """Count the keys of a faust table's store on this worker's active partitions.

    `table` is a faust Table or a windowed wrapper of one. For the RocksDB store the count
    is the sum of the `rocksdb.estimate-num-keys` property of each open active partition;
    for the memory store it is exact. Returns None before the store is opened.
    NOTE: `_data`, `_dbs` and `_dbs_for_actives` are private to faust's stores
    (faust-streaming 0.15), so a faust upgrade may break this.
    """
    inner = getattr(table, "table", table)  # a WindowWrapper keeps the Table in `.table`
    store = getattr(inner, "_data", None)  # `inner.data` would open a store
    if store is None:
        return None
    if not hasattr(store, "_dbs"):
        return len(store)

    # Standby partitions are open too, but their keys belong to another worker's count.
    databases = store._dbs_for_actives()
    return sum(_estimate_num_keys(database) for database in databases)


def _estimate_num_keys(database: Any) -> int:
    if hasattr(database, "property_int_value"):  # rocksdict
        return int(database.property_int_value(ESTIMATE_NUM_KEYS) or 0)
    value = database.get_property(ESTIMATE_NUM_KEYS.encode())  # python-rocksdb
    return int(value or 0)


def _readiness_metrics(worker: Worker) -> Iterator[Metric]:
    checks = worker.readiness()
    ready = GaugeMetricFamily(
        PREFIX + "ready", "1 when every readiness check passes, as GET /readyz reports."
    )
    ready.add_metric([], 1 if all(checks.values()) else 0)
    yield ready

    family = GaugeMetricFamily(
        PREFIX + "readiness_check", "1 when the readiness check passes.", labels=["check"]
    )
    for name, passed in sorted(checks.items()):
        family.add_metric([name], 1 if passed else 0)
    yield family
