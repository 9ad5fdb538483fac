"""Two workers in one consumer group split the partitions and together give the exact counts.

With the embedded database each worker owns its own data path, so each stores the users of
its partitions. Both join before any record is produced, so no partition moves mid-stream and
every user's events land in exactly one worker's storage. (Moving partitions while records
flow needs a shared ClickHouse server; see docs/scaling.md.)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.demo_stream import DemoConfig, generate_demo_stream
from tests.support.kafka import consumer_lag, produce
from tests.support.workers import WorkerFactory, wait_until

pytestmark = pytest.mark.integration

ZERO = {"sent": 0, "delivered": 0, "viewed": 0, "clicked": 0, "failed": 0}


def test_two_workers_split_partitions(workers: WorkerFactory, kafka_bootstrap: str):
    stream = generate_demo_stream(DemoConfig(users=400, seed=5))
    first = workers.start("w1")
    second = workers.start("w2")
    wait_until(
        lambda: first.request("GET", "/readyz")[0] == 200 and second.request("GET", "/readyz")[0] == 200,
        timeout_s=120,
        what="both workers to finish the rebalance",
    )

    produce(kafka_bootstrap, workers.events_topic, [(r.key, r.value, None) for r in stream.records])
    wait_until(
        lambda: sum(consumer_lag(kafka_bootstrap, workers.app_id, workers.events_topic).values()) == 0,
        timeout_s=300,
        interval_s=1,
        what="both workers to process and commit every record",
    )

    totals = [w.get("/api/v1/totals")["unique_messages_by_event"] for w in (first, second)]
    combined = {event: totals[0][event] + totals[1][event] for event in ZERO}
    assert combined == stream.truth.grand_totals()
    assert totals[0] != ZERO
    assert totals[1] != ZERO

    def user_counts(user_id: str) -> tuple[str, dict, dict]:
        a = first.get(f"/api/v1/users/{user_id}/stats")["total"]["counts"]
        b = second.get(f"/api/v1/users/{user_id}/stats")["total"]["counts"]
        return user_id, a, b

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(user_counts, stream.user_ids))

    split_users = [u for u, a, b in results if a != ZERO and b != ZERO]
    wrong = [u for u, a, b in results if (a if a != ZERO else b) != stream.truth.totals(u)]
    assert split_users == []
    assert wrong == []
