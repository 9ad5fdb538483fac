"""Per-user stats from the events table; totals and daily activity from `user_event_stats`.

A user with few event rows is read row by row and folded in Python (`queries.user_rows`),
because that is faster than planning the grouping-sets query below.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from statistics import median
from typing import Any

from clickhouse_connect.driver.client import Client

from queries.user_rows import STATS_COLUMNS, read_event_rows, stats_rows, utc
from schemas.insights import EventCounts, GroupStats, UserStats, compute_rates

# One query and one read of the user's events give both parts of the stats. On the 2-core
# benchmark machine (docs/benchmarks.md) chDB spent 1 to 3 ms on each query before reading a
# row, plus 0.1 to 0.3 ms for each column in each part that it read. The grouping sets are:
#
# * (event, channel): unique messages and first and last event time per channel.
# * (event): the same over all channels. uniqExact counts a message once even if it was
#   (wrongly) reported on two channels.
# * (message_id): the time from `sent` to the first `clicked` of each message, for the
#   click-delay medians. minIfOrNull is NULL for a message without one of the two events,
#   and HAVING drops those messages, so only clicked messages come back.
#
# Until a merge, one (message_id, event) may have several snapshots, and a later snapshot has
# the same or an earlier `event_at` (a later report that occurred earlier). The subquery takes
# each event's earliest time, which is the time the merged row keeps, so no FINAL is needed
# and the time range applies to one time per event, exact to the millisecond. One thread
# reads the user's few granules, because a second one only added the cost of starting it,
# about a fifth of the lookup time there.
_STATS_SQL = """
SELECT
    grouping(event, channel) AS level,
    channel,
    event,
    uniqExact(message_id) AS messages,
    min(event_at) AS first_at,
    max(event_at) AS last_at,
    any(channel) AS message_channel,
    toUnixTimestamp64Milli(minIfOrNull(event_at, event = 'clicked'))
        - toUnixTimestamp64Milli(minIfOrNull(event_at, event = 'sent')) AS delay_ms
FROM
(
    SELECT message_id, event, any(channel) AS channel, min(event_at) AS event_at
    FROM {db}.notification_events
    WHERE user_id = {{user_id:String}}
    GROUP BY message_id, event
)
WHERE 1 = 1{range}
GROUP BY GROUPING SETS ((event, channel), (event), (message_id))
HAVING level != 3 OR delay_ms IS NOT NULL
SETTINGS group_by_use_nulls = 0, max_threads = 1
"""

_RANGE_CONDITION = (
    " AND event_at >= {since:DateTime64(3, 'UTC')} AND event_at < {until:DateTime64(3, 'UTC')}"
)
# `level` of each grouping set: grouping(event, channel) sets a bit for each column that the
# set does not group by.
_PER_EVENT = 1
_PER_MESSAGE = 3

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2299, 12, 31, tzinfo=UTC)


def fetch_user_stats(
    client: Client,
    database: str,
    user_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> UserStats:
    """Read one user's unique counts and click delays per channel and in total.

    `since` is inclusive and `until` exclusive.
    """
    parameters: dict[str, Any] = {"user_id": user_id}
    range_condition = ""
    if since is not None or until is not None:
        parameters.update(since=since or EARLIEST, until=until or LATEST)
        range_condition = _RANGE_CONDITION
    event_rows = read_event_rows(client, database, user_id, STATS_COLUMNS)
    if event_rows is not None:
        count_rows, delays = stats_rows(event_rows, since=since, until=until)
    else:
        sql = _STATS_SQL.format(db=database, range=range_condition)
        result = client.query(sql, parameters=parameters)
        count_rows, delays = _grouping_set_rows(result.result_rows)

    # statistics.median of an even count is the mean of the two middle values, like
    # ClickHouse's quantileExactInclusive(0.5); quantileExact(0.5) would return the upper one.
    delay_rows = [
        (group is None, group, median(values), len(values)) for group, values in delays.items()
    ]
    return build_user_stats(user_id, count_rows, delay_rows)


def _grouping_set_rows(
    rows: list[tuple[Any, ...]],
) -> tuple[list[tuple[Any, ...]], dict[str | None, list[int]]]:
    """Split the stats query's rows into count rows and click delays, as `stats_rows` returns."""
    count_rows = []
    delays: dict[str | None, list[int]] = defaultdict(list)
    for level, channel, event, messages, first_at, last_at, message_channel, delay_ms in rows:
        if level == _PER_MESSAGE:
            delays[message_channel].append(delay_ms)
            delays[None].append(delay_ms)
        else:
            count_rows.append((level == _PER_EVENT, channel, event, messages, first_at, last_at))
    return count_rows, delays


def build_user_stats(
    user_id: str, rows: list[tuple[Any, ...]], delay_rows: list[tuple[Any, ...]] = ()
) -> UserStats:
    """Fold (is_total, channel, event, messages, first_at, last_at) rows into UserStats."""
    counts: dict[str | None, dict[str, int]] = defaultdict(dict)
    first: dict[str | None, datetime] = {}
    last: dict[str | None, datetime] = {}
    for is_total, channel, event, messages, first_at, last_at in rows:
        group = None if is_total else channel
        counts[group][event] = int(messages)
        first[group] = min(utc(first_at), first.get(group, utc(first_at)))
        last[group] = max(utc(last_at), last.get(group, utc(last_at)))

    delays: dict[str | None, tuple[float, int]] = {}
    for is_total, channel, median_ms, messages in delay_rows:
        if int(messages) == 0:
            continue  # the empty grouping set always returns one row, with no messages
        delays[None if is_total else channel] = (float(median_ms) / 1000, int(messages))

    def group_stats(group: str | None) -> GroupStats:
        event_counts = EventCounts(**counts.get(group, {}))
        median_s, timed = delays.get(group, (None, 0))
        return GroupStats(
            counts=event_counts,
            rates=compute_rates(event_counts),
            first_event_at=first.get(group),
            last_event_at=last.get(group),
            median_sent_to_click_s=median_s,
            clicks_timed=timed,
        )

    channels = sorted(group for group in counts if group is not None)
    return UserStats(
        user_id=user_id,
        total=group_stats(None),
        by_channel={channel: group_stats(channel) for channel in channels},
    )



_TOTALS_SQL = """
SELECT event, sum(messages) AS messages, uniqExact(user_id) AS users
FROM
(
    SELECT user_id, event, uniqExactMerge(messages) AS messages
    FROM {db}.user_event_stats
    GROUP BY user_id, event
)
GROUP BY event
"""


def fetch_grand_totals(client: Client, database: str) -> dict[str, int]:
    """Sum every user's unique-message counts per event type, over all users and channels."""
    result = client.query(_TOTALS_SQL.format(db=database))
    totals = {field: 0 for field in EventCounts.model_fields}
    for event, messages, _users in result.result_rows:
        totals[event] = int(messages)
    return totals


# NOTE: `user_event_stats` is filled per inserted row, so a second snapshot of an event with
# an earlier day counts the message on both days here, and its `last_at` keeps the later
# time, also after merges. The totals are not affected: uniqExactMerge counts it once.
_ACTIVITY_SQL = """
SELECT day, event, uniqExactMerge(messages) AS messages
FROM {db}.user_event_stats
WHERE user_id = {{user_id:String}}
GROUP BY day, event
ORDER BY day, event
"""


def fetch_user_activity(client: Client, database: str, user_id: str) -> list[dict[str, Any]]:
    """Return unique messages per day and event type, for a chart of the user's events."""
    result = client.query(_ACTIVITY_SQL.format(db=database), parameters={"user_id": user_id})
    by_day: dict[str, dict[str, int]] = {}
    for day, event, messages in result.result_rows:
        by_day.setdefault(day.isoformat(), {e: 0 for e in EventCounts.model_fields})[event] = int(messages)
    return [{"day": day, **counts} for day, counts in by_day.items()]
