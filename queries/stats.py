"""Per-user stats from the `user_event_stats` aggregate."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.insights import EventCounts, GroupStats, UserStats, compute_rates

# One round trip: per (channel, event) and, with channel rolled up, per event over all
# channels. uniqExactMerge over the rolled-up group counts a message once even if it was
# (wrongly) reported on two channels.
_STATS_SQL = """
SELECT
    grouping(channel) = 1 AS is_total,
    channel,
    event,
    uniqExactMerge(messages) AS messages,
    min(first_at) AS first_at,
    max(last_at) AS last_at
FROM {db}.user_event_stats
WHERE user_id = {{user_id:String}}
GROUP BY GROUPING SETS ((channel, event), (event))
SETTINGS group_by_use_nulls = 0
"""

# The same counts for an exact time range, from the events table: uniqExact over the
# snapshots of one (message_id, event) counts it once without FINAL.
_RANGE_STATS_SQL = """
SELECT
    grouping(channel) = 1 AS is_total,
    channel,
    event,
    uniqExact(message_id) AS messages,
    min(event_at) AS first_at,
    max(event_at) AS last_at
FROM {db}.notification_events
WHERE user_id = {{user_id:String}}
  AND event_at >= {{since:DateTime64(3, 'UTC')}} AND event_at < {{until:DateTime64(3, 'UTC')}}
GROUP BY GROUPING SETS ((channel, event), (event))
SETTINGS group_by_use_nulls = 0
"""

# Median time from `sent` to the first `clicked` over messages that have both. No FINAL is
# needed: every later snapshot of an event has the same or an earlier `event_at`, so the
# minimum over all snapshots is the final value. With an even
# number of messages it is the mean of the two middle values; quantileExact(0.5) would return
# the upper one.
_CLICK_DELAY_SQL = """
SELECT
    grouping(channel) = 1 AS is_total,
    channel,
    quantileExactInclusive(0.5)(click_ms - sent_ms) AS median_ms,
    count() AS messages
FROM
(
    SELECT
        message_id,
        any(channel) AS channel,
        minIf(toUnixTimestamp64Milli(event_at), event = 'sent') AS sent_ms,
        minIf(toUnixTimestamp64Milli(event_at), event = 'clicked') AS click_ms
    FROM {db}.notification_events
    WHERE user_id = {{user_id:String}}
      AND event_at >= {{since:DateTime64(3, 'UTC')}} AND event_at < {{until:DateTime64(3, 'UTC')}}
    GROUP BY message_id
    HAVING countIf(event = 'sent') > 0 AND countIf(event = 'clicked') > 0
)
GROUP BY GROUPING SETS ((channel), ())
SETTINGS group_by_use_nulls = 0
"""

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
    """Read one user's unique counts per channel and in total; `until` is exclusive.

    Without a time range the counts come from the `user_event_stats` aggregate; with one,
    from the events table, so any range is exact to the millisecond.
    """
    bounds = {"since": since or EARLIEST, "until": until or LATEST}
    if since is None and until is None:
        result = client.query(_STATS_SQL.format(db=database), parameters={"user_id": user_id})
    else:
        result = client.query(
            _RANGE_STATS_SQL.format(db=database), parameters={"user_id": user_id, **bounds}
        )
    delays = client.query(
        _CLICK_DELAY_SQL.format(db=database), parameters={"user_id": user_id, **bounds}
    )
    return build_user_stats(user_id, result.result_rows, delays.result_rows)


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
        first[group] = min(_utc(first_at), first.get(group, _utc(first_at)))
        last[group] = max(_utc(last_at), last.get(group, _utc(last_at)))

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


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
