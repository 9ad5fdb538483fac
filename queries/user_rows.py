"""One read of a user's event rows, folded in Python when the user has few of them.

The aggregation queries in `queries.stats` and `queries.messages` took 10 to 12 ms each at
the median, also for a user without any row, and a plain read of the same user's rows took 4
to 5 ms. That was measured on embedded chDB 26.9 with 1M users and 50M events in 5 parts, on
the 2-core benchmark machine of docs/benchmarks.md. So `fetch_user_stats` and
`fetch_messages` first read the rows, at most `ROWS_IN_PYTHON_MAX` of them, and fold them
here. For a user with more rows they run the aggregation in the
engine. Both ways give the same result, and tests compare them on the same data.

The rows are snapshots: a logical event may be stored more than once until a merge, and a
later snapshot may have an earlier `event_at`. Both ways take each event at its earliest
snapshot's time, the time that the merged row keeps, before any time filter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

# More rows than this are aggregated by ClickHouse. The stats fold took about 4 µs per row on
# the same machine, so at 1,000 rows the read plus the fold cost about what the aggregation
# query does (10 ms or more), an estimate of the break-even point.
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
WHERE user_id = {{user_id:String}}
LIMIT {{row_limit:UInt32}}
SETTINGS max_threads = 1
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def read_event_rows(
    client: Any, database: str, user_id: str, columns: Sequence[str]
) -> list[tuple[Any, ...]] | None:
    """Read `columns` of the user's event rows, or return None if there are more than the limit."""
    limit = ROWS_IN_PYTHON_MAX
    sql = _ROWS_SQL.format(columns=", ".join(columns), db=database)
    parameters = {"user_id": user_id, "row_limit": max(0, limit + 1)}
    rows = client.query(sql, parameters=parameters).result_rows
    if len(rows) > limit:
        return None
    return rows


def utc(value: datetime) -> datetime:
    """Return `value` in UTC; a naive value is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stats_rows(
    rows: list[tuple[Any, ...]], *, since: datetime | None, until: datetime | None
) -> tuple[list[tuple[Any, ...]], dict[str | None, list[int]]]:
    """Fold (message_id, event, channel, event_at) rows as the stats query does.

    Each event counts at its earliest snapshot's time, and only if that time is within
    [since, until). Returns the count rows (is_total, channel, event, messages, first_at,
    last_at) and the sent-to-click delays in milliseconds per channel, under None for all
    channels.
    """
    since = _truncated_to_ms(since)
    until = _truncated_to_ms(until)
    messages: dict[tuple[str | None, str], set[str]] = {}
    first: dict[tuple[str | None, str], datetime] = {}
    last: dict[tuple[str | None, str], datetime] = {}
    message_channel: dict[str, str] = {}
    sent_at: dict[str, datetime] = {}
    clicked_at: dict[str, datetime] = {}

    for (message_id, event), (channel, event_at) in _earliest_snapshots(rows).items():
        if (since is not None and event_at < since) or (until is not None and event_at >= until):
            continue
        for group in ((channel, event), (None, event)):
            ids = messages.get(group)
            if ids is None:
                messages[group] = {message_id}
                first[group] = last[group] = event_at
                continue
            ids.add(message_id)
            if event_at < first[group]:
                first[group] = event_at
            elif event_at > last[group]:
                last[group] = event_at
        message_channel.setdefault(message_id, channel)
        if event == "sent":
            sent_at[message_id] = event_at
        elif event == "clicked":
            clicked_at[message_id] = event_at

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


def _earliest_snapshots(rows: list[tuple[Any, ...]]) -> dict[tuple[str, str], tuple[str, datetime]]:
    # (message_id, event) -> (channel of its first row, earliest event_at of its snapshots)
    events: dict[tuple[str, str], tuple[str, datetime]] = {}
    for message_id, event, channel, event_at, *_ in rows:
        event_at = utc(event_at)
        known = events.get((message_id, event))
        if known is None:
            events[(message_id, event)] = (channel, event_at)
        elif event_at < known[1]:
            events[(message_id, event)] = (known[0], event_at)
    return events


def message_list(
    rows: list[tuple[Any, ...]],
    *,
    channel: str | None,
    event: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[tuple[Any, ...]]:
    """Group LIST_COLUMNS rows by message, filter as the list query's HAVING, newest first.

    A message's first and last event times are the earliest and the latest of its events'
    times, each event at its earliest snapshot's time. Each tuple has the list query's
    columns but the total: message_id, channel, first_event_at, last_event_at, events (a set)
    and the (template key, template version, title) of the first `sent` row, which are empty
    strings without one.
    """
    sent_content: dict[str, tuple[str, str, str]] = {}
    for message_id, row_event, _, _, key, version, title in rows:
        if row_event == "sent":
            sent_content.setdefault(message_id, (key, version, title))

    by_message: dict[str, dict[str, Any]] = {}
    for (message_id, row_event), (row_channel, event_at) in _earliest_snapshots(rows).items():
        item = by_message.get(message_id)
        if item is None:
            item = by_message[message_id] = {
                "message_id": message_id,
                "channel": row_channel,
                "first_event_at": event_at,
                "last_event_at": event_at,
                "events": set(),
            }
        item["first_event_at"] = min(item["first_event_at"], event_at)
        item["last_event_at"] = max(item["last_event_at"], event_at)
        item["events"].add(row_event)

    since = _truncated_to_ms(since)
    until = _truncated_to_ms(until)
    selected = [
        item
        for item in by_message.values()
        if (channel is None or item["channel"] == channel)
        and (event is None or event in item["events"])
        and (since is None or item["first_event_at"] >= since)
        and (until is None or item["first_event_at"] < until)
    ]
    selected.sort(key=lambda item: (item["first_event_at"], item["message_id"]), reverse=True)
    return [
        (
            item["message_id"],
            item["channel"],
            item["first_event_at"],
            item["last_event_at"],
            item["events"],
            sent_content.get(item["message_id"], ("", "", "")),
        )
        for item in selected
    ]


def _truncated_to_ms(value: datetime | None) -> datetime | None:
    # A DateTime64(3) query parameter drops the digits after the milliseconds; so does this.
    if value is None:
        return None
    value = utc(value)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _epoch_ms(value: datetime) -> int:
    return (value - _EPOCH) // _MILLISECOND
