"""EventSink lifecycle: batching, acks only after storage, retry and backpressure."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from pipeline.errors import StorageError
from sinks.event_sink import EventSink, current_generation_ack


class RecordingStore:
    """A concrete in-memory destination whose next `failures_left` writes fail."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[tuple], str]] = []
        self.failures_left = 0
        self.tokens_tried: list[str] = []

    def write(self, rows, token: str) -> None:
        self.tokens_tried.append(token)
        if self.failures_left:
            self.failures_left -= 1
            raise StorageError("storage is down")
        self.batches.append((list(rows), token))


def _sink(store: RecordingStore, **kw) -> tuple[EventSink, list]:
    acked: list = []

    async def ack(record) -> None:
        acked.append(record)

    params = {"batch_max_rows": 3, "flush_interval_s": 10.0, "retry_initial_s": 0.01, "retry_max_s": 0.05}
    params.update(kw)
    sink = EventSink(store.write, **params)
    sink.bind_ack(ack)
    return sink, acked


async def test_full_batch_is_written_then_acked():
    store = RecordingStore()
    sink, acked = _sink(store)

    await sink.add_row("k1", ("row1",), "r1")
    await sink.add_row("k2", ("row2",), "r2")
    assert acked == []
    await sink.add_row("k3", ("row3",), "r3")

    assert [rows for rows, _ in store.batches] == [[("row1",), ("row2",), ("row3",)]]
    assert acked == ["r1", "r2", "r3"]


async def test_latest_snapshot_per_key_wins():
    store = RecordingStore()
    sink, acked = _sink(store)

    await sink.add_row("k1", ("v1",), "r1")
    await sink.add_row("k1", ("v2",), "r2")
    await sink.flush()

    assert store.batches[0][0] == [("v2",)]
    assert acked == ["r1", "r2"]


async def test_failed_insert_retries_same_token():
    store = RecordingStore()
    store.failures_left = 2
    sink, acked = _sink(store)

    await sink.add_row("k1", ("v1",), "r1")
    await sink.flush()

    assert len(store.tokens_tried) == 3
    assert len(set(store.tokens_tried)) == 1
    assert acked == ["r1"]
    assert sink.storage_ok is True
    assert sink.counters.insert_failures == 2


async def test_outage_blocks_producer_until_recovery():
    store = RecordingStore()
    store.failures_left = 10_000
    sink, acked = _sink(store, batch_max_rows=2)

    await sink.add_row("k1", ("v1",), "r1")
    blocked = asyncio.create_task(sink.add_row("k2", ("v2",), "r2"))
    await asyncio.sleep(0.2)

    assert not blocked.done()
    assert sink.storage_ok is False
    assert acked == []
    store.failures_left = 0
    await asyncio.wait_for(blocked, timeout=2)
    assert acked == ["r1", "r2"]


async def test_close_gives_up_without_acks():
    store = RecordingStore()
    store.failures_left = 100
    sink, acked = _sink(store)
    await sink.add_row("k1", ("v1",), "r1")

    with pytest.raises(StorageError):
        await sink.close()

    assert acked == []
    assert sink.buffered_records == 1


async def test_dead_letter_waits_for_delivery():
    store = RecordingStore()
    sink, acked = _sink(store)
    delivered = asyncio.get_running_loop().create_future()

    await sink.add_delivery(delivered, "bad-record")
    flushing = asyncio.create_task(sink.flush())
    await asyncio.sleep(0.05)
    assert acked == []
    delivered.set_result(None)
    await flushing

    assert acked == ["bad-record"]
    assert store.batches == []


async def test_flush_timer_writes_old_batch():
    store = RecordingStore()
    sink, acked = _sink(store, flush_interval_s=0.05, batch_max_rows=1000)
    timer = asyncio.create_task(sink.run_flush_timer())
    try:
        await sink.add_row("k1", ("v1",), "r1")
        await asyncio.sleep(0.3)
    finally:
        timer.cancel()

    assert acked == ["r1"]


class FakeApp:
    """The two attributes of a faust app that `current_generation_ack` reads."""

    def __init__(self) -> None:
        self.rebalancing = False
        self.consumer_generation_id = 7


def _record(generation_id: int) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(generation_id=generation_id))


async def test_ack_skips_earlier_generation():
    app = FakeApp()
    acked: list = []

    async def ack(record) -> None:
        acked.append(record)

    gated = current_generation_ack(app, ack)
    current, earlier = _record(7), _record(6)

    assert await gated(current) is True
    assert await gated(earlier) is False
    assert acked == [current]


async def test_ack_skips_while_rebalancing():
    app = FakeApp()
    app.rebalancing = True
    acked: list = []

    async def ack(record) -> None:
        acked.append(record)

    assert await current_generation_ack(app, ack)(_record(7)) is False
    assert acked == []


async def test_sink_counts_records_not_acked():
    app = FakeApp()
    store = RecordingStore()
    acked: list = []

    async def ack(record) -> None:
        acked.append(record)

    sink = EventSink(
        store.write, batch_max_rows=10, flush_interval_s=10.0, retry_initial_s=0.01, retry_max_s=0.05
    )
    sink.bind_ack(current_generation_ack(app, ack))
    first, second = _record(7), _record(7)
    await sink.add_row("k1", ("row1",), first)
    app.consumer_generation_id = 8  # a rebalance between reading and storing `first`
    await sink.add_row("k2", ("row2",), second)
    await sink.flush()

    assert len(store.batches) == 1
    assert acked == []
    assert sink.counters.records_acked == 0
    assert sink.counters.records_not_acked == 2
