"""Storage idempotency on the real embedded ClickHouse engine."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.dedup import RecordPosition, merge_report
from queries.events import fetch_user_events
from queries.stats import fetch_user_stats
from schemas.events import NotificationEvent
from sinks.clickhouse import EventWriter, build_event_row

MARCH = datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, 0, 0, 5, tzinfo=UTC)


def _row(occurred_at: datetime, offset: int, pipeline: datetime, reports: int = 1):
    event = NotificationEvent(
        event="delivered", user_id="u-900", message_id="msg-77", channel="push",
        occurred_at=occurred_at, device_id="d1",
    )
    state = None
    for n in range(reports):
        position = RecordPosition("events", 0, offset + n, int(pipeline.timestamp() * 1000))
        state, _ = merge_report(state, event, position)
    return build_event_row(event, state, position)


def test_same_event_three_inserts_reads_one(chdb_client, clickhouse_db):
    writer = EventWriter(chdb_client, clickhouse_db)
    first = _row(MARCH, offset=5, pipeline=MARCH)

    writer.insert([first], token="batch-a")
    writer.insert([first], token="batch-b")
    writer.insert([_row(APRIL, offset=900, pipeline=APRIL)], token="batch-c")

    stats = fetch_user_stats(chdb_client, clickhouse_db, "u-900")
    assert stats.total.counts.delivered == 1
    assert stats.by_channel["push"].counts.delivered == 1
    assert len(fetch_user_events(chdb_client, clickhouse_db, "u-900")) == 1


def test_retried_token_is_dropped(chdb_client, clickhouse_db):
    writer = EventWriter(chdb_client, clickhouse_db)
    row = _row(MARCH, offset=1, pipeline=MARCH)

    writer.insert([row], token="same")
    writer.insert([row], token="same")

    raw = chdb_client.query(f"SELECT count() FROM {clickhouse_db}.notification_events").result_rows
    assert raw == [(1,)]


def test_snapshot_with_most_reports_wins(chdb_client, clickhouse_db):
    writer = EventWriter(chdb_client, clickhouse_db)

    writer.insert([_row(MARCH, offset=1, pipeline=MARCH, reports=3)], token="t1")
    writer.insert([_row(MARCH, offset=1, pipeline=MARCH, reports=1)], token="t2")

    events = fetch_user_events(chdb_client, clickhouse_db, "u-900")
    assert [e["reports"] for e in events] == [3]


def test_unknown_user_reads_zero(chdb_client, clickhouse_db):
    stats = fetch_user_stats(chdb_client, clickhouse_db, "nobody")

    assert stats.total.counts.model_dump() == {"sent": 0, "delivered": 0, "viewed": 0, "clicked": 0, "failed": 0}
    assert stats.by_channel == {}
    assert stats.total.rates["delivery_rate"].value is None
