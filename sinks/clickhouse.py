"""ClickHouse connections, schema creation and the synchronous insert of event rows.

One code path serves both deployments: a ``chdb:///path`` DSN opens the embedded engine
(chDB registers itself as a clickhouse-connect backend; one process may own a path), and an
``http(s)://`` DSN reaches a ClickHouse server or cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import clickhouse_connect
import orjson
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from agents.dedup import DedupState, RecordPosition
from directory.deletion import delete_user_rows, drop_deleted, fetch_tombstones
from pipeline.errors import StorageError
from schemas.ddl import insert_settings, query_settings, schema_statements
from schemas.events import NotificationEvent

log = logging.getLogger(__name__)

EVENT_COLUMNS: tuple[str, ...] = (
    "user_id",
    "message_id",
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
    "source_topic",
    "source_partition",
    "source_offset",
)


def connect(dsn: str, *, query_timeout_s: float = 10.0, cluster: str | None = None) -> Client:
    """Open a clickhouse-connect client for `dsn`; errors name the DSN without its password.

    With a `cluster`, the client sends the settings that inserts and reads through
    Distributed tables need (see `schemas.ddl.insert_settings` and `query_settings`).
    """
    settings: dict[str, object] = {"max_execution_time": max(1, int(query_timeout_s))}
    settings.update(insert_settings(cluster))
    settings.update(query_settings(cluster))
    try:
        if dsn.startswith("chdb://"):
            return clickhouse_connect.get_client(dsn=dsn, settings=settings)
        return clickhouse_connect.get_client(
            dsn=dsn,
            settings=settings,
            connect_timeout=5,
            send_receive_timeout=max(5, int(query_timeout_s) + 5),
        )
    except (ClickHouseError, OSError, RuntimeError) as exc:
        raise StorageError(
            f"cannot open ClickHouse at {redact_dsn(dsn)}: {exc}; check "
            "USER_INSIGHTS_CLICKHOUSE_DSN, and for chdb:// that no other process owns the path"
        ) from exc


def redact_dsn(dsn: str) -> str:
    """Remove the password from a DSN so it can be logged."""
    scheme, sep, rest = dsn.partition("://")
    if "@" not in rest:
        return dsn
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def create_schema(client: Client, database: str, cluster: str | None = None) -> None:
    """Create the database, tables and views if they are missing; safe to run at any time."""
    for statement in schema_statements(database, cluster):
        try:
            client.command(statement)
        except ClickHouseError as exc:
            first_line = statement.splitlines()[0]
            raise StorageError(f"schema statement failed ({first_line}): {exc}") from exc

    log.debug("ClickHouse schema is ready database=%s", database)


def _ms_to_datetime(value_ms: int) -> datetime:
    return datetime.fromtimestamp(value_ms / 1000, tz=UTC)


def build_event_row(
    event: NotificationEvent, state: DedupState, position: RecordPosition
) -> tuple[Any, ...]:
    """Build one `notification_events` row (columns in EVENT_COLUMNS order) from a dedup state.

    `event_at` is the first `occurred_at` clamped to be no later than the pipeline time of
    the first report, so a device clock in the future cannot move an event ahead of its
    arrival.
    """
    payload = state.payload
    template = payload.get("template", {})
    content = payload.get("content", {})
    action = payload.get("action", {})
    reason = payload.get("reason", {})
    variables = content.get("variables")
    event_at_ms = min(state.first_occurred_ms, state.first_received_ms)

    return (
        event.user_id,
        event.message_id,
        event.event,
        event.channel,
        _ms_to_datetime(event_at_ms),
        _ms_to_datetime(state.first_occurred_ms),
        _ms_to_datetime(state.last_occurred_ms),
        _ms_to_datetime(state.first_received_ms),
        state.reports,
        len(state.device_ids),
        state.event_id,
        state.device_id,
        template.get("key", ""),
        "" if template.get("version") is None else str(template["version"]),
        content.get("title", "") or "",
        content.get("body", "") or "",
        orjson.dumps(variables).decode() if variables else "",
        action.get("button", "") or "",
        action.get("url", "") or "",
        reason.get("code", "") or "",
        reason.get("detail", "") or "",
        position.topic,
        state.first_partition,
        state.first_offset,
    )


_USER_INDEX = EVENT_COLUMNS.index("user_id")
_EVENT_AT_INDEX = EVENT_COLUMNS.index("event_at")


class EventWriter:
    """Synchronous writer of `notification_events` rows; the async sink runs it in a thread.

    Rows of deleted users are dropped before the insert (see `directory.deletion`), and a
    deletion that lands while the insert runs is applied again after it, so an in-flight
    batch cannot bring a deleted user back.
    """

    def __init__(self, client: Client, database: str, cluster: str | None = None) -> None:
        self._client = client
        self._database = database
        self._cluster = cluster
        self._table = f"{database}.notification_events"
        self.rows_of_deleted_users = 0

    def insert(self, rows: Sequence[tuple[Any, ...]], *, token: str) -> None:
        """Insert one batch; the same `token` on a retry lets the server drop a duplicate."""
        try:
            checked_at = datetime.now(tz=UTC)
            kept = self._drop_deleted(rows)
            if kept:
                self._client.insert(
                    self._table,
                    kept,
                    column_names=EVENT_COLUMNS,
                    settings={"insert_deduplication_token": token},
                )
                self._repeat_concurrent_deletions(kept, checked_at)
        except (ClickHouseError, OSError, RuntimeError) as exc:
            raise StorageError(
                f"insert of {len(rows)} rows into {self._table} failed: {exc}"
            ) from exc

    def _drop_deleted(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        tombstones = fetch_tombstones(self._client, self._database, {r[_USER_INDEX] for r in rows})
        kept = drop_deleted(rows, tombstones, user_index=_USER_INDEX, time_index=_EVENT_AT_INDEX)
        dropped = len(rows) - len(kept)
        if dropped:
            self.rows_of_deleted_users += dropped
            log.info("Dropped rows of deleted users rows=%d users=%d", dropped, len(tombstones))
        return kept

    def _repeat_concurrent_deletions(
        self, rows: Sequence[tuple[Any, ...]], checked_at: datetime
    ) -> None:
        tombstones = fetch_tombstones(self._client, self._database, {r[_USER_INDEX] for r in rows})
        late = [t.user_id for t in tombstones.values() if t.deleted_at >= checked_at]
        if late:
            log.info("Deletion arrived during an insert; deleting again users=%d", len(late))
            delete_user_rows(self._client, self._database, late, cluster=self._cluster)
