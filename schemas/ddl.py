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
* ``deleted_users``: tombstones. The sink drops rows of a deleted user whose events happened
  before the deletion, so late events neither count nor recreate the user.
* ``messages``: a view with one row per (user, message), for analysts.

`non_replicated_deduplication_window` lets the insert deduplication token work on
non-replicated tables too, so a retried insert of the same batch is dropped by the server.

The two per-user tables are laid out for reads of one user, who has tens of rows. Such a
read decompresses, for each column and in each part with rows of the user, the whole
compressed block around the user's granule. With granules of 1,024 rows (default 8,192) and
blocks compressed once they reach 4 KiB (default 64 KiB), a read of the message-list columns
of one user decompressed about 130 KiB instead of 1.1 MiB (benchmark data of
`benchmarks/storage.py`, 5 million events in one part). The tables take 1 to 2% more disk
and about 7 times the marks, 3 MiB per 50 million events. `index_granularity` applies only
when a table is created, so a table from an older version keeps 8,192 until it is rebuilt.

With a cluster name (`USER_INSIGHTS_CLICKHOUSE_CLUSTER`) every statement runs ``ON CLUSTER``.
Each table becomes a ``<name>_local`` table with the Replicated variant of its engine. A
``Distributed`` table under the plain name shards rows by ``cityHash64(user_id)``, so the
queries run unchanged on one node, on embedded chDB and on a cluster. All rows of one user
are on one shard, which keeps ``FINAL`` and ``uniqExact`` per user exact. Replicated engines
deduplicate inserts by token within `replicated_deduplication_window`, so they drop the
non-replicated setting. Writers must send `insert_settings(cluster)` with every insert.
"""

from __future__ import annotations

import re

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
SETTINGS index_granularity = 1024, min_compress_block_size = 4096,
    non_replicated_deduplication_window = 1000
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
SETTINGS index_granularity = 1024, min_compress_block_size = 4096,
    non_replicated_deduplication_window = 1000
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

_DELETED_USERS = """
CREATE TABLE IF NOT EXISTS {db}.deleted_users
(
    user_id String,
    deleted_at DateTime64(3, 'UTC') COMMENT 'events that happened before this stay deleted',
    restored_at DateTime64(3, 'UTC') COMMENT '1970-01-01 until a re-import or profile upsert',
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY user_id
SETTINGS non_replicated_deduplication_window = 1000
"""

_MESSAGES_VIEW = """
CREATE VIEW IF NOT EXISTS {db}.messages
AS SELECT
    user_id,
    message_id,
    any(channel) AS channel,
    min(event_at) AS first_event_at,
    max(event_at) AS last_event_at,
    groupUniqArray(event) AS events,
    anyIf(template_key, event = 'sent') AS template_key,
    anyIf(template_version, event = 'sent') AS template_version,
    anyIf(content_title, event = 'sent') AS content_title,
    anyIf(content_body, event = 'sent') AS content_body
FROM {db}.notification_events FINAL
GROUP BY user_id, message_id
"""

TABLE_STATEMENTS: tuple[str, ...] = (
    _EVENTS,
    _STATS,
    _STATS_VIEW,
    _USERS,
    _DELETED_USERS,
    _MESSAGES_VIEW,
)


def schema_statements(database: str, cluster: str | None = None) -> list[str]:
    """Render every CREATE statement for `database`, in dependency order.

    Without `cluster` the statements create plain tables on one server or on embedded chDB.
    With `cluster` they create replicated, sharded tables on every node of that cluster, as
    the module docstring describes. Its servers must define the `{shard}` and `{replica}` macros.
    """
    _check_identifier(database)
    if cluster is not None:
        return _cluster_statements(database, cluster)

    statements = [f"CREATE DATABASE IF NOT EXISTS {database}"]
    statements.extend(s.format(db=database).strip() for s in TABLE_STATEMENTS)
    return statements


def _check_identifier(name: str) -> None:
    if not name.replace("_", "").isalnum() or not name.isascii() or name[0].isdigit():
        raise ValueError(
            f"database name {name!r} is not a plain identifier; use letters, digits and "
            "underscores, starting with a letter (USER_INSIGHTS_CLICKHOUSE_DATABASE)"
        )


# Cluster variant. It is derived from TABLE_STATEMENTS, so a column or table added there
# reaches both variants, and a statement no rule below covers raises ValueError.

LOCAL_SUFFIX = "_local"
SHARDING_KEY = "cityHash64(user_id)"
# The server expands {shard}, {replica} (from its <macros> section) and {database}.
REPLICA_PATH_PREFIX = "/clickhouse/tables/{shard}/{database}/"

_CLUSTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_CREATE_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (?P<db>\w+)\.(?P<name>\w+)\n")
_CREATE_MATERIALIZED_VIEW = re.compile(
    r"CREATE MATERIALIZED VIEW IF NOT EXISTS (?P<db>\w+)\.(?P<name>\w+) TO "
)
_CREATE_VIEW = re.compile(r"CREATE VIEW IF NOT EXISTS (?P<db>\w+)\.(?P<name>\w+)\n")
_ENGINE = re.compile(
    r"^ENGINE = (?P<engine>\w*MergeTree)(?:\((?P<args>[^)]*)\))?$", re.MULTILINE
)
_USER_ID_COLUMN = re.compile(r"^\s+user_id String,?$", re.MULTILINE)
_NON_REPLICATED_SETTING = "non_replicated_deduplication_window"


def insert_settings(cluster: str | None) -> dict[str, int]:
    """Return the settings every insert must send besides its `insert_deduplication_token`.

    On a cluster, inserts go to a Distributed table. `insert_distributed_sync=1` makes the
    insert return only after every shard stored its rows, so offsets are still committed only
    after storage, and the token travels with the rows to the replicated tables, which drop
    a retried batch. Without it the node queues the rows on its disk and sends them later.
    ClickHouse 23.10 renamed the setting to `distributed_foreground_insert` and kept the old
    name as an alias, so the old name works on both old and new servers.
    """
    if cluster is None:
        return {}
    _check_cluster_name(cluster)
    return {"insert_distributed_sync": 1}


def query_settings(cluster: str | None) -> dict[str, str]:
    """Return the settings every read query must send.

    A query on a Distributed table with an IN subquery on another Distributed table (the user
    search does this) is rejected by default as a double-distributed subquery.
    `distributed_product_mode='local'` runs the subquery on each shard's local table
    instead, which is exact here because every table is sharded by the same user_id key.
    """
    if cluster is None:
        return {}
    _check_cluster_name(cluster)
    return {"distributed_product_mode": "local"}


def mutation_table(database: str, table: str, cluster: str | None) -> str:
    """Return the target of a DELETE or ALTER on `table`, such as ``db.users``.

    A Distributed table accepts no lightweight DELETE or mutation, so on a cluster the
    target is the local table on every node: ``db.users_local ON CLUSTER 'name'``.
    """
    _check_identifier(database)
    if cluster is None:
        return f"{database}.{table}"
    _check_cluster_name(cluster)
    return f"{database}.{table}{LOCAL_SUFFIX} ON CLUSTER '{cluster}'"


def _cluster_statements(database: str, cluster: str) -> list[str]:
    _check_cluster_name(cluster)
    rendered = [s.format(db=database).strip() for s in TABLE_STATEMENTS]
    tables = {m["name"] for s in rendered if (m := _CREATE_TABLE.match(s))}

    statements = [f"CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER '{cluster}'"]
    for statement in rendered:
        statements.extend(_cluster_variant(statement, database, cluster, tables))
    return statements


def _cluster_variant(
    statement: str, database: str, cluster: str, tables: set[str]
) -> list[str]:
    on_cluster = f"ON CLUSTER '{cluster}'"

    if match := _CREATE_TABLE.match(statement):
        return _sharded_table(statement, match, database, cluster)

    if match := _CREATE_MATERIALIZED_VIEW.match(statement):
        # The view must see inserts into the local source table, because a Distributed
        # table stores nothing, and it writes to the local target on the same shard.
        def to_local(ref: re.Match[str]) -> str:
            name = ref["name"]
            return f"{database}.{name}{LOCAL_SUFFIX}" if name in tables else ref.group(0)

        view = f"{database}.{match['name']}"
        header = f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} {on_cluster} TO "
        reference = rf"\b{re.escape(database)}\.(?P<name>\w+)\b"
        body = re.sub(reference, to_local, statement[match.end() :])
        return [header + body]

    if match := _CREATE_VIEW.match(statement):
        # A plain view reads the Distributed tables, so it reads from every shard.
        header = f"CREATE VIEW IF NOT EXISTS {database}.{match['name']} {on_cluster}\n"
        return [header + statement[match.end() :]]

    first_line = statement.splitlines()[0]
    raise ValueError(
        f"no cluster rule for the statement {first_line!r}; add one to _cluster_variant in "
        "schemas/ddl.py"
    )


def _sharded_table(statement: str, match: re.Match[str], database: str, cluster: str) -> list[str]:
    """Return the local Replicated table and the Distributed table in front of it."""
    name = match["name"]
    local = f"{name}{LOCAL_SUFFIX}"
    if not _USER_ID_COLUMN.search(statement):
        raise ValueError(
            f"table {name} has no user_id String column, so it cannot be sharded by user_id; "
            "add the column or a sharding rule to schemas/ddl.py"
        )

    engine = _ENGINE.search(statement)
    if engine is None or engine["engine"].startswith("Replicated"):
        raise ValueError(
            f"table {name} has no plain *MergeTree engine line, so no Replicated engine can "
            "be derived for the cluster schema"
        )
    arguments = [f"'{REPLICA_PATH_PREFIX}{name}'", "'{replica}'"]
    if engine["args"]:
        arguments.append(engine["args"])
    replicated = f"ENGINE = Replicated{engine['engine']}({', '.join(arguments)})"

    header = f"CREATE TABLE IF NOT EXISTS {database}.{local} ON CLUSTER '{cluster}'\n"
    body = statement[match.end() : engine.start()] + replicated + statement[engine.end() :]
    local_statement = _drop_non_replicated_setting(header + body)

    distributed_statement = (
        f"CREATE TABLE IF NOT EXISTS {database}.{name} ON CLUSTER '{cluster}'\n"
        f"AS {database}.{local}\n"
        f"ENGINE = Distributed('{cluster}', '{database}', '{local}', {SHARDING_KEY})"
    )
    return [local_statement, distributed_statement]


def _drop_non_replicated_setting(statement: str) -> str:
    # SETTINGS is the last clause of every CREATE TABLE here and may span lines.
    head, found, clause = statement.partition("\nSETTINGS ")
    if not found:
        return statement
    settings = [setting.strip() for setting in clause.split(",")]
    kept = [setting for setting in settings if not setting.startswith(_NON_REPLICATED_SETTING)]
    if not kept:
        return head
    return f"{head}\nSETTINGS {', '.join(kept)}"


def _check_cluster_name(cluster: str) -> None:
    if not _CLUSTER_NAME.fullmatch(cluster):
        raise ValueError(
            f"cluster name {cluster!r} is invalid; use the name of a <remote_servers> entry: "
            "letters, digits, '_', '.' and '-', starting with a letter or '_' "
            "(USER_INSIGHTS_CLICKHOUSE_CLUSTER)"
        )
