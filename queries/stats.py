"""Per-user stats from the `user_event_stats` aggregate."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
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
  AND day >= {{since:Date}} AND day <= {{until:Date}}
GROUP BY GROUPING SETS ((channel, event), (event))
SETTINGS group_by_use_nulls = 0
"""

_MIN_DAY = date(1970, 1, 1)
_MAX_DAY = date(2149, 6, 6)


def fetch_user_stats(
    client: Client,
    database: str,
    user_id: str,
    *,
    since: date | None = None,
    until: date | None = None,
) -> UserStats:
    """Read one user's unique counts per channel and in total, optionally for a day range."""
    result = client.query(
        _STATS_SQL.format(db=database),
        parameters={"user_id": user_id, "since": since or _MIN_DAY, "until": until or _MAX_DAY},
    )
    return build_user_stats(user_id, result.result_rows)


def build_user_stats(user_id: str, rows: list[tuple[Any, ...]]) -> UserStats:
    """Fold (is_total, channel, event, messages, first_at, last_at) rows into UserStats."""
    counts: dict[str | None, dict[str, int]] = defaultdict(dict)
    first: dict[str | None, datetime] = {}
    last: dict[str | None, datetime] = {}
    for is_total, channel, event, messages, first_at, last_at in rows:
        group = None if is_total else channel
        counts[group][event] = int(messages)
        first[group] = min(_utc(first_at), first.get(group, _utc(first_at)))
        last[group] = max(_utc(last_at), last.get(group, _utc(last_at)))

    def group_stats(group: str | None) -> GroupStats:
        event_counts = EventCounts(**counts.get(group, {}))
        return GroupStats(
            counts=event_counts,
            rates=compute_rates(event_counts),
            first_event_at=first.get(group),
            last_event_at=last.get(group),
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
