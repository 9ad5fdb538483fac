"""One read of a user's event rows, folded in Python when the user has few of them.

The aggregation queries in `queries.stats` and `queries.messages` took 10 to 12 ms each at
the median, also for a user without any row, and a plain read of the same user's rows took 4
to 5 ms. That was measured on embedded chDB 26.9 with 1M users and 50M events in 5 parts, on
the 2-core benchmark machine of docs/benchmarks.md. So `fetch_user_stats` and
`fetch_messages` first read the rows, at most `ROWS_IN_PYTHON_MAX` of them, and fold them
here. For a user with more rows they run the aggregation in the
engine. Both ways give the same result, and tests compare them on the same data.

The rows are snapshots: a logical event may be stored more than once until a merge. Every
fold below is a set, a minimum or a maximum over the snapshots, as the SQL is, so duplicates
change nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

# More rows than this are aggregated by ClickHouse. The stats fold took about 2 µs per row on
# the same machine, so 1,000 rows cost about 2 ms, less than the aggregation query saves.
ROWS_IN_PYTHON_MAX = 1000

STATS_COLUMNS = ("message_id", "event", "channel", "event_at")
LIST_COLUMNS = (
    "message_id",
    "event",
    "channel",
    "event_at",
    "template_key",
    "template_version",
    "content_title",
)

_ROWS_SQL = """
SELECT {columns}
FROM {db}.notification_events
WHERE user_id = {{user_id:String}}{range}
LIMIT {{row_limit:UInt32}}
SETTINGS max_threads = 1
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def read_event_rows(
    client: Any,
    database: str,
    user_id: str,
    columns: Sequence[str],
    *,
    range_condition: str = "",
    parameters: dict[str, Any] | None = None,
) -> list[tuple[Any, ...]] | None:
    """Read `columns` of the user's event rows, or return None if there are more than the limit.

    `range_condition` is an SQL condition that starts with AND, and `parameters` contains its values.
    """
    limit = ROWS_IN_PYTHON_MAX
    sql = _ROWS_SQL.format(columns=", ".join(columns), db=database, range=range_condition)
    query_parameters = {**(parameters or {}), "user_id": user_id, "row_limit": limit + 1}
    rows = client.query(sql, parameters=query_parameters).result_rows
    if len(rows) > limit:
        return None
    return rows


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stats_rows(
    rows: list[tuple[Any, ...]],
) -> tuple[list[tuple[Any, ...]], dict[str | None, list[int]]]:
    """Fold (message_id, event, channel, event_at) rows as the stats query's grouping sets do.

    Returns the count rows (is_total, channel, event, messages, first_at, last_at) and the
    sent-to-click delays in milliseconds per channel, under None for all channels.
    """
    messages: dict[tuple[str | None, str], set[str]] = defaultdict(set)
    first: dict[tuple[str | None, str], datetime] = {}
    last: dict[tuple[str | None, str], datetime] = {}
    message_channel: dict[str, str] = {}
    sent_at: dict[str, datetime] = {}
    clicked_at: dict[str, datetime] = {}

    for message_id, event, channel, event_at in rows:
        event_at = utc(event_at)
        for group in ((channel, event), (None, event)):
            messages[group].add(message_id)
            first[group] = min(event_at, first.get(group, event_at))
            last[group] = max(event_at, last.get(group, event_at))
        message_channel.setdefault(message_id, channel)
        if event == "sent":
            sent_at[message_id] = min(event_at, sent_at.get(message_id, event_at))
        elif event == "clicked":
            clicked_at[message_id] = min(event_at, clicked_at.get(message_id, event_at))

    count_rows = [
        (channel is None, channel, event, len(ids), first[(channel, event)], last[(channel, event)])
        for (channel, event), ids in messages.items()
    ]
    delays: dict[str | None, list[int]] = defaultdict(list)
    for message_id, clicked in clicked_at.items():
        sent = sent_at.get(message_id)
        if sent is None:
            continue
        delay_ms = _epoch_ms(clicked) - _epoch_ms(sent)
        delays[message_channel[message_id]].append(delay_ms)
        delays[None].append(delay_ms)
    return count_rows, delays


def message_list(
    rows: list[tuple[Any, ...]],
    *,
    channel: str | None,
    event: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[tuple[Any, ...]]:
    """Group LIST_COLUMNS rows by message, filter as the list query's HAVING, newest first.

    Each tuple has the list query's columns but the total: message_id, channel,
    first_event_at, last_event_at, events (a set) and the (template key, template version,
    title) of the first `sent` row, which are empty strings without one.
    """
    by_message: dict[str, dict[str, Any]] = {}
    for message_id, row_event, row_channel, event_at, key, version, title in rows:
        event_at = utc(event_at)
        item = by_message.get(message_id)
        if item is None:
            item = by_message[message_id] = {
                "message_id": message_id,
                "channel": row_channel,
                "first_event_at": event_at,
                "last_event_at": event_at,
                "events": set(),
                "sent": None,
            }
        item["first_event_at"] = min(item["first_event_at"], event_at)
        item["last_event_at"] = max(item["last_event_at"], event_at)
        item["events"].add(row_event)
        if row_event == "sent" and item["sent"] is None:
            item["sent"] = (key, version, title)

    selected = [
        item
        for item in by_message.values()
        if (channel is None or item["channel"] == channel)
        and (event is None or event in item["events"])
        and (since is None or item["first_event_at"] >= utc(since))
        and (until is None or item["first_event_at"] < utc(until))
    ]
    selected.sort(key=lambda item: (item["first_event_at"], item["message_id"]), reverse=True)
    return [
        (
            item["message_id"],
            item["channel"],
            item["first_event_at"],
            item["last_event_at"],
            item["events"],
            item["sent"] or ("", "", ""),
        )
        for item in selected
    ]


def _epoch_ms(value: datetime) -> int:
    return (value - _EPOCH) // _MILLISECOND
