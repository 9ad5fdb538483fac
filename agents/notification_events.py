"""The faust agent that validates, deduplicates and stores notification events.

Per record: parse the value (invalid → dead-letter topic), merge it into its dedup state in
the windowed table (see `agents.dedup` for the window rules), and hand the state's snapshot
row to the sink. Records are consumed without automatic acks: the sink acks them only after
their rows are stored, so no offset is committed ahead of storage. The agent runs with
``concurrency=1`` because faust can commit past an in-flight record when several instances
share a partition; throughput scales with partitions and workers instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import faust
from faust.types import EventT, StreamT

from agents.dead_letters import DeadLetterPublisher
from agents.dedup_store import MEMORY_BUDGET_OPTION, WindowPrefixTable, expiry_interval_s
from agents.dedup import DedupState, PipelineClock, RecordPosition, merge_report
from pipeline.errors import InvalidEventError
from pipeline.settings import Settings
from schemas.events import NotificationEvent, parse_event
from sinks.clickhouse import build_event_row
from sinks.event_sink import EventSink, consume_into_sink

log = logging.getLogger(__name__)

DEDUP_TABLE_NAME = "notification-dedup"
_TABLE_HELP = "Dedup state per (user_id, message_id, event); see agents/dedup.py."


def create_dedup_table(app: faust.App, settings: Settings) -> Any:
    """Create the windowed dedup table, bounded in memory and size (see agents/dedup_store.py).

    The app's store must be `faust_store_url(settings.table_store)`. With the RocksDB
    store, windows expire through the store's range deletions (`expire_windows`) and the
    changelog's retention. With the memory store, which has no range deletion, faust's own
    expiry removes closed windows.
    """
    window = timedelta(seconds=settings.dedup_window_s)
    retention_ms = int((settings.dedup_window_s + settings.dedup_expires_s) * 1000)
    if settings.table_store == "memory://":
        table = app.Table(
            DEDUP_TABLE_NAME, default=list, partitions=settings.topic_partitions, help=_TABLE_HELP
        )
        return table.tumbling(window, expires=timedelta(seconds=settings.dedup_expires_s))

    table = WindowPrefixTable(
        app,
        name=DEDUP_TABLE_NAME,
        default=list,
        beacon=app.tables.beacon,
        partitions=settings.topic_partitions,
        options={MEMORY_BUDGET_OPTION: settings.dedup_store_memory_mib * 1024**2},
        # Without faust's expiry the changelog must shrink by time: Kafka deletes closed
        # segments older than the retention, and a segment closes after segment.ms.
        extra_topic_configs={
            "cleanup.policy": "compact,delete",
            "retention.ms": str(retention_ms),
            "segment.ms": str(max(60_000, int(settings.dedup_window_s * 1000))),
        },
        help=_TABLE_HELP,
    )
    app.tables.add(table)
    return table.tumbling(window)


async def expire_windows(store: Any, cutoff_s: float) -> None:
    """Delete the dedup windows that start before `cutoff_s`, then compact their range."""
    started_s = time.monotonic()
    databases = store.delete_windows_before(cutoff_s)
    await asyncio.to_thread(store.compact_expired, cutoff_s)
    log.info(
        "Deleted expired dedup windows databases=%d windows_before=%s elapsed_s=%.1f",
        databases,
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cutoff_s)),
        time.monotonic() - started_s,
    )


class PipelineCounters:
    """Counts since start, read by the health and metrics endpoints."""

    def __init__(self) -> None:
        self.records_in = 0
        self.reports_counted = 0
        self.unique_events = 0
        self.duplicates = 0
        self.replayed = 0
        self.dead_lettered = 0


class NotificationEventsAgent:
    """Registers the dedup table and the agent on a faust app and runs the per-record steps."""

    def __init__(self, app: faust.App, settings: Settings, sink: EventSink) -> None:
        self._settings = settings
        self._sink = sink
        self._clock = PipelineClock(settings.dedup_max_clock_skew_s)
        self._window_s = settings.dedup_window_s
        self._retention_s = settings.dedup_window_s + settings.dedup_expires_s
        self.counters = PipelineCounters()

        self.source = app.topic(
            settings.events_topic,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.topic_partitions,
        )
        self._dead_letters = DeadLetterPublisher(
            app.topic(
                settings.dead_letter_topic,
                key_serializer="raw",
                value_serializer="raw",
                partitions=settings.topic_partitions,
            )
        )
        self.table = table = create_dedup_table(app, settings)
        self._current = table.relative_to(self._pipeline_time_s)
        self._previous = table.relative_to(self._previous_window_time_s)
        self.agent = app.agent(self.source, name="notification-events", concurrency=1)(
            self._consume
        )
        if settings.table_store == "rocksdb://":
            app.timer(expiry_interval_s(self._retention_s), name="dedup-store-expiry")(
                self._expire_windows
            )

    async def _expire_windows(self) -> None:
        await expire_windows(self.table.table.data, time.time() - self._retention_s)

    async def _consume(self, stream: StreamT) -> None:
        await consume_into_sink(stream, self._sink, self.process)

    async def process(self, record: EventT) -> None:
        """Validate, deduplicate and buffer one record; invalid ones go to the dead-letter topic."""
        self.counters.records_in += 1
        message = record.message
        try:
            event = parse_event(record.value)
        except InvalidEventError as exc:
            await self._dead_letter(record, exc)
            return

        position = RecordPosition(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            pipeline_time_ms=int(self._pipeline_time_s(record) * 1000),
        )
        state = self._merge(event, position)
        row = build_event_row(event, state, position)
        await self._sink.add_row(event.dedup_key, row, record)

    def _merge(self, event: NotificationEvent, position: RecordPosition) -> DedupState:
        key = event.dedup_key
        stored = self._current[key].value() or self._previous[key].value()
        previous = DedupState.from_json(stored) if stored else None

        state, counted = merge_report(previous, event, position)
        if not counted:
            self.counters.replayed += 1
            return state

        self.counters.reports_counted += 1
        if previous is None:
            self.counters.unique_events += 1
        else:
            self.counters.duplicates += 1
        self._current[key] = state.to_json()
        return state

    async def _dead_letter(self, record: EventT, exc: InvalidEventError) -> None:
        message = record.message
        self.counters.dead_lettered += 1
        log.warning(
            "Invalid record sent to the dead-letter topic topic=%s[%d] offset=%d reason=%s",
            message.topic,
            message.partition,
            message.offset,
            exc.reason,
        )
        delivery = await self._dead_letters.publish(message, exc)
        await self._sink.add_delivery(delivery, record)

    def _pipeline_time_s(self, record: Any) -> float:
        return self._clock.pipeline_time_s(record.message.timestamp)

    def _previous_window_time_s(self, record: Any) -> float:
        return self._pipeline_time_s(record) - self._window_s
