"""The cluster variant of the ClickHouse schema, and the unchanged single-node schema."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from pipeline.settings import Settings
from schemas import ddl
from schemas.ddl import (
    TABLE_STATEMENTS,
    insert_settings,
    mutation_table,
    query_settings,
    schema_statements,
)

DB = "user_insights"
CLUSTER = "ui_cluster"

# The first five statements of schema_statements("user_insights"), byte for byte.
SNAPSHOT = [
    "CREATE DATABASE IF NOT EXISTS user_insights",
    "CREATE TABLE IF NOT EXISTS user_insights.notification_events\n(\n"
    "    user_id String,\n"
    "    message_id String,\n"
    "    event LowCardinality(String),\n"
    "    channel LowCardinality(String),\n"
    "    event_at DateTime64(3, 'UTC') COMMENT 'first occurred_at, clamped to the pipeline time',\n"
    "    first_occurred_at DateTime64(3, 'UTC') "
    "COMMENT 'first occurred_at as the device reported it',\n"
    "    last_occurred_at DateTime64(3, 'UTC'),\n"
    "    received_at DateTime64(3, 'UTC') COMMENT 'pipeline time of the first report',\n"
    "    reports UInt32 COMMENT 'raw reports merged into this event',\n"
    "    devices UInt16 COMMENT 'distinct device_id values among the reports',\n"
    "    event_id String COMMENT 'producer id of the first report, for tracing only',\n"
    "    device_id String,\n"
    "    template_key String,\n"
    "    template_version String,\n"
    "    content_title String,\n"
    "    content_body String,\n"
    "    content_variables String COMMENT 'JSON object of the variables as sent',\n"
    "    action_button String,\n"
    "    action_url String,\n"
    "    failure_code String,\n"
    "    failure_detail String,\n"
    "    source_topic LowCardinality(String),\n"
    "    source_partition UInt32,\n"
    "    source_offset UInt64\n"
    ")\n"
    "ENGINE = ReplacingMergeTree(reports)\n"
    "ORDER BY (user_id, message_id, event)\n"
    "SETTINGS index_granularity = 1024, min_compress_block_size = 4096,\n"
    "    non_replicated_deduplication_window = 1000",
    "CREATE TABLE IF NOT EXISTS user_insights.user_event_stats\n(\n"
    "    user_id String,\n"
    "    channel LowCardinality(String),\n"
    "    event LowCardinality(String),\n"
    "    day Date,\n"
    "    messages AggregateFunction(uniqExact, String),\n"
    "    first_at SimpleAggregateFunction(min, DateTime64(3, 'UTC')),\n"
    "    last_at SimpleAggregateFunction(max, DateTime64(3, 'UTC'))\n"
    ")\n"
    "ENGINE = AggregatingMergeTree\n"
    "ORDER BY (user_id, channel, event, day)\n"
    "SETTINGS index_granularity = 1024, min_compress_block_size = 4096,\n"
    "    non_replicated_deduplication_window = 1000",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS user_insights.user_event_stats_mv "
    "TO user_insights.user_event_stats\n"
    "AS SELECT\n"
    "    user_id,\n"
    "    channel,\n"
    "    event,\n"
    "    toDate(event_at) AS day,\n"
    "    uniqExactState(message_id) AS messages,\n"
    "    min(event_at) AS first_at,\n"
    "    max(event_at) AS last_at\n"
    "FROM user_insights.notification_events\n"
    "GROUP BY user_id, channel, event, day",
    "CREATE TABLE IF NOT EXISTS user_insights.users\n(\n"
    "    user_id String,\n"
    "    phone_number String COMMENT 'canonical E.164; personal data',\n"
    "    nickname String,\n"
    "    nickname_search String "
    "COMMENT 'NFKC + case fold of nickname, see directory/nicknames.py',\n"
    "    source LowCardinality(String) COMMENT 'csv or profile-topic',\n"
    "    updated_at DateTime64(3, 'UTC')\n"
    ")\n"
    "ENGINE = ReplacingMergeTree(updated_at)\n"
    "ORDER BY user_id\n"
    "SETTINGS non_replicated_deduplication_window = 1000",
]

_OBJECT_NAME = re.compile(r"IF NOT EXISTS [^.\s]+\.(\w+)")


def _statement_for(statements: list[str], name: str) -> str:
    prefix = re.compile(rf"CREATE (TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS {DB}\.{name}\b")
    matches = [s for s in statements if prefix.match(s)]
    assert len(matches) == 1, f"expected one statement creating {name}, found {len(matches)}"
    return matches[0]


def _table_names() -> list[str]:
    """Names of the tables (not views) of the single-node schema."""
    return [
        _OBJECT_NAME.search(s).group(1)
        for s in TABLE_STATEMENTS
        if s.lstrip().startswith("CREATE TABLE")
    ]


# Single node


def test_default_matches_snapshot():
    assert schema_statements(DB)[: len(SNAPSHOT)] == SNAPSHOT


def test_default_renders_templates():
    expected = [f"CREATE DATABASE IF NOT EXISTS {DB}"]
    expected += [s.format(db=DB).strip() for s in TABLE_STATEMENTS]
    assert schema_statements(DB) == expected
    assert schema_statements(DB, None) == expected


def test_single_node_tables_exist(chdb_client, clickhouse_db):
    rows = chdb_client.query(
        "SELECT name FROM system.tables WHERE database = {db:String}",
        parameters={"db": clickhouse_db},
    ).result_rows
    expected = {_OBJECT_NAME.search(s).group(1) for s in TABLE_STATEMENTS}
    assert {name for (name,) in rows} == expected


# Cluster statements


def test_cluster_database_on_cluster():
    assert schema_statements(DB, CLUSTER)[0] == (
        f"CREATE DATABASE IF NOT EXISTS {DB} ON CLUSTER '{CLUSTER}'"
    )


def test_cluster_every_statement_on_cluster():
    for statement in schema_statements(DB, CLUSTER):
        first_line = statement.splitlines()[0]
        assert f" ON CLUSTER '{CLUSTER}'" in first_line, first_line


@pytest.mark.parametrize(
    ("name", "engine"),
    [
        (
            "notification_events",
            "ENGINE = ReplicatedReplacingMergeTree("
            "'/clickhouse/tables/{shard}/{database}/notification_events', '{replica}', reports)",
        ),
        (
            "user_event_stats",
            "ENGINE = ReplicatedAggregatingMergeTree("
            "'/clickhouse/tables/{shard}/{database}/user_event_stats', '{replica}')",
        ),
        (
            "users",
            "ENGINE = ReplicatedReplacingMergeTree("
            "'/clickhouse/tables/{shard}/{database}/users', '{replica}', updated_at)",
        ),
    ],
)
def test_cluster_local_engine(name, engine):
    local = _statement_for(schema_statements(DB, CLUSTER), f"{name}_local")
    engine_lines = [line for line in local.splitlines() if line.startswith("ENGINE = ")]
    assert engine_lines == [engine]
    assert local.startswith(
        f"CREATE TABLE IF NOT EXISTS {DB}.{name}_local ON CLUSTER '{CLUSTER}'\n(\n"
    )


def test_cluster_local_keeps_columns():
    statements = schema_statements(DB, CLUSTER)
    single = schema_statements(DB)
    for name in _table_names():
        columns = _statement_for(single, name).split("\n(\n", 1)[1].split("\n)\n", 1)[0]
        local = _statement_for(statements, f"{name}_local")
        assert f"\n(\n{columns}\n)\n" in local, name


def test_cluster_distributed_tables():
    statements = schema_statements(DB, CLUSTER)
    names = _table_names()
    assert "notification_events" in names
    for name in names:
        assert _statement_for(statements, name) == (
            f"CREATE TABLE IF NOT EXISTS {DB}.{name} ON CLUSTER '{CLUSTER}'\n"
            f"AS {DB}.{name}_local\n"
            f"ENGINE = Distributed('{CLUSTER}', '{DB}', '{name}_local', cityHash64(user_id))"
        )


def test_cluster_local_before_distributed():
    names = [_OBJECT_NAME.search(s).group(1) for s in schema_statements(DB, CLUSTER)[1:]]
    for name in _table_names():
        assert names.index(f"{name}_local") < names.index(name), name
    assert names.index("user_event_stats_local") < names.index("user_event_stats_mv")


def test_cluster_view_uses_local_tables():
    view = _statement_for(schema_statements(DB, CLUSTER), "user_event_stats_mv")
    assert view.splitlines()[0] == (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DB}.user_event_stats_mv "
        f"ON CLUSTER '{CLUSTER}' TO {DB}.user_event_stats_local"
    )
    assert f"FROM {DB}.notification_events_local\n" in view
    assert view.count("_local") == 2


def test_cluster_drops_dedup_window_setting():
    single_tables = [s for s in schema_statements(DB) if s.startswith("CREATE TABLE")]
    assert all("non_replicated_deduplication_window = 1000" in s for s in single_tables)
    for statement in schema_statements(DB, CLUSTER):
        assert "non_replicated_deduplication_window" not in statement


@pytest.mark.parametrize("name", ["notification_events", "user_event_stats"])
def test_cluster_keeps_granularity(name):
    local = _statement_for(schema_statements(DB, CLUSTER), f"{name}_local")

    settings = local.splitlines()[-1]

    assert settings == "SETTINGS index_granularity = 1024, min_compress_block_size = 4096"


def test_cluster_statements_parse(chdb_client):
    statements = schema_statements(DB, CLUSTER)
    statements.append(f"DELETE FROM {mutation_table(DB, 'users', CLUSTER)} WHERE user_id = 'u1'")
    for statement in statements:
        # formatQuery runs ClickHouse's parser and raises on a syntax error.
        formatted = chdb_client.query(
            "SELECT formatQuery({q:String})", parameters={"q": statement}
        ).result_rows[0][0]
        assert f"ON CLUSTER {CLUSTER}" in formatted, statement.splitlines()[0]


def test_cluster_unknown_statement_raises(monkeypatch):
    dictionary = "CREATE DICTIONARY IF NOT EXISTS {db}.names (user_id String) PRIMARY KEY user_id"
    monkeypatch.setattr(ddl, "TABLE_STATEMENTS", (*TABLE_STATEMENTS, dictionary))
    with pytest.raises(ValueError, match="no cluster rule for the statement"):
        schema_statements(DB, CLUSTER)
    assert schema_statements(DB)[-1].startswith("CREATE DICTIONARY")


def test_cluster_table_without_user_id_raises(monkeypatch):
    table = (
        "CREATE TABLE IF NOT EXISTS {db}.jobs\n(\n    id UInt64\n)\nENGINE = MergeTree\nORDER BY id"
    )
    monkeypatch.setattr(ddl, "TABLE_STATEMENTS", (*TABLE_STATEMENTS, table))
    with pytest.raises(ValueError, match="table jobs has no user_id String column"):
        schema_statements(DB, CLUSTER)


@pytest.mark.parametrize("cluster", ["", "two words", "x'; DROP", "1abc"])
def test_invalid_cluster_name_raises(cluster):
    with pytest.raises(ValueError, match="is invalid"):
        schema_statements(DB, cluster)
    with pytest.raises(ValueError, match="is invalid"):
        insert_settings(cluster)


# Settings the writer and readers send


def test_insert_settings():
    assert insert_settings(None) == {}
    assert insert_settings(CLUSTER) == {"insert_distributed_sync": 1}


def test_query_settings():
    assert query_settings(None) == {}
    assert query_settings(CLUSTER) == {"distributed_product_mode": "local"}


def test_setting_names_exist(chdb_client):
    names = {*insert_settings(CLUSTER), *query_settings(CLUSTER)}
    rows = chdb_client.query(
        "SELECT name FROM system.settings WHERE name IN {names:Array(String)}",
        parameters={"names": sorted(names)},
    ).result_rows
    assert {name for (name,) in rows} == names


def test_mutation_table():
    assert mutation_table(DB, "users", None) == f"{DB}.users"
    assert mutation_table(DB, "users", CLUSTER) == f"{DB}.users_local ON CLUSTER '{CLUSTER}'"


def test_settings_cluster_from_env(monkeypatch):
    monkeypatch.delenv("USER_INSIGHTS_CLICKHOUSE_CLUSTER", raising=False)
    assert Settings().clickhouse_cluster is None

    monkeypatch.setenv("USER_INSIGHTS_CLICKHOUSE_CLUSTER", CLUSTER)
    assert Settings().clickhouse_cluster == CLUSTER

    monkeypatch.setenv("USER_INSIGHTS_CLICKHOUSE_CLUSTER", "two words")
    with pytest.raises(ValidationError, match="clickhouse_cluster"):
        Settings()
