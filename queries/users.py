"""User search by user ID or nickname, with each result's summary counts.

Ranking: an exact user ID first, then user IDs that start with the query, then nicknames
that contain it; ties are ordered by user ID. User ID matching is literal and
case-sensitive, because `startsWith` and `=` know no wildcards, so `_`, `%` and `\\` in a
query match only themselves. Nickname matching compares `normalize_nickname(query)` with the
stored `nickname_search` column (NFKC, then Unicode case folding, then NFKC) as a substring,
so it works for any script. Users known only from events (no profile yet) are found by ID.

A nickname match needs every row of `users`, so the search reads the table once with FINAL.
The match then sees only each user's current version, and a nickname that changed away from
the query no longer matches. That scan reads only `user_id`, `nickname_search` and
`updated_at`, and the phone numbers and nicknames of the page's users are read afterwards by
key.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC
from typing import Any

from clickhouse_connect.driver.client import Client

from directory.nicknames import normalize_nickname
from directory.store import fetch_users
from schemas.insights import EventCounts

MAX_QUERY_LENGTH = 200

# `has_profile` is 1 for a match in `users` and 0 for a user known only from events. The
# NOT IN set contains only the users whose ID starts with the query, because the events
# branch reads no other IDs.
_SEARCH_SQL = """
SELECT user_id, rank, has_profile, count() OVER () AS total
FROM
(
    SELECT
        user_id,
        multiIf(user_id = {{q:String}}, 0, startsWith(user_id, {{q:String}}), 1, 2) AS rank,
        1 AS has_profile
    FROM {db}.users FINAL
    WHERE startsWith(user_id, {{q:String}})
       OR (length({{nick:String}}) > 0 AND positionUTF8(nickname_search, {{nick:String}}) > 0)

    UNION ALL

    SELECT DISTINCT user_id, if(user_id = {{q:String}}, 0, 1) AS rank, 0 AS has_profile
    FROM {db}.user_event_stats
    WHERE startsWith(user_id, {{q:String}})
      AND user_id NOT IN (SELECT user_id FROM {db}.users WHERE startsWith(user_id, {{q:String}}))
)
ORDER BY rank, user_id
LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}
"""

_SUMMARY_SQL = """
SELECT user_id, event, uniqExactMerge(messages) AS messages, max(last_at) AS last_at
FROM {db}.user_event_stats
WHERE user_id IN {{ids:Array(String)}}
GROUP BY user_id, event
"""

MATCH_KINDS = {0: "user_id", 1: "user_id_prefix", 2: "nickname"}


def search_users(
    client: Client, database: str, query: str, *, limit: int = 20, offset: int = 0
) -> dict[str, Any]:
    """Search users; returns {"total": n, "results": [...]} with each result's summary counts."""
    text = query.strip()
    if not text:
        return {"total": 0, "results": []}

    sql = _SEARCH_SQL.format(db=database)
    parameters = {"q": text, "nick": normalize_nickname(text), "limit": limit, "offset": offset}
    rows = client.query(sql, parameters=parameters).result_rows
    total = int(rows[0][3]) if rows else 0
    if not rows and offset > 0:
        # A page after the last match has no row to carry the total, so read it from page one.
        first = client.query(sql, parameters={**parameters, "limit": 1, "offset": 0}).result_rows
        total = int(first[0][3]) if first else 0
    profiles = fetch_users(client, database, [row[0] for row in rows if row[2]])
    summaries = fetch_summaries(client, database, [row[0] for row in rows])

    results = []
    for user_id, rank, has_profile, _ in rows:
        profile = profiles.get(user_id)
        if has_profile and profile is None:
            continue  # deleted between the two reads, though `total` still counts it
        counts, last_at = summaries.get(user_id, (EventCounts(), None))
        results.append(
            {
                "user_id": user_id,
                "nickname": (profile.nickname or None) if profile else None,
                "phone_number": (profile.phone_number or None) if profile else None,
                "match": MATCH_KINDS[int(rank)],
                "summary": counts.model_dump(),
                "last_event_at": last_at,
            }
        )
    return {"total": total, "results": results}


def fetch_summaries(
    client: Client, database: str, user_ids: list[str]
) -> dict[str, tuple[EventCounts, Any]]:
    """Read total unique counts and the last event time for each of `user_ids`."""
    if not user_ids:
        return {}

    result = client.query(_SUMMARY_SQL.format(db=database), parameters={"ids": user_ids})
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    last: dict[str, Any] = {}
    for user_id, event, messages, last_at in result.result_rows:
        counts[user_id][event] = int(messages)
        last_at = last_at.replace(tzinfo=UTC) if last_at.tzinfo is None else last_at
        last[user_id] = max(last_at, last.get(user_id, last_at))
    return {user_id: (EventCounts(**c), last.get(user_id)) for user_id, c in counts.items()}
