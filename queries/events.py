"""Deduplicated events of one user, one row per (message_id, event)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.clickhouse import EVENT_COLUMNS

_EVENTS_SQL = """
SELECT {columns}
FROM {db}.notification_events FINAL
WHERE user_id = {{user_id:String}}
ORDER BY event_at, message_id, event
LIMIT {{limit:UInt32}}
"""


def fetch_user_events(
    client: Client, database: str, user_id: str, *, limit: int = 1000
) -> list[dict[str, Any]]:
    """Read one user's deduplicated events, oldest first, as column-name dictionaries."""
    result = client.query(
        _EVENTS_SQL.format(columns=", ".join(EVENT_COLUMNS), db=database),
        parameters={"user_id": user_id, "limit": limit},
    )
    return [_as_dict(row) for row in result.result_rows]


def _as_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    data = dict(zip(EVENT_COLUMNS, row, strict=True))
    for key, value in data.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            data[key] = value.replace(tzinfo=UTC)
    return data
