"""One user's messages: the paginated list and the details of one message.

A user with few event rows gets the list from one read of those rows, grouped in Python
(`queries.user_rows`); the list query below runs only for users with more rows.

The list reads `notification_events` without FINAL: it uses only the earliest time, the
event types and the template of each message, which every snapshot of an event carries, so
extra snapshots change nothing. The details read FINAL, which gives one row per
(message_id, event) with the snapshot that has the most reports. Events may arrive in any order and some never arrive, so
the details mark what is missing instead of inventing it. An event that a later event implies
(a click implies a delivery) is `implied`. Anything else that was never reported is
`not_reported`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from queries.user_rows import LIST_COLUMNS, message_list, read_event_rows, utc
from schemas.events import EVENT_TYPES

# Lifecycle order shown in a timeline; `failed` replaces `delivered` and what follows it.
LIFECYCLE: tuple[str, ...] = ("sent", "delivered", "viewed", "clicked", "failed")
# For each event, the earlier events that must have happened if it was reported.
IMPLIES: dict[str, tuple[str, ...]] = {
    "sent": (),
    "delivered": ("sent",),
    "viewed": ("sent", "delivered"),
    "clicked": ("sent", "delivered"),
    "failed": ("sent",),
}

# The subquery takes each event's earliest snapshot time, as `queries.stats` does, so a
# snapshot not yet merged away does not move `last_event_at`. `{having}` contains only the
# filters that the caller sets, because the engine plans every expression on each call, even
# one that filters nothing. It runs on one thread, as the query of `queries.stats` does.
_LIST_SQL = """
SELECT
    message_id,
    any(channel) AS channel,
    min(event_at) AS first_event_at,
    max(event_at) AS last_event_at,
    groupUniqArray(event) AS events,
    anyIf(content, event = 'sent') AS sent,
    count() OVER () AS total
FROM
(
    SELECT
        message_id,
        event,
        any(channel) AS channel,
        min(event_at) AS event_at,
        any((template_key, template_version, content_title)) AS content
    FROM {db}.notification_events
    WHERE user_id = {{user_id:String}}
    GROUP BY message_id, event
)
GROUP BY message_id
{having}
ORDER BY first_event_at DESC, message_id DESC
LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}
SETTINGS max_threads = 1
"""

_LIST_FILTERS = {
    "channel": "channel = {channel:String}",
    "event": "has(events, {event:String})",
    "since": "first_event_at >= {since:DateTime64(3, 'UTC')}",
    "until": "first_event_at < {until:DateTime64(3, 'UTC')}",
}

_DETAIL_COLUMNS = (
    "event",
    "channel",
    "event_at",
    "first_occurred_at",
    "last_occurred_at",
    "received_at",
    "reports",
    "devices",
    "event_id",
    "device_id",
    "template_key",
    "template_version",
    "content_title",
    "content_body",
    "content_variables",
    "action_button",
    "action_url",
    "failure_code",
    "failure_detail",
)

_DETAIL_SQL = """
SELECT {columns}
FROM {db}.notification_events FINAL
WHERE user_id = {{user_id:String}} AND message_id = {{message_id:String}}
"""



def fetch_messages(
    client: Client,
    database: str,
    user_id: str,
    *,
    channel: str | None = None,
    event: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """List a user's messages newest first; `since` is inclusive and `until` exclusive."""
    filters = {"channel": channel, "event": event, "since": since, "until": until}
    filters = {name: value for name, value in filters.items() if value}
    event_rows = read_event_rows(client, database, user_id, LIST_COLUMNS)
    if event_rows is not None:
        listed = message_list(
            event_rows,
            channel=filters.get("channel"),
            event=filters.get("event"),
            since=filters.get("since"),
            until=filters.get("until"),
        )
        total = len(listed)
        rows = [(*message, total) for message in listed[offset : offset + limit]]
    else:
        rows, total = _list_in_engine(client, database, user_id, filters, limit, offset)

    messages = [
        {
            "message_id": message_id,
            "channel": message_channel,
            "first_event_at": utc(first_at),
            "last_event_at": utc(last_at),
            "events": [e for e in LIFECYCLE if e in events],
            "template": _template(template_key, template_version),
            "title": title or None,
        }
        for message_id, message_channel, first_at, last_at, events, (
            template_key,
            template_version,
            title,
        ), _ in rows
    ]
    return {"total": total, "limit": limit, "offset": offset, "messages": messages}


def _list_in_engine(
    client: Client,
    database: str,
    user_id: str,
    filters: dict[str, Any],
    limit: int,
    offset: int,
) -> tuple[list[tuple[Any, ...]], int]:
    having = " AND ".join(_LIST_FILTERS[name] for name in filters)
    sql = _LIST_SQL.format(db=database, having=f"HAVING {having}" if having else "")
    parameters = {"user_id": user_id, "limit": limit, "offset": offset, **filters}
    rows = client.query(sql, parameters=parameters).result_rows
    total = int(rows[0][-1]) if rows else 0
    if not rows and (offset > 0 or limit == 0):
        # A page after the last message has no row to carry the total, so read it from page one.
        first = client.query(sql, parameters={**parameters, "limit": 1, "offset": 0}).result_rows
        total = int(first[0][-1]) if first else 0
    return rows, total


def _template(key: str, version: str) -> dict[str, str | None] | None:
    if not key:
        return None
    return {"key": key, "version": version or None}


def fetch_message_details(
    client: Client, database: str, user_id: str, message_id: str
) -> dict[str, Any] | None:
    """Read one message of one user with its timeline; None if the user never received it."""
    result = client.query(
        _DETAIL_SQL.format(columns=", ".join(_DETAIL_COLUMNS), db=database),
        parameters={"user_id": user_id, "message_id": message_id},
    )
    rows = {row[0]: dict(zip(_DETAIL_COLUMNS, row, strict=True)) for row in result.result_rows}
    if not rows:
        return None
    return build_message_details(user_id, message_id, rows)


def build_message_details(
    user_id: str, message_id: str, rows: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Assemble details from one stored row per reported event type."""
    sent = rows.get("sent")
    clicked = rows.get("clicked")
    failed = rows.get("failed")
    any_row = next(iter(rows.values()))

    return {
        "user_id": user_id,
        "message_id": message_id,
        "channel": any_row["channel"],
        "template": _template(sent["template_key"], sent["template_version"]) if sent else None,
        "content": _content(sent) if sent else None,
        "sent_reported": sent is not None,
        "timeline": _timeline(rows),
        "arrived_out_of_order": _arrived_out_of_order(rows),
        "click_action": _click_action(clicked),
        "failure_reason": _failure_reason(failed),
    }


def _content(sent: dict[str, Any]) -> dict[str, Any]:
    variables = orjson.loads(sent["content_variables"]) if sent["content_variables"] else {}
    return {
        "title": sent["content_title"] or None,
        "body": sent["content_body"] or None,
        "variables": variables,
    }


def _timeline(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    implied = {earlier for event in rows for earlier in IMPLIES[event]}
    shown = [e for e in LIFECYCLE if e in rows or e in implied or e in ("sent", "delivered")]
    if "failed" in rows and "delivered" not in rows and "delivered" not in implied:
        shown.remove("delivered")

    timeline = []
    for event in shown:
        row = rows.get(event)
        if row is None:
            status = "implied" if event in implied else "not_reported"
            timeline.append({"event": event, "status": status})
            continue
        timeline.append(
            {
                "event": event,
                "status": "reported",
                "first_occurred_at": utc(row["first_occurred_at"]),
                "event_at": utc(row["event_at"]),
                "received_at": utc(row["received_at"]),
                "reports": int(row["reports"]),
                "devices": int(row["devices"]),
                "device_id": row["device_id"] or None,
                "event_id": row["event_id"] or None,
            }
        )
    return timeline


def _arrived_out_of_order(rows: dict[str, dict[str, Any]]) -> bool:
    """Return whether some event was received before an event that precedes it in the lifecycle."""
    received = [(LIFECYCLE.index(e), utc(r["received_at"])) for e, r in rows.items()]
    received.sort()
    times = [at for _, at in received]
    return any(later < earlier for earlier, later in zip(times, times[1:], strict=False))


def _click_action(clicked: dict[str, Any] | None) -> dict[str, str | None] | None:
    if clicked is None or not (clicked["action_button"] or clicked["action_url"]):
        return None
    return {"button": clicked["action_button"] or None, "url": clicked["action_url"] or None}


def _failure_reason(failed: dict[str, Any] | None) -> dict[str, str | None] | None:
    if failed is None:
        return None
    return {"code": failed["failure_code"] or None, "detail": failed["failure_detail"] or None}


__all__ = ["EVENT_TYPES", "LIFECYCLE", "fetch_message_details", "fetch_messages"]
