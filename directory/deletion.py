"""Deleting a user everywhere, and the tombstones that keep late events out.

`delete_user` writes a tombstone and then removes the user's rows from every table with
lightweight DELETEs, which hide the rows from reads at once. The events sink filters each
batch through `drop_deleted`: an event of a tombstoned user is dropped when the user was
not restored since, or when the event happened before the deletion. A re-import or a profile
upsert restores the user, so counting starts again from zero.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from pipeline.errors import StorageError
from schemas.ddl import mutation_table

log = logging.getLogger(__name__)

NOT_RESTORED = datetime(1970, 1, 1, tzinfo=UTC)
USER_TABLES = ("notification_events", "user_event_stats", "users")
_LOOKUP_CHUNK_IDS = 20_000


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A deletion of one user and, if it happened, the later restore."""

    user_id: str
    deleted_at: datetime
    restored_at: datetime

    @property
    def restored(self) -> bool:
        return self.restored_at > NOT_RESTORED

    def blocks(self, event_at: datetime) -> bool:
        """Return whether an event at `event_at` must be dropped for this user."""
        return not self.restored or event_at < self.deleted_at


def delete_user(
    client: Client,
    database: str,
    user_id: str,
    *,
    at: datetime | None = None,
    cluster: str | None = None,
) -> None:
    """Delete a user's profile, events, messages and stats, and keep late events out."""
    now = at or datetime.now(tz=UTC)
    _write_tombstones(client, database, [(user_id, now, NOT_RESTORED, now)])
    delete_user_rows(client, database, [user_id], cluster=cluster)
    log.info("Deleted user from every table user_id=%s", user_id)


def delete_user_rows(
    client: Client, database: str, user_ids: Sequence[str], *, cluster: str | None = None
) -> None:
    """Remove every row of `user_ids` from the tables that hold per-user data."""
    if not user_ids:
        return
    for table in USER_TABLES:
        target = mutation_table(database, table, cluster)
        try:
            client.command(
                f"DELETE FROM {target} WHERE user_id IN {{ids:Array(String)}}",
                parameters={"ids": list(user_ids)},
            )
        except (ClickHouseError, OSError) as exc:
            raise StorageError(f"deleting {len(user_ids)} users from {table} failed: {exc}") from exc


def restore_users(client: Client, database: str, user_ids: Iterable[str]) -> None:
    """Mark tombstoned users as restored, so their new events count again from zero."""
    tombstones = fetch_tombstones(client, database, user_ids)
    now = datetime.now(tz=UTC)
    rows = [
        (t.user_id, t.deleted_at, now, now) for t in tombstones.values() if not t.restored
    ]
    _write_tombstones(client, database, rows)


def _write_tombstones(client: Client, database: str, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    try:
        client.insert(
            f"{database}.deleted_users",
            rows,
            column_names=("user_id", "deleted_at", "restored_at", "updated_at"),
        )
    except (ClickHouseError, OSError) as exc:
        raise StorageError(f"writing {len(rows)} user tombstones failed: {exc}") from exc


_TOMBSTONES_SQL = """
SELECT user_id, deleted_at, restored_at
FROM {db}.deleted_users FINAL
WHERE user_id IN {{ids:Array(String)}}
"""


def fetch_tombstones(client: Client, database: str, user_ids: Iterable[str]) -> dict[str, Tombstone]:
    """Read the tombstones of `user_ids`; users never deleted are absent."""
    ids = list(dict.fromkeys(user_ids))
    found: dict[str, Tombstone] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK_IDS):
        chunk = ids[start : start + _LOOKUP_CHUNK_IDS]
        result = client.query(_TOMBSTONES_SQL.format(db=database), parameters={"ids": chunk})
        for user_id, deleted_at, restored_at in result.result_rows:
            found[user_id] = Tombstone(user_id, _utc(deleted_at), _utc(restored_at))
    return found


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def drop_deleted(
    rows: Sequence[tuple[Any, ...]], tombstones: dict[str, Tombstone], *, user_index: int, time_index: int
) -> list[tuple[Any, ...]]:
    """Return the rows that no tombstone blocks."""
    if not tombstones:
        return list(rows)
    kept = []
    for row in rows:
        tombstone = tombstones.get(row[user_index])
        if tombstone is None or not tombstone.blocks(row[time_index]):
            kept.append(row)
    return kept
