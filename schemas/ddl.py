"""ClickHouse tables of user-insights, created explicitly and idempotently.

Model, chosen for lookups by one user in milliseconds and for exact counts under replays:

* ``notification_events``: one row per logical event (user_id, message_id, event), the
  sorting key. Every write is a full snapshot of the event's dedup state, and the engine
  keeps the snapshot with the most reports (`ReplacingMergeTree(reports)`), so a replayed
  or retried write is harmless. Readers that need one row per event use ``FINAL``.
  There is deliberately no time-based partition key: two copies of one logical event must
  land in the same partition, or no merge would ever meet them, and a replay after a month
  boundary would keep both.
* ``user_event_stats``: per (user, channel, event, day) the set of unique message ids as a
  `uniqExact` state, fed by a materialized view on every insert into the events table.
  Counting distinct message ids is idempotent, so a second copy of a row changes no count
  and the stats are exact at once, without waiting for a merge or running OPTIMIZE.
* ``users``: the user directory, one row per user_id after merges (`ReplacingMergeTree`
  on `updated_at`); readers use ``FINAL``.

`non_replicated_deduplication_window` lets the insert deduplication token work on
non-replicated tables too, so a retried insert of the same batch is dropped by the server.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

_EVENTS = """
CREATE TABLE IF NOT EXISTS {db}.notification_events
(
    user_id String,
    message_id String,
    event LowCardinality(String),
    channel LowCardinality(String),
    event_at DateTime64(3, 'UTC') COMMENT 'first occurred_at, clamped to the pipeline time',
    first_occurred_at DateTime64(3, 'UTC') COMMENT 'first occurred_at as the device reported it',
    last_occurred_at DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC') COMMENT 'pipeline time of the first report',
    reports UInt32 COMMENT 'raw reports merged into this event',
    devices UInt16 COMMENT 'distinct device_id values among the reports',
    event_id String COMMENT 'producer id of the first report, for tracing only',
    device_id String,
    template_key String,
    template_version String,
    content_title String,
    content_body String,
    content_variables String COMMENT 'JSON object of the variables as sent',
    action_button String,
    action_url String,
    failure_code String,
    failure_detail String,
    source_topic LowCardinality(String),
    source_partition UInt32,
    source_offset UInt64
)
ENGINE = ReplacingMergeTree(reports)
ORDER BY (user_id, message_id, event)
SETTINGS non_replicated_deduplication_window = 1000
"""

_STATS = """
CREATE TABLE IF NOT EXISTS {db}.user_event_stats
(
    user_id String,
    channel LowCardinality(String),
    event LowCardinality(String),
    day Date,
    messages AggregateFunction(uniqExact, String),
    first_at SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_at SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (user_id, channel, event, day)
SETTINGS non_replicated_deduplication_window = 1000
"""

_STATS_VIEW = """
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.user_event_stats_mv TO {db}.user_event_stats
AS SELECT
    user_id,
    channel,
    event,
    toDate(event_at) AS day,
    uniqExactState(message_id) AS messages,
    min(event_at) AS first_at,
    max(event_at) AS last_at
FROM {db}.notification_events
GROUP BY user_id, channel, event, day
"""

_USERS = """
CREATE TABLE IF NOT EXISTS {db}.users
(
    user_id String,
    phone_number String COMMENT 'canonical E.164; personal data',
    nickname String,
    nickname_search String COMMENT 'NFKC + case fold of nickname, see directory/nicknames.py',
    source LowCardinality(String) COMMENT 'csv or profile-topic',
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY user_id
SETTINGS non_replicated_deduplication_window = 1000
"""

TABLE_STATEMENTS: tuple[str, ...] = (_EVENTS, _STATS, _STATS_VIEW, _USERS)


def schema_statements(database: str) -> list[str]:
    """Render every CREATE statement for `database`, in dependency order."""
    _check_identifier(database)
    statements = [f"CREATE DATABASE IF NOT EXISTS {database}"]
    statements.extend(s.format(db=database).strip() for s in TABLE_STATEMENTS)
    return statements


def _check_identifier(name: str) -> None:
    if not name.replace("_", "").isalnum() or not name.isascii() or name[0].isdigit():
        raise ValueError(
            f"database name {name!r} is not a plain identifier; use letters, digits and "
            "underscores, starting with a letter (USER_INSIGHTS_CLICKHOUSE_DATABASE)"
        )
