"""Benchmarks on the real broker: throughput, end-to-end delay, hot-path profile, scaling.

Throughput, delay and profile share one worker. The throughput phase drains a backlog that
was produced before the worker started. The delay phase then produces at half of that rate,
and the profile phase runs py-spy while the worker drains a second backlog.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import REPO_ROOT, latency_summary_ms, log, rss_bytes
from benchmarks.workers import (
    StalledError,
    TopicSet,
    Worker,
    create_topics,
    produce,
    total_lag,
    wait_all_ready,
    wait_lag_zero,
)

DRAIN_TIMEOUT_S = 1800.0
MARKER_INTERVAL_S = 0.5
MARKER_POLL_INTERVAL_S = 0.025
MARKER_TIMEOUT_S = 60.0
MARKER_PAGE_SIZE = 200  # the API's default max_page_size; more markers than this are not read
API_BASELINE_INTERVAL_S = 0.1
PRODUCE_TICK_S = 0.05


def demo_records(
    users: int, seed: int, *, min_records: int = 0
) -> list[tuple[bytes | None, bytes]]:
    """Return (key, value) records of seeded demo streams, at least `min_records` of them.

    When one stream of `users` users is too short, streams with the next seeds are
    appended. Their message ids differ, so they are new events, not replays.
    """
    from pipeline.demo_stream import DemoConfig, generate_demo_stream

    records: list[tuple[bytes | None, bytes]] = []
    next_seed = seed
    while True:
        stream = generate_demo_stream(DemoConfig(users=users, seed=next_seed))
        records.extend((r.key, r.value) for r in stream.records)
        next_seed += 1
        if len(records) >= min_records:
            return records


@dataclass
class PipelineSession:
    """One worker on its own topics, shared by the throughput, delay and profile phases."""

    bootstrap: str
    work_dir: Path
    prefix: str
    partitions: int = 4
    worker: Worker | None = None
    topics: TopicSet = field(init=False)

    def __post_init__(self) -> None:
        self.topics = TopicSet(self.prefix, self.partitions)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()


def run_throughput(session: PipelineSession, *, records_count: int, seed: int) -> dict[str, Any]:
    """Produce a backlog, start one worker, and time it from ready to consumer lag 0.

    The baseline is a bare aiokafka consumer that reads the same records from the same
    topic under a new group and only decodes each value with orjson. A faust agent that does
    the same (`benchmarks.faust_ceiling`) gives the framework's ceiling on this machine.
    """
    topics = session.topics
    create_topics(topics, session.bootstrap)
    records = demo_records(3000, seed, min_records=records_count)[:records_count]
    log(f"throughput: producing {len(records):,} records to {topics.events}")
    produce_s = produce(session.bootstrap, topics.events, records)

    worker = Worker("throughput", topics, session.bootstrap, session.work_dir).start()
    session.worker = worker
    started_s = time.monotonic()
    ready_s = wait_all_ready([worker])
    cpu_at_ready = worker.cpu_seconds()
    lag_at_ready = total_lag(session.bootstrap, topics.app_id, topics.events)
    log(f"throughput: worker ready after {ready_s - started_s:.1f} s, lag {lag_at_ready:,}")
    done_s = wait_lag_zero(
        session.bootstrap, topics.app_id, topics.events, timeout_s=DRAIN_TIMEOUT_S, workers=[worker]
    )
    cpu_used = worker.cpu_seconds() - cpu_at_ready
    drain_s = done_s - ready_s
    status, metrics = worker.get("/healthz")

    baseline = bare_consumer(
        session.bootstrap, topics.events, topics.partitions, f"{topics.prefix}-bare", len(records)
    )
    ceiling = faust_ceiling(session, len(records))
    result = {
        "records": len(records),
        "produce_s": produce_s,
        "startup_s": ready_s - started_s,
        "lag_at_ready": lag_at_ready,
        "drain_s": drain_s,
        "records_per_s": len(records) / drain_s,
        "worker_cpu_s": cpu_used,
        "records_per_cpu_s": len(records) / cpu_used if cpu_used else None,
        "worker_rss_after_bytes": rss_bytes(worker.pid),
        "baseline": baseline,
        "faust_ceiling": ceiling,
    }
    log(
        f"throughput: {result['records_per_s']:,.0f} records/s "
        f"({result['records_per_cpu_s'] or 0:,.0f} per worker CPU-second); bare consumer "
        f"{baseline['records_per_s']:,.0f} records/s; bare faust agent "
        f"{ceiling['records_per_s']:,.0f} records/s"
    )
    return result


FAUST_CEILING_TIMEOUT_S = 600.0


def faust_ceiling(session: PipelineSession, expected: int) -> dict[str, Any]:
    """Run `benchmarks.faust_ceiling` on the throughput topic and return its result."""
    topics = session.topics
    output = session.work_dir / "faust-ceiling.json"
    log_path = session.work_dir / "faust-ceiling.log"
    command = [
        sys.executable,
        "-m",
        "benchmarks.faust_ceiling",
        "--bootstrap",
        session.bootstrap,
        "--topic",
        topics.events,
        "--partitions",
        str(topics.partitions),
        "--records",
        str(expected),
        "--app-id",
        f"{topics.prefix}-faust-ceiling",
        "--data-dir",
        str(session.work_dir / "data-faust-ceiling"),
        "--output",
        str(output),
        "--timeout-s",
        str(FAUST_CEILING_TIMEOUT_S),
    ]
    with log_path.open("ab") as log_file:
        completed = subprocess.run(
            command,
            cwd=REPO_ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            timeout=FAUST_CEILING_TIMEOUT_S + 60,
            check=False,
        )
    if completed.returncode != 0 or not output.exists():
        tail = log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(
            f"the bare faust agent exited with {completed.returncode} and no result; "
            f"see {log_path}:\n{tail}"
        )
    return orjson.loads(output.read_bytes())


def bare_consumer(
    bootstrap: str, topic: str, partition_count: int, group: str, expected: int
) -> dict[str, Any]:
    """Read `expected` records from the start of `topic` and orjson-decode every value."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def run() -> dict[str, Any]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in range(partition_count)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            started_s = time.monotonic()
            cpu_started = time.process_time()
            seen = invalid = 0
            while seen < expected:
                batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
                for messages in batches.values():
                    for message in messages:
                        seen += 1
                        try:
                            orjson.loads(message.value)
                        except orjson.JSONDecodeError:
                            invalid += 1
            elapsed_s = time.monotonic() - started_s
            cpu_s = time.process_time() - cpu_started
        finally:
            await consumer.stop()
        return {
            "records": seen,
            "not_json": invalid,
            "elapsed_s": elapsed_s,
            "records_per_s": seen / elapsed_s,
            "cpu_s": cpu_s,
            "records_per_cpu_s": seen / cpu_s if cpu_s else None,
        }

    return asyncio.run(run())


def run_delay(
    session: PipelineSession, *, rate_per_s: float, duration_s: float, seed: int
) -> dict[str, Any]:
    """Produce at `rate_per_s` for `duration_s` with marker events; time produce → visible.

    A marker is a `sent` event of a user id that exists nowhere else. Its delay is from just
    before the producer's send to the first GET /api/v1/users/{id}/stats that counts it.
    The baseline polls the same endpoint for a user stored earlier, during the same load.
    """
    worker = session.worker
    assert worker is not None, "the delay phase runs on the throughput worker"
    topics = session.topics
    count = int(rate_per_s * duration_s) + 1
    records = demo_records(3000, seed, min_records=count)[:count]
    stored_user = orjson.loads(records[0][1])["user_id"]  # same user ids as the backlog
    log(f"delay: producing {len(records):,} records at {rate_per_s:,.0f}/s for {duration_s:.0f} s")
    result = asyncio.run(
        _produce_with_markers(
            session.bootstrap, topics, worker.port, records, rate_per_s, stored_user
        )
    )
    wait_lag_zero(
        session.bootstrap, topics.app_id, topics.events, timeout_s=DRAIN_TIMEOUT_S, workers=[worker]
    )
    return result


async def _produce_with_markers(
    bootstrap: str,
    topics: TopicSet,
    port: int,
    records: list[tuple[bytes | None, bytes]],
    rate_per_s: float,
    stored_user: str,
) -> dict[str, Any]:
    """Produce paced records and markers; one poller checks all pending markers per request.

    A single poller sends one search request at a time, so the polling load on the worker
    stays bounded however far the markers fall behind. A marker's delay is taken when the response
    that counts it arrives, so the error is at most one polling cycle (reported).
    """
    import aiohttp
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, acks="all", enable_idempotence=True
    )
    await producer.start()
    base_url = f"http://127.0.0.1:{port}/api/v1/users"
    # Unique per call, so markers of an earlier delay run on the same topics do not count.
    marker_prefix = f"marker-{topics.prefix}-{time.time_ns():x}-"
    pending_markers: dict[str, float] = {}  # user id -> produce time, in send order
    delays: list[float] = []
    cycles: list[float] = []
    api_round_trips: list[float] = []
    producing_done = asyncio.Event()

    async with aiohttp.ClientSession() as http:

        async def sent_count(user_id: str) -> int:
            async with http.get(f"{base_url}/{user_id}/stats") as response:
                body = await response.json(loads=orjson.loads)
                return int(body["total"]["counts"]["sent"])

        async def visible_markers() -> set[str]:
            # One search by the markers' common ID prefix returns every marker's summary
            # counts, so a cycle costs one query however many markers are pending.
            params = {"q": marker_prefix, "limit": str(MARKER_PAGE_SIZE)}
            async with http.get(f"{base_url}/search", params=params) as response:
                body = await response.json(loads=orjson.loads)
            return {r["user_id"] for r in body["results"] if r["summary"]["sent"] >= 1}

        async def poll_markers() -> None:
            while not producing_done.is_set() or pending_markers:
                cycle_started_s = time.monotonic()
                if pending_markers:
                    visible = await visible_markers()
                    now_s = time.monotonic()
                    for user_id, produced_s in list(pending_markers.items()):
                        if user_id in visible:
                            delays.append(now_s - produced_s)
                            del pending_markers[user_id]
                        elif now_s - produced_s > MARKER_TIMEOUT_S:
                            del pending_markers[user_id]
                    cycles.append(time.monotonic() - cycle_started_s + MARKER_POLL_INTERVAL_S)
                await asyncio.sleep(MARKER_POLL_INTERVAL_S)

        async def poll_stored_user() -> None:
            while not producing_done.is_set() or pending_markers:
                started_s = time.monotonic()
                await sent_count(stored_user)
                api_round_trips.append(time.monotonic() - started_s)
                await asyncio.sleep(API_BASELINE_INTERVAL_S)

        pollers = [asyncio.create_task(poll_markers()), asyncio.create_task(poll_stored_user())]
        pending = []
        started_s = time.monotonic()
        next_marker_s = started_s
        sent = 0
        markers = 0
        while sent < len(records):
            now_s = time.monotonic()
            due = min(len(records), int((now_s - started_s) * rate_per_s) + 1)
            for key, value in records[sent:due]:
                pending.append(await producer.send(topics.events, value=value, key=key))
            sent = due
            if now_s >= next_marker_s:
                user_id = f"{marker_prefix}{markers:05d}"
                marker = _marker_event(user_id)
                produced_s = time.monotonic()
                pending.append(
                    await producer.send(topics.events, value=marker, key=user_id.encode())
                )
                pending_markers[user_id] = produced_s
                markers += 1
                next_marker_s += MARKER_INTERVAL_S
            if len(pending) > 5000:
                await asyncio.gather(*pending)
                pending.clear()
            await asyncio.sleep(PRODUCE_TICK_S)
        await asyncio.gather(*pending)
        elapsed_s = time.monotonic() - started_s
        producing_done.set()
        await asyncio.gather(*pollers)
    await producer.stop()

    return {
        "records": len(records),
        "markers": markers,
        "markers_not_visible": markers - len(delays),
        "target_rate_per_s": rate_per_s,
        "achieved_rate_per_s": len(records) / elapsed_s,
        "produce_s": elapsed_s,
        "delay": latency_summary_ms(delays) if delays else None,
        "poll_cycle": latency_summary_ms(cycles) if cycles else None,
        "api_round_trip": latency_summary_ms(api_round_trips),
    }


def _marker_event(user_id: str) -> bytes:
    now = datetime.now(tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return orjson.dumps(
        {
            "event": "sent",
            "user_id": user_id,
            "message_id": f"{user_id}-message",
            "channel": "push",
            "occurred_at": now,
            "template": {"key": "benchmark_marker", "version": 1},
            "content": {"title": "marker", "body": "end-to-end delay marker"},
        }
    )


PY_SPY_DURATION_S = 20


def run_profile(
    session: PipelineSession, *, rate_per_s: float, seed: int, output: Path
) -> dict[str, Any]:
    """Profile the worker with py-spy for 20 s while it drains a fresh backlog.

    The backlog contains about 40 s of records at the measured throughput, so the worker is
    busy for the whole recording even though py-spy slows it.
    """
    worker = session.worker
    assert worker is not None, "the profile phase runs on the throughput worker"
    topics = session.topics
    count = max(20_000, int(rate_per_s * 40))
    records = demo_records(3000, seed, min_records=count)[:count]
    log(f"profile: producing {len(records):,} records, then py-spy for {PY_SPY_DURATION_S} s")
    produce(session.bootstrap, topics.events, records)
    command = [
        str(Path(sys.executable).with_name("py-spy")),
        "record",
        "-p",
        str(worker.pid),
        "-d",
        str(PY_SPY_DURATION_S),
        "-f",
        "raw",
        "-o",
        str(output),
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=PY_SPY_DURATION_S + 120
    )
    lag_after = total_lag(session.bootstrap, topics.app_id, topics.events)
    if completed.returncode != 0:
        raise RuntimeError(f"py-spy failed ({completed.returncode}): {completed.stderr[-2000:]}")
    wait_lag_zero(
        session.bootstrap, topics.app_id, topics.events, timeout_s=DRAIN_TIMEOUT_S, workers=[worker]
    )
    return {
        "command": " ".join(["py-spy", *command[1:3], "PID", *command[4:9], output.name]),
        "records": len(records),
        "lag_after_recording": lag_after,
        "py_spy_output": completed.stderr.strip().splitlines()[-2:] if completed.stderr else [],
    }


def run_idle_worker_rss(
    bootstrap: str, work_dir: Path, prefix: str, *, settle_s: float = 15.0
) -> dict[str, Any]:
    """Start a worker on empty topics and read its RSS after it has been idle for `settle_s`."""
    topics = TopicSet(prefix, 4)
    create_topics(topics, bootstrap)
    worker = Worker("idle", topics, bootstrap, work_dir).start()
    try:
        wait_all_ready([worker])
        time.sleep(settle_s)
        samples = []
        for _ in range(5):
            samples.append(rss_bytes(worker.pid))
            time.sleep(1)
        return {"rss_bytes": sorted(samples)[len(samples) // 2], "settle_s": settle_s}
    finally:
        worker.stop()


SCALING_SETTLE_S = 5.0


def run_scaling(
    bootstrap: str, work_dir: Path, prefix: str, *, partitions: int, records_count: int, seed: int
) -> dict[str, Any]:
    """Measure the aggregate rate of `partitions` partitions with one worker per partition.

    Each worker has its own data directory and so its own embedded ClickHouse. The workers
    start together on empty topics, as a deployment starts them. Once all are ready and the
    group has settled for 5 s, the backlog is produced as fast as the producer can. The rate
    is the records divided by the time from the first send to consumer lag 0, so no
    rebalance falls into the measured interval and every configuration is timed alike.

    If the group stalls (lag unchanged for 180 s), the attempt is recorded and repeated once
    on new topics with the workers started one after another, each after the previous one
    is ready.
    """
    attempts = []
    for attempt, staggered in enumerate((False, True)):
        result = _scaling_attempt(
            bootstrap,
            work_dir / f"p{partitions}-attempt{attempt}",
            f"{prefix}-p{partitions}-a{attempt}",
            partitions=partitions,
            records_count=records_count,
            seed=seed,
            staggered=staggered,
        )
        attempts.append(result)
        if not result["stalled"]:
            break
    final = dict(attempts[-1])
    final["attempts"] = attempts
    return final


def _scaling_attempt(
    bootstrap: str,
    work_dir: Path,
    prefix: str,
    *,
    partitions: int,
    records_count: int,
    seed: int,
    staggered: bool,
) -> dict[str, Any]:
    topics = TopicSet(prefix, partitions)
    create_topics(topics, bootstrap)
    records = demo_records(3000, seed, min_records=records_count)[:records_count]
    workers = [
        Worker(f"scale-p{partitions}-{index}", topics, bootstrap, work_dir)
        for index in range(partitions)
    ]
    result: dict[str, Any] = {
        "partitions": partitions,
        "workers": partitions,
        "records": len(records),
        "staggered_start": staggered,
        "stalled": False,
    }
    try:
        started_s = time.monotonic()
        for worker in workers:
            worker.start()
            if staggered:
                wait_all_ready([worker])
        result["startup_s"] = wait_all_ready(workers) - started_s
        time.sleep(SCALING_SETTLE_S)
        wait_all_ready(workers)
        cpu_before = sum(w.cpu_seconds() for w in workers)
        log(f"scaling: producing {len(records):,} records to {partitions} partition(s)")
        produce_started_s = time.monotonic()
        result["produce_s"] = produce(bootstrap, topics.events, records)
        try:
            done_s = wait_lag_zero(
                bootstrap, topics.app_id, topics.events, timeout_s=DRAIN_TIMEOUT_S, workers=workers
            )
        except StalledError as exc:
            log(f"scaling: {partitions} partition(s) stalled: {exc}")
            result.update(
                stalled=True,
                stalled_lag=exc.lag,
                events_in_per_worker=[w.events_in() for w in workers],
            )
            return result
        cpu_used = sum(w.cpu_seconds() for w in workers) - cpu_before
        result["events_in_per_worker"] = [w.events_in() for w in workers]
    finally:
        for worker in workers:
            worker.stop()
    elapsed_s = done_s - produce_started_s
    result.update(
        elapsed_s=elapsed_s,
        records_per_s=len(records) / elapsed_s,
        workers_cpu_s=cpu_used,
        records_per_cpu_s=len(records) / cpu_used if cpu_used else None,
    )
    log(f"scaling: {partitions} partition(s): {result['records_per_s']:,.0f} records/s")
    return result
