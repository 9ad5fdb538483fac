"""The demo stream end to end: every user's counts equal the generator's own ground truth."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.demo_stream import DemoConfig, generate_demo_stream
from tests.support.kafka import consumer_lag, produce
from tests.support.workers import WorkerFactory, wait_until

pytestmark = pytest.mark.integration


def test_demo_stream_matches_truth(workers: WorkerFactory, kafka_bootstrap: str):
    stream = generate_demo_stream(DemoConfig(users=500, seed=7))
    truth = stream.truth
    worker = workers.start()

    produce(kafka_bootstrap, workers.events_topic, [(r.key, r.value, None) for r in stream.records])

    wait_until(
        lambda: worker.get("/api/v1/totals")["unique_messages_by_event"] == truth.grand_totals(),
        timeout_s=240,
        interval_s=1,
        what="stored totals to reach the ground truth",
    )
    wait_until(
        lambda: sum(consumer_lag(kafka_bootstrap, workers.app_id, workers.events_topic).values()) == 0,
        timeout_s=60,
        interval_s=1,
        what="every record, the invalid ones included, to be committed",
    )

    def user_counts(user_id: str) -> tuple[str, dict, dict]:
        stats = worker.get(f"/api/v1/users/{user_id}/stats")
        by_channel = {ch: g["counts"] for ch, g in stats["by_channel"].items()}
        return user_id, stats["total"]["counts"], by_channel

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(user_counts, stream.user_ids))

    wrong_totals = [u for u, total, _ in results if total != truth.totals(u)]
    wrong_channels = [u for u, _, by_channel in results if by_channel != truth.by_channel(u)]
    assert wrong_totals == []
    assert wrong_channels == []
    assert truth.invalid_records > 0
