"""Storage through the worker that owns the embedded database.

The embedded database (chDB) may be opened by one process at a time. A worker started with
``USER_INSIGHTS_STORAGE_URL=http://<owner>:<port>`` opens no database: its sinks send each
batch to the owner's internal ingest endpoints, and the owner inserts the batch before it
responds. The sending worker acks its records only after that response, so the offset rule
(no commit before storage) also applies across processes, and retried batches carry the same
deduplication token.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import orjson

from agents.user_profiles import PendingProfile
from pipeline.errors import StorageError
from sinks.clickhouse import EVENT_COLUMNS

EVENTS_PATH = "/internal/v1/events"
PROFILES_PATH = "/internal/v1/profiles"
_TIME_COLUMNS = tuple(
    i for i, name in enumerate(EVENT_COLUMNS) if name.endswith("_at")
)
REQUEST_TIMEOUT_S = 60.0


def encode_event_rows(rows: Sequence[tuple[Any, ...]], token: str) -> bytes:
    return orjson.dumps({"token": token, "rows": [list(row) for row in rows]})


def decode_event_rows(body: bytes) -> tuple[list[tuple[Any, ...]], str]:
    """Decode a batch of `notification_events` rows, restoring the time columns."""
    data = orjson.loads(body)
    rows = []
    for values in data["rows"]:
        if len(values) != len(EVENT_COLUMNS):
            raise ValueError(f"a row has {len(values)} values, expected {len(EVENT_COLUMNS)}")
        for index in _TIME_COLUMNS:
            values[index] = datetime.fromisoformat(values[index])
        rows.append(tuple(values))
    return rows, str(data["token"])


def encode_profile_changes(changes: Sequence[PendingProfile], token: str) -> bytes:
    return orjson.dumps({"token": token, "changes": [asdict(change) for change in changes]})


def decode_profile_changes(body: bytes) -> tuple[list[PendingProfile], str]:
    data = orjson.loads(body)
    changes = []
    for item in data["changes"]:
        updated_at = item.get("updated_at")
        item["updated_at"] = datetime.fromisoformat(updated_at) if updated_at else None
        changes.append(PendingProfile(**item))
    return changes, str(data["token"])


class RemoteWriter:
    """Sends batches to the owning worker; raises StorageError so the sink retries."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def write_events(self, rows: Sequence[tuple[Any, ...]], token: str) -> None:
        self._post(EVENTS_PATH, encode_event_rows(rows, token), len(rows))

    def write_profiles(self, changes: Sequence[PendingProfile], token: str) -> None:
        self._post(PROFILES_PATH, encode_profile_changes(changes, token), len(changes))

    def _post(self, path: str, body: bytes, count: int) -> None:
        request = urllib.request.Request(
            self._base_url + path, data=body, method="POST", headers=self._headers
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise StorageError(
                f"the storage owner at {self._base_url} rejected {count} rows with HTTP "
                f"{exc.code}: {exc.read()[:300]!r}"
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise StorageError(
                f"the storage owner at {self._base_url} is unreachable ({exc}); check that "
                "the worker named by USER_INSIGHTS_STORAGE_URL runs"
            ) from exc
