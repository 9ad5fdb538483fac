"""Writes to the `users` table: CSV imports and profile changes.

Rows are versioned by `updated_at` (`ReplacingMergeTree`), so the latest write of a user wins
and readers use ``FINAL``. A user is deleted with a lightweight DELETE, which hides the rows
at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from directory.csv_reader import CsvReadResult, ImportedUser, RowError, read_users_csv
from directory.deletion import delete_user, restore_users
from directory.nicknames import normalize_nickname
from pipeline.errors import StorageError

USER_COLUMNS = ("user_id", "phone_number", "nickname", "nickname_search", "source", "updated_at")
INSERT_CHUNK_ROWS = 20_000
# Ids per lookup query; the ids travel as one array parameter.
LOOKUP_CHUNK_IDS = 20_000

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class StoredUser:
    """The current profile of one user as stored."""

    user_id: str
    phone_number: str
    nickname: str


@dataclass
class ImportReport:
    """Outcome of one import: counts, every row error and every warning."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    imported: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the documented JSON object of an import result."""
        return {
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "imported": self.imported,
            "errors": [asdict(error) for error in self.errors],
            "warnings": list(self.warnings),
        }


def import_users_csv(
    client: Client,
    database: str,
    data: bytes,
    *,
    partial: bool,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate a whole CSV file, then store its users.

    Without `partial`, a file with any invalid row stores nothing and the report lists every
    error. With `partial`, the valid rows are stored and the invalid ones reported. Raises
    CsvFileError when the file as a whole cannot be read.
    """
    result = read_users_csv(data)
    invalid_lines = {error.line for error in result.errors}
    report = ImportReport(errors=result.errors, warnings=result.warnings)
    if invalid_lines and not partial:
        report.skipped = len(result.users) + len(invalid_lines)
        return report

    report.skipped = len(invalid_lines)
    report.created, report.updated = _store_imported(client, database, result, progress)
    report.imported = True
    return report


def _store_imported(
    client: Client, database: str, result: CsvReadResult, progress: Progress | None
) -> tuple[int, int]:
    users = result.users
    existing = fetch_users(client, database, [user.user_id for user in users])
    now = datetime.now(tz=UTC)
    rows = [_import_row(user, existing.get(user.user_id), now) for user in users]

    restore_users(client, database, [user.user_id for user in users])
    insert_user_rows(client, database, rows, progress=progress)
    updated = sum(1 for user in users if user.user_id in existing)
    return len(users) - updated, updated


def _import_row(user: ImportedUser, current: StoredUser | None, now: datetime) -> tuple[Any, ...]:
    nickname = user.nickname
    if nickname is None:
        nickname = current.nickname if current is not None else ""
    return user_row(user.user_id, user.phone_number, nickname, source="csv", updated_at=now)


def user_row(
    user_id: str, phone_number: str, nickname: str, *, source: str, updated_at: datetime
) -> tuple[Any, ...]:
    """Build one `users` row in USER_COLUMNS order, with the normalised search column."""
    return (user_id, phone_number, nickname, normalize_nickname(nickname), source, updated_at)


def insert_user_rows(
    client: Client,
    database: str,
    rows: Sequence[tuple[Any, ...]],
    *,
    progress: Progress | None = None,
    token: str | None = None,
) -> None:
    """Insert `users` rows in chunks, reporting (rows done, rows total) after each chunk."""
    total = len(rows)
    base_token = token or uuid.uuid4().hex
    for start in range(0, total, INSERT_CHUNK_ROWS):
        chunk = rows[start : start + INSERT_CHUNK_ROWS]
        try:
            client.insert(
                f"{database}.users",
                chunk,
                column_names=USER_COLUMNS,
                settings={"insert_deduplication_token": f"{base_token}-{start}"},
            )
        except (ClickHouseError, OSError) as exc:
            raise StorageError(f"insert of {len(chunk)} users failed: {exc}") from exc
        if progress is not None:
            progress(min(start + INSERT_CHUNK_ROWS, total), total)


_FETCH_SQL = """
SELECT user_id, phone_number, nickname
FROM {db}.users FINAL
WHERE user_id IN {{ids:Array(String)}}
"""


def fetch_users(client: Client, database: str, user_ids: Iterable[str]) -> dict[str, StoredUser]:
    """Read the current profiles of `user_ids`; ids without a profile are absent."""
    ids = list(dict.fromkeys(user_ids))
    found: dict[str, StoredUser] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK_IDS):
        chunk = ids[start : start + LOOKUP_CHUNK_IDS]
        result = client.query(_FETCH_SQL.format(db=database), parameters={"ids": chunk})
        for user_id, phone_number, nickname in result.result_rows:
            found[user_id] = StoredUser(user_id, phone_number, nickname)
    return found


def write_profile_changes(
    client: Client, database: str, changes: Sequence[Any], token: str, cluster: str | None = None
) -> None:
    """Apply folded profile changes (`agents.user_profiles.PendingProfile`): deletes, then upserts.

    An upsert without a nickname or phone number keeps the stored value, or stores an empty
    one for a new user.
    """
    for change in changes:
        if change.delete_first:
            delete_user(client, database, change.user_id, cluster=cluster)

    upserts = [change for change in changes if change.upsert]
    if not upserts:
        return

    restore_users(client, database, [change.user_id for change in upserts])
    stored = fetch_users(client, database, [change.user_id for change in upserts])
    rows = []
    for change in upserts:
        current = stored.get(change.user_id)
        phone = change.fields.get("phone_number", current.phone_number if current else "")
        nickname = change.fields.get("nickname", current.nickname if current else "")
        rows.append(
            user_row(change.user_id, phone, nickname, source="profile", updated_at=change.updated_at)
        )
    insert_user_rows(client, database, rows, token=token)
