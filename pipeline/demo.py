"""`user-insights demo`: a realistic stream through the broker, checked against its ground truth."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.demo_stream import DemoConfig, DemoStream, generate_demo_stream
from pipeline.errors import UserInsightsError
from pipeline.local_reads import WorkerUnavailable, read_user_stats, worker_get
from pipeline.produce import send_records
from pipeline.render import render_user_stats
from pipeline.settings import Settings
from pipeline.topics import consumer_lag, ensure_topics

WORKER_START_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.25


def run_demo(settings: Settings, *, users: int, seed: int, timeout_s: float) -> int:
    """Produce the demo stream, wait until storage matches its ground truth, print insights."""
    stream = generate_demo_stream(DemoConfig(users=users, seed=seed))
    print(
        f"demo stream: {len(stream.records)} records for {stream.truth.users_with_events} users "
        f"({stream.truth.invalid_records} invalid records mixed in), seed {seed}"
    )

    worker = _running_worker_or_start(settings)
    try:
        baseline = _grand_totals(settings)
        elapsed_s = _produce_and_wait(settings, stream, baseline, timeout_s)
        _print_report(settings, stream, elapsed_s)
    finally:
        if worker is not None:
            _stop_worker(worker)
    return 0


def _running_worker_or_start(settings: Settings) -> subprocess.Popen[bytes] | None:
    try:
        worker_get(settings, "/healthz")
        print(f"using the worker at {settings.http_base_url}")
        return None
    except WorkerUnavailable:
        pass

    log_path = settings.data_dir / "demo-worker.log"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    print(f"starting a worker (log: {log_path})")
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "worker"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
    _wait_ready(settings, process, log_path)
    return process


def _wait_ready(settings: Settings, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UserInsightsError(
                f"the worker exited with code {process.returncode}; read {log_path}"
            )
        try:
            if worker_get(settings, "/readyz").get("ready"):
                return
        except (WorkerUnavailable, UserInsightsError):
            pass
        time.sleep(POLL_INTERVAL_S)
    _stop_worker(process)
    raise UserInsightsError(
        f"the worker was not ready after {WORKER_START_TIMEOUT_S:.0f} s; read {log_path}"
    )


def _stop_worker(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def _grand_totals(settings: Settings) -> dict[str, int]:
    return worker_get(settings, "/api/v1/totals")["unique_messages_by_event"]


def _produce_and_wait(
    settings: Settings, stream: DemoStream, baseline: dict[str, int], timeout_s: float
) -> float:
    truth = stream.truth.grand_totals()
    replay = baseline == truth
    if replay:
        print("this stream was stored before; it is sent again to show that replays change no count")
        expected = baseline
    else:
        expected = {e: baseline.get(e, 0) + n for e, n in truth.items()}

    records = [(r.key, r.value) for r in stream.records]
    started_s = time.monotonic()

    async def produce() -> None:
        await ensure_topics(settings)
        await send_records(settings.kafka_bootstrap_servers, settings.events_topic, records)

    asyncio.run(produce())
    produced_s = time.monotonic() - started_s
    print(f"produced {len(records)} records in {produced_s:.1f} s")

    deadline = started_s + timeout_s
    totals = _grand_totals(settings)
    while totals != expected or (replay and not _lag_is_zero(settings)):
        if time.monotonic() > deadline:
            raise UserInsightsError(
                f"storage did not reach the ground truth within {timeout_s:.0f} s: "
                f"stored {totals}, expected {expected}; a rerun on the same data directory "
                "stores nothing new (the stream is deduplicated), so use a fresh "
                "USER_INSIGHTS_DATA_DIR and topic to compare"
            )
        time.sleep(POLL_INTERVAL_S)
        totals = _grand_totals(settings)
    return time.monotonic() - started_s


def _lag_is_zero(settings: Settings) -> bool:
    lag = asyncio.run(
        consumer_lag(settings.kafka_bootstrap_servers, settings.app_id, settings.events_topic)
    )
    return all(value == 0 for value in lag.values())


def _print_report(settings: Settings, stream: DemoStream, elapsed_s: float) -> None:
    rate = len(stream.records) / elapsed_s if elapsed_s > 0 else float("inf")
    print(
        f"stored and matched the ground truth in {elapsed_s:.1f} s from the first produce: "
        f"{rate:,.0f} records/s end to end"
    )
    print(f"unique messages by event, all users: {stream.truth.grand_totals()}")

    busiest = sorted(
        stream.truth.unique, key=lambda u: (-sum(stream.truth.totals(u).values()), u)
    )[:3]
    for user_id in busiest:
        stats = read_user_stats(settings, user_id)
        print()
        print(render_user_stats(stats))
        matches = stats.total.counts.model_dump() == stream.truth.totals(user_id)
        print(f"ground truth {'matches' if matches else 'DIFFERS'}: {stream.truth.totals(user_id)}")
