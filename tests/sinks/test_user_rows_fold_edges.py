"""Edge cases where the Python fold and the engine's aggregation must still agree.

`ROWS_IN_PYTHON_MAX = -1` reads with LIMIT 0, so even a user or range without rows goes to
the engine. With 0, such a read would still return no rows and run the Python fold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import count

import pytest

from agents.dedup import RecordPosition, merge_report
from queries import user_rows
from queries.messages import fetch_messages
from queries.stats import fetch_user_stats
from schemas.events import NotificationEvent
from sinks.clickhouse import EventWriter, build_event_row

USER = "fold-edges"
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
KST = timezone(timedelta(hours=9))
_tokens = count()


def _ms(value: int) -> timedelta:
    return timedelta(milliseconds=value)


# (message_id, event, channel, time, template key or None). Several messages share T0, so
# the order falls back to message_id, which the engine compares as UTF-8 bytes and Python as
# code points (the same order). Message a is clicked 1.5 s before its `sent`, message b has
# a `sent` without a template, and some messages have no `sent` at all.
EVENTS = [
    ("a", "sent", "push", T0, "tpl-a"),
    ("a", "clicked", "push", T0 - _ms(1500), None),
    ("b", "sent", "push", T0, None),
    ("b", "clicked", "push", T0 + _ms(3), None),
    ("é", "delivered", "push", T0, None),
    ("z", "clicked", "sms", T0, None),
    ("😀", "failed", "sms", T0, None),
    ("c", "sent", "sms", T0 - _ms(1), "tpl-c"),
    ("c", "clicked", "sms", T0 + _ms(1), None),
    ("d", "sent", "email", T0 + _ms(1), "tpl-d"),
    ("d", "clicked", "email", T0 + _ms(3), None),
]


def _store(client, database: str, events) -> None:
    rows = []
    for offset, (message_id, event_type, channel, at, template_key) in enumerate(events):
        event = NotificationEvent(
            event=event_type,
            user_id=USER,
            message_id=message_id,
            channel=channel,
            occurred_at=at,
            template={"key": template_key, "version": 1} if template_key else None,
        )
        position = RecordPosition("events", 0, offset, int((at + _ms(1000)).timestamp() * 1000))
        state, _ = merge_report(None, event, position)
        rows.append(build_event_row(event, state, position))
    EventWriter(client, database).insert(rows, token=f"edges-{next(_tokens)}")


@pytest.fixture
def stored(chdb_client, clickhouse_db):
    _store(chdb_client, clickhouse_db, EVENTS)
    _store(chdb_client, clickhouse_db, EVENTS[::2])
    return chdb_client, clickhouse_db


def _both(monkeypatch, read):
    folded = read()
    with monkeypatch.context() as patch:
        patch.setattr(user_rows, "ROWS_IN_PYTHON_MAX", -1)
        engine = read()
    return folded, engine


RANGES = [
    {},
    {"since": T0},
    {"until": T0},
    {"since": T0 + timedelta(microseconds=500)},
    {"until": T0 + timedelta(microseconds=999)},
    {"since": (T0 + _ms(1)).astimezone(KST), "until": (T0 + _ms(2)).astimezone(KST)},
    {"since": T0 + timedelta(days=5), "until": T0 + timedelta(days=6)},
]


@pytest.mark.parametrize("bounds", RANGES)
def test_stats_edges_equal_engine(stored, monkeypatch, bounds):
    client, database = stored

    folded, engine = _both(monkeypatch, lambda: fetch_user_stats(client, database, USER, **bounds))

    assert folded == engine


def test_stats_edges_exact_delays(stored):
    client, database = stored

    stats = fetch_user_stats(client, database, USER)

    # Delays in ms: a -1500, b 3, c 2, d 2; the median of an even count is the mean.
    assert stats.total.clicks_timed == 4
    assert stats.total.median_sent_to_click_s == 0.002
    assert stats.by_channel["push"].median_sent_to_click_s == -0.7485


@pytest.mark.parametrize("bounds", RANGES)
@pytest.mark.parametrize(("limit", "offset"), [(50, 0), (2, 0), (2, 3), (3, 6), (1, 8), (5, 100)])
def test_message_list_edges_equal_engine(stored, monkeypatch, bounds, limit, offset):
    client, database = stored

    folded, engine = _both(
        monkeypatch,
        lambda: fetch_messages(client, database, USER, limit=limit, offset=offset, **bounds),
    )

    assert folded == engine


def test_message_list_ties_newest_id_first(stored):
    client, database = stored

    page = fetch_messages(client, database, USER)

    assert [m["message_id"] for m in page["messages"]] == ["d", "😀", "é", "z", "b", "c", "a"]
    by_id = {m["message_id"]: m for m in page["messages"]}
    assert by_id["b"]["template"] is None
    assert by_id["é"]["template"] is None
    assert by_id["a"]["template"] == {"key": "tpl-a", "version": "1"}
