"""The batching sink between the dedup agent and ClickHouse.

Lifecycle of one batch: the agent adds rows (and dead-letter deliveries) together with the
source records they came from; the batch is written when it reaches
``sink_batch_max_rows`` or is ``sink_flush_interval_s`` old; only after the insert succeeded
and every dead-letter record was delivered are the source records acked, and only acked
records are ever committed. A failed insert is retried with exponential backoff and the
agent waits meanwhile, so consumption stops (backpressure) instead of buffering without
bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import StorageError

log = logging.getLogger(__name__)

WriteBatch = Callable[[Sequence[Any], str], None]
# Acks one source record; a result of False means the record was deliberately not acked.
AckRecord = Callable[[Any], Awaitable[Any]]


@dataclass
class _Batch:
    rows: dict[str, Any] = field(default_factory=dict)
    records: list[Any] = field(default_factory=list)
    deliveries: list[Awaitable[Any]] = field(default_factory=list)
    opened_at_s: float = 0.0

    def __len__(self) -> int:
        return len(self.records)


@dataclass
class SinkCounters:
    """Totals since start, read by the health and metrics endpoints."""

    rows_written: int = 0
    batches_written: int = 0
    records_acked: int = 0
    records_not_acked: int = 0
    insert_failures: int = 0
    last_insert_s: float = 0.0
    last_batch_rows: int = 0


class EventSink:
    """Buffers snapshot rows per dedup key and writes them in batches before acking records."""

    def __init__(
        self,
        write_batch: WriteBatch,
        *,
        batch_max_rows: int,
        flush_interval_s: float,
        retry_initial_s: float,
        retry_max_s: float,
    ) -> None:
        self._write_batch = write_batch
        self._batch_max_rows = batch_max_rows
        self._flush_interval_s = flush_interval_s
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._batch = _Batch()
        self._lock = asyncio.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-sink")
        self._ack: AckRecord | None = None
        self._stopping = False
        self.storage_ok = True
        self.counters = SinkCounters()

    def bind_ack(self, ack: AckRecord) -> None:
        """Set the function that acks a source record; the agent calls this once it runs."""
        self._ack = ack

    @property
    def buffered_records(self) -> int:
        return len(self._batch)

    def buffered_row(self, key: str) -> Any:
        """Return the row buffered for `key` in the open batch, or None."""
        return self._batch.rows.get(key)

    async def add_row(self, key: str, row: Any, record: Any) -> None:
        """Buffer the latest snapshot row for `key`; waits while a full batch is written."""
        batch = self._open_batch()
        batch.rows[key] = row
        batch.records.append(record)
        await self._flush_if_full()

    async def add_delivery(self, delivery: Awaitable[Any], record: Any) -> None:
        """Buffer a dead-letter delivery; its source record is acked once it is delivered."""
        batch = self._open_batch()
        batch.deliveries.append(delivery)
        batch.records.append(record)
        await self._flush_if_full()

    async def flush_if_due(self) -> None:
        """Write the batch if it is older than the flush interval; the flush timer calls this."""
        batch = self._batch
        if batch.records and time.monotonic() - batch.opened_at_s >= self._flush_interval_s:
            await self.flush()

    async def run_flush_timer(self) -> None:
        """Call `flush_if_due` a few times per flush interval until cancelled."""
        tick_s = max(0.01, self._flush_interval_s / 4)
        while True:
            await asyncio.sleep(tick_s)
            try:
                await self.flush_if_due()
            except StorageError:
                log.exception("Scheduled flush gave up; the records stay unacked")

    async def flush(self, *, max_attempts: int | None = None) -> None:
        """Write the current batch, retrying until it is stored, then ack its records.

        With `max_attempts` (used at shutdown) a batch that still fails raises StorageError;
        its records stay unacked, so their offsets are not committed and are read again.
        """
        async with self._lock:
            batch = self._batch
            if not batch.records:
                return
            self._batch = _Batch()
            try:
                await self._store(batch, max_attempts)
            except BaseException:
                self._restore(batch)
                raise

            await self._ack_records(batch.records)

    async def close(self) -> None:
        """Flush what is buffered with a few attempts, then release the writer thread."""
        self._stopping = True
        try:
            await self.flush(max_attempts=3)
        finally:
            self._executor.shutdown(wait=False)

    def _open_batch(self) -> _Batch:
        batch = self._batch
        if not batch.records:
            batch.opened_at_s = time.monotonic()
        return batch

    async def _flush_if_full(self) -> None:
        if len(self._batch) >= self._batch_max_rows:
            await self.flush()

    def _restore(self, batch: _Batch) -> None:
        # Put the unwritten batch in front of anything buffered since, keeping order.
        newer = self._batch
        batch.rows.update(newer.rows)
        batch.records.extend(newer.records)
        batch.deliveries.extend(newer.deliveries)
        self._batch = batch

    async def _store(self, batch: _Batch, max_attempts: int | None) -> None:
        for delivery in batch.deliveries:
            await delivery

        rows = list(batch.rows.values())
        if rows:
            await self._insert_with_retry(rows, max_attempts)

    async def _insert_with_retry(
        self, rows: list[tuple[Any, ...]], max_attempts: int | None
    ) -> None:
        token = uuid.uuid4().hex
        delay_s = self._retry_initial_s
        attempt = 0
        loop = asyncio.get_running_loop()
        while True:
            attempt += 1
            started_s = time.monotonic()
            try:
                await loop.run_in_executor(self._executor, self._write_batch, rows, token)
            except StorageError as exc:
                self._on_insert_failed(exc, attempt, len(rows), delay_s)
                if max_attempts is not None and attempt >= max_attempts:
                    raise
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, self._retry_max_s)
                continue

            self._on_insert_ok(len(rows), time.monotonic() - started_s, attempt)
            return

    def _on_insert_failed(self, exc: Exception, attempt: int, rows: int, delay_s: float) -> None:
        self.storage_ok = False
        self.counters.insert_failures += 1
        log.warning(
            "ClickHouse insert failed; consumption is paused and the batch will be retried "
            "attempt=%d rows=%d retry_in_s=%.1f error=%s",
            attempt,
            rows,
            delay_s,
            exc,
        )

    def _on_insert_ok(self, rows: int, elapsed_s: float, attempt: int) -> None:
        if not self.storage_ok:
            log.info("ClickHouse accepts writes again attempt=%d rows=%d", attempt, rows)
        self.storage_ok = True
        self.counters.rows_written += rows
        self.counters.batches_written += 1
        self.counters.last_insert_s = elapsed_s
        self.counters.last_batch_rows = rows

    async def _ack_records(self, records: list[Any]) -> None:
        if self._ack is None:
            raise RuntimeError("EventSink.bind_ack() was not called before the first flush")
        acked = 0
        for record in records:
            if await self._ack(record) is not False:
                acked += 1
        self.counters.records_acked += acked
        skipped = len(records) - acked
        if skipped:
            self.counters.records_not_acked += skipped
            log.info(
                "Stored records read before the current partition assignment; their offsets "
                "are not committed here and their partition's owner reads them again "
                "records=%d",
                skipped,
            )


async def consume_into_sink(
    stream: Any, sink: EventSink, process: Callable[[Any], Awaitable[None]]
) -> None:
    """Run an agent body whose records are acked by `sink` after storage, not by faust.

    faust's automatic acks are turned off (`stream.noack()`), the sink gets the ack function,
    and the sink's flush timer runs while the agent consumes.
    """
    manual = stream.noack()
    sink.bind_ack(current_generation_ack(stream.app, manual.ack))
    flush_timer = asyncio.create_task(sink.run_flush_timer())
    try:
        async for record in manual.events():
            await process(record)
    finally:
        flush_timer.cancel()


def current_generation_ack(app: Any, ack: AckRecord) -> AckRecord:
    """Wrap `ack` so that it skips records read before the current partition assignment.

    faust deletes its record of acked offsets for revoked partitions when a rebalance starts
    (faust-streaming 0.15.3). An ack that arrives later, from a batch stored during or
    after the rebalance, would be kept as a stale offset, and if the partition came back to
    this worker, faust would commit nothing for it past that offset again. So no record is
    acked while the app rebalances or when it was read in an earlier consumer generation.
    Its row is stored, its offset is not committed, and the partition's owner reads it again,
    which storage absorbs.
    """

    async def ack_if_current(record: Any) -> bool:
        message = record.message
        if app.rebalancing or message.generation_id != app.consumer_generation_id:
            return False
        await ack(record)
        return True

    return ack_if_current
