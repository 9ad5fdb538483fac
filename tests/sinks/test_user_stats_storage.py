"""Per-user stats on the real embedded ClickHouse: counts per channel, totals, click delays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.dedup import RecordPosition, merge_report
from queries.stats import fetch_user_stats
from schemas.events import NotificationEvent
from sinks.clickhouse import EventWriter, build_event_row

SENT_AT = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
USER = "st-1"


def insert_events(client, database: str, events: list[tuple[str, str, str, datetime]]) -> None:
    """Store (message_id, event, channel, occurred_at) events of USER as the dedup agent would."""
    rows = []
    for offset, (message_id, event_type, channel, occurred_at) in enumerate(events):
        event = NotificationEvent(
            event=event_type,
            user_id=USER,
            message_id=message_id,
            channel=channel,
            occurred_at=occurred_at,
        )
        pipeline_ms = int((occurred_at + timedelta(seconds=1)).timestamp() * 1000)
        state, _ = merge_report(None, event, RecordPosition("events", 0, offset, pipeline_ms))
        rows.append(build_event_row(event, state, RecordPosition("events", 0, offset, pipeline_ms)))
    EventWriter(client, database).insert(rows, token=f"stats-{len(rows)}-{rows[0][1]}")


def clicked_after(
    message_id: str, channel: str, seconds: int
) -> list[tuple[str, str, str, datetime]]:
    return [
        (message_id, "sent", channel, SENT_AT),
        (message_id, "clicked", channel, SENT_AT + timedelta(seconds=seconds)),
    ]


def test_two_channel_message_counted_once(chdb_client, clickhouse_db):
    insert_events(
        chdb_client,
        clickhouse_db,
        [("m-1", "sent", "push", SENT_AT), ("m-2", "sent", "push", SENT_AT)],
    )
    insert_events(chdb_client, clickhouse_db, [("m-1", "sent", "sms", SENT_AT)])

    stats = fetch_user_stats(chdb_client, clickhouse_db, USER)

    # m-1's `sent` is one logical event, so it counts in one of its two channels, as it
    # does once a merge keeps one of its two rows.
    sms = stats.by_channel["sms"].counts.sent if "sms" in stats.by_channel else 0
    assert stats.total.counts.sent == 2
    assert stats.by_channel["push"].counts.sent + sms == 2
    assert stats.by_channel["push"].counts.sent >= 1


def test_click_delay_medians(chdb_client, clickhouse_db):
    insert_events(
        chdb_client,
        clickhouse_db,
        [
            *clicked_after("m-1", "push", 10),
            *clicked_after("m-2", "push", 30),
            *clicked_after("m-3", "sms", 20),
            *clicked_after("m-4", "sms", 40),
            ("m-5", "clicked", "push", SENT_AT),
            ("m-6", "sent", "push", SENT_AT),
        ],
    )

    stats = fetch_user_stats(chdb_client, clickhouse_db, USER)

    assert stats.total.median_sent_to_click_s == 25.0
    assert stats.total.clicks_timed == 4
    assert stats.by_channel["push"].median_sent_to_click_s == 20.0
    assert stats.by_channel["push"].clicks_timed == 2
    assert stats.by_channel["sms"].median_sent_to_click_s == 30.0
    assert stats.by_channel["sms"].clicks_timed == 2


def test_time_range_bounds_counts_and_delays(chdb_client, clickhouse_db):
    insert_events(
        chdb_client,
        clickhouse_db,
        [*clicked_after("m-1", "push", 10), ("m-2", "sent", "push", SENT_AT + timedelta(days=1))],
    )

    first_day = fetch_user_stats(
        chdb_client, clickhouse_db, USER, since=SENT_AT, until=SENT_AT + timedelta(days=1)
    )
    second_day = fetch_user_stats(
        chdb_client, clickhouse_db, USER, since=SENT_AT + timedelta(days=1)
    )

    assert first_day.total.counts.sent == 1
    assert first_day.total.counts.clicked == 1
    assert first_day.total.median_sent_to_click_s == 10.0
    assert first_day.total.first_event_at == SENT_AT
    assert second_day.total.counts.sent == 1
    assert second_day.total.counts.clicked == 0
    assert second_day.total.median_sent_to_click_s is None
    assert second_day.total.clicks_timed == 0
