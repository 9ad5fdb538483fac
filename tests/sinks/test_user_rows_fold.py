"""A user's stats and message list folded in Python equal the engine's aggregation.

`fetch_user_stats` and `fetch_messages` fold the rows of a user with few rows in Python and
aggregate in ClickHouse otherwise. Each test stores one user's events, with duplicate
snapshots, several channels and days, and compares both ways on the real embedded engine.
Setting `ROWS_IN_PYTHON_MAX` to -1 sends every call to the engine.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from agents.dedup import RecordPosition, merge_report
from queries import user_rows
from queries.messages import fetch_messages
from queries.stats import fetch_user_stats
from schemas.events import NotificationEvent
from sinks.clickhouse import EventWriter, build_event_row

USER = "fold-1"
START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
_tokens = count()

# (message_id, event, channel, minutes after START). A message's events share its channel:
# for a message reported on two channels the engine's any(channel) may pick either one, and
# a merge may keep either snapshot, so such a message has no single expected result.
EVENTS = [
    ("m-01", "sent", "push", 0),
    ("m-01", "delivered", "push", 1),
    ("m-01", "viewed", "push", 2),
    ("m-01", "clicked", "push", 7),
    ("m-02", "sent", "sms", 30),
    ("m-02", "failed", "sms", 31),
    ("m-03", "sent", "push", 60 * 24),
    ("m-03", "clicked", "push", 60 * 24 + 3),
    ("m-04", "delivered", "email", 60 * 25),
    ("m-04", "clicked", "email", 60 * 25 + 9),
    ("m-05", "sent", "alimtalk", 60 * 48),
    ("m-06", "sent", "push", 60 * 48),
    ("m-06", "clicked", "push", 60 * 48 + 1),
    ("m-07", "sent", "inapp", 60 * 49),
    ("m-07", "viewed", "inapp", 60 * 49 + 5),
    ("m-08", "sent", "email", 60 * 72),
    ("m-08", "clicked", "email", 60 * 72 + 11),
]


def store_events(client, database: str, events: list[tuple[str, str, str, int]]) -> None:
    """Insert the events of USER in one batch, as the dedup agent's sink would."""
    rows = []
    for offset, (message_id, event_type, channel, minutes) in enumerate(events):
        occurred_at = START + timedelta(minutes=minutes)
        event = NotificationEvent(
            event=event_type,
            user_id=USER,
            message_id=message_id,
            channel=channel,
            occurred_at=occurred_at,
            template={"key": f"tpl-{message_id}", "version": 2} if event_type == "sent" else None,
            content={"title": f"Title {message_id}"} if event_type == "sent" else None,
        )
        pipeline_ms = int((occurred_at + timedelta(seconds=1)).timestamp() * 1000)
        position = RecordPosition("events", 0, offset, pipeline_ms)
        state, _ = merge_report(None, event, position)
        rows.append(build_event_row(event, state, position))
    EventWriter(client, database).insert(rows, token=f"fold-{next(_tokens)}")


@pytest.fixture
def stored_user(chdb_client, clickhouse_db):
    store_events(chdb_client, clickhouse_db, EVENTS)
    # A second snapshot of some events, as a replay before a merge leaves them.
    store_events(chdb_client, clickhouse_db, EVENTS[::3])
    return chdb_client, clickhouse_db


def in_engine(monkeypatch, read):
    # With a negative limit the row read returns nothing, so also a user with no rows in the
    # range goes to the engine.
    with monkeypatch.context() as patch:
        patch.setattr(user_rows, "ROWS_IN_PYTHON_MAX", -1)
        return read()


def test_rows_over_limit_read_none(stored_user, monkeypatch):
    client, database = stored_user
    stored_rows = len(EVENTS) + len(EVENTS[::3])

    monkeypatch.setattr(user_rows, "ROWS_IN_PYTHON_MAX", stored_rows)
    rows = user_rows.read_event_rows(client, database, USER, user_rows.STATS_COLUMNS)
    assert rows is not None
    assert len(rows) == stored_rows

    monkeypatch.setattr(user_rows, "ROWS_IN_PYTHON_MAX", stored_rows - 1)
    assert user_rows.read_event_rows(client, database, USER, user_rows.STATS_COLUMNS) is None


@pytest.mark.parametrize(
    ("since_days", "until_days"),
    [(None, None), (1, None), (None, 2), (1, 3), (5, 6)],
)
def test_stats_fold_equals_engine(stored_user, monkeypatch, since_days, until_days):
    client, database = stored_user
    since = START + timedelta(days=since_days) if since_days is not None else None
    until = START + timedelta(days=until_days) if until_days is not None else None

    folded = fetch_user_stats(client, database, USER, since=since, until=until)
    engine = in_engine(
        monkeypatch, lambda: fetch_user_stats(client, database, USER, since=since, until=until)
    )

    assert folded == engine


def test_stats_fold_exact_values(stored_user):
    client, database = stored_user

    stats = fetch_user_stats(client, database, USER)

    assert stats.total.counts.sent == 7
    assert stats.total.counts.clicked == 5
    assert stats.total.counts.failed == 1
    assert stats.by_channel["push"].counts.sent == 3
    assert stats.by_channel["sms"].counts.sent == 1
    assert stats.by_channel["email"].counts.delivered == 1
    # Clicks with a `sent` event: m-01 7 min, m-03 3 min, m-06 1 min, m-08 11 min.
    assert stats.total.clicks_timed == 4
    assert stats.total.median_sent_to_click_s == 300.0
    assert stats.by_channel["push"].median_sent_to_click_s == 180.0
    assert stats.total.first_event_at == START
    assert stats.total.last_event_at == START + timedelta(minutes=60 * 72 + 11)


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"channel": "push"},
        {"event": "clicked"},
        {"channel": "email", "event": "clicked"},
        {"since": START + timedelta(days=1)},
        {"until": START + timedelta(days=2)},
        {"since": START + timedelta(days=1), "until": START + timedelta(days=2, hours=1)},
        {"channel": "alimtalk", "event": "failed"},
        # Microseconds beyond the milliseconds: the engine truncates the parameter.
        {"since": START + timedelta(minutes=30, microseconds=999)},
        {"until": START + timedelta(days=1, microseconds=1)},
    ],
)
def test_message_list_fold_equals_engine(stored_user, monkeypatch, filters):
    client, database = stored_user

    for limit, offset in [(50, 0), (3, 0), (3, 3), (3, 6), (2, 40)]:
        folded = fetch_messages(client, database, USER, limit=limit, offset=offset, **filters)
        engine = in_engine(
            monkeypatch,
            lambda: fetch_messages(client, database, USER, limit=limit, offset=offset, **filters),
        )
        assert folded == engine, f"limit={limit} offset={offset} filters={filters}"


def test_message_list_fold_exact_page(stored_user):
    client, database = stored_user

    page = fetch_messages(client, database, USER, limit=2, offset=1)

    assert page["total"] == 8
    assert [m["message_id"] for m in page["messages"]] == ["m-07", "m-06"]
    assert page["messages"][1]["events"] == ["sent", "clicked"]
    assert page["messages"][1]["template"] == {"key": "tpl-m-06", "version": "2"}
    assert page["messages"][1]["title"] == "Title m-06"


def test_message_without_sent_has_no_template(stored_user):
    client, database = stored_user

    page = fetch_messages(client, database, USER, channel="email", event="delivered")

    assert [m["message_id"] for m in page["messages"]] == ["m-04"]
    assert page["messages"][0]["template"] is None
    assert page["messages"][0]["title"] is None
    assert page["messages"][0]["events"] == ["delivered", "clicked"]


def test_unknown_user_folds_empty(chdb_client, clickhouse_db):
    stats = fetch_user_stats(chdb_client, clickhouse_db, "nobody")
    page = fetch_messages(chdb_client, clickhouse_db, "nobody", offset=10)

    assert stats.total.counts.sent == 0
    assert stats.by_channel == {}
    assert page["total"] == 0
    assert page["messages"] == []


def test_late_earlier_snapshot_counts_once(chdb_client, clickhouse_db, monkeypatch):
    """A second report that occurred earlier leaves two snapshots until a merge; both count once."""
    table = f"{clickhouse_db}.notification_events"
    chdb_client.command(f"SYSTEM STOP MERGES {table}")
    try:
        store_reports_of_one_event(chdb_client, clickhouse_db, occurred_minutes=[60, 0])
        assert chdb_client.query(f"SELECT count() FROM {table}").result_rows[0][0] == 2

        for read in (lambda f: f(), lambda f: in_engine(monkeypatch, f)):
            after_start = read(
                lambda: fetch_user_stats(
                    chdb_client, clickhouse_db, USER, since=START + timedelta(minutes=30)
                )
            )
            around_start = read(
                lambda: fetch_user_stats(
                    chdb_client,
                    clickhouse_db,
                    USER,
                    since=START - timedelta(hours=1),
                    until=START + timedelta(minutes=30),
                )
            )
            everything = read(lambda: fetch_user_stats(chdb_client, clickhouse_db, USER))
            page = read(lambda: fetch_messages(chdb_client, clickhouse_db, USER))

            assert after_start.total.counts.sent == 0
            assert around_start.total.counts.sent == 1
            assert everything.total.last_event_at == START
            assert page["total"] == 1
            assert page["messages"][0]["first_event_at"] == START
            assert page["messages"][0]["last_event_at"] == START
    finally:
        chdb_client.command(f"SYSTEM START MERGES {table}")


def store_reports_of_one_event(client, database: str, occurred_minutes: list[int]) -> None:
    """Store one snapshot per report of a single `sent` event, merged as the dedup agent does."""
    state = None
    for offset, minutes in enumerate(occurred_minutes, start=1):
        occurred_at = START + timedelta(minutes=minutes)
        event = NotificationEvent(
            event="sent", user_id=USER, message_id="late-1", channel="push", occurred_at=occurred_at
        )
        pipeline_ms = int((START + timedelta(minutes=61 + offset)).timestamp() * 1000)
        position = RecordPosition("events", 0, offset, pipeline_ms)
        state, _ = merge_report(state, event, position)
        row = build_event_row(event, state, position)
        EventWriter(client, database).insert([row], token=f"fold-{next(_tokens)}")
