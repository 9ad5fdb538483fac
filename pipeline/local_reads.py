"""Reads for the command line: ask the running worker over HTTP, or open storage directly.

With the embedded database only one process may open the data path. While a worker runs it
owns the path, so the command line sends its request to the worker's HTTP API. When no worker
responds, the command line opens the path itself.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson

from pipeline.errors import NotFoundError, StorageError, UserInsightsError
from pipeline.settings import Settings
from queries.pool import QueryPool
from sinks.clickhouse import create_schema
from queries.stats import fetch_user_stats
from schemas.events import check_user_id
from schemas.insights import UserStats

HTTP_TIMEOUT_S = 15.0


class WorkerUnavailable(Exception):
    """No worker responded at the configured HTTP address."""


def worker_get(settings: Settings, path: str, params: dict[str, Any] | None = None) -> Any:
    """GET a JSON document from the worker's API; raises WorkerUnavailable if none responds."""
    query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
    url = settings.http_base_url + path + (f"?{query}" if query else "")
    request = urllib.request.Request(url)
    if settings.api_token is not None:
        request.add_header("Authorization", f"Bearer {settings.api_token.get_secret_value()}")
    if settings.api_phone_token is not None and (params or {}).get("show_phone"):
        request.add_header("X-Phone-Token", settings.api_phone_token.get_secret_value())
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            return orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise _api_error(exc) from exc
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        raise WorkerUnavailable(str(exc)) from exc


def _api_error(exc: urllib.error.HTTPError) -> UserInsightsError:
    try:
        message = orjson.loads(exc.read())["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {exc.code}"
    if exc.code == 404:
        return NotFoundError(message)
    return UserInsightsError(f"the worker rejected the request: {message}")


def read_user_stats(
    settings: Settings, user_id: str, *, since: date | None = None, until: date | None = None
) -> UserStats:
    """Read one user's stats through the worker, or from storage when no worker runs.

    `since` and `until` are days in UTC, both inclusive.
    """
    check_user_id(user_id)
    params = {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
    try:
        data = worker_get(settings, f"/api/v1/users/{urllib.parse.quote(user_id)}/stats", params)
        return UserStats.model_validate(data)
    except WorkerUnavailable:
        pass

    start = datetime.combine(since, time(0), tzinfo=UTC) if since else None
    end = datetime.combine(until, time(0), tzinfo=UTC) + timedelta(days=1) if until else None
    return open_local_pool(settings).call(fetch_user_stats, user_id, since=start, until=end)


def open_local_pool(settings: Settings) -> QueryPool:
    """Open storage in this process; fails clearly when another process owns the path."""
    pool = QueryPool(
        settings.resolved_clickhouse_dsn,
        settings.clickhouse_database,
        threads=1,
        query_timeout_s=settings.query_timeout_s,
        cluster=settings.clickhouse_cluster,
    )
    try:
        pool.call(create_schema, settings.clickhouse_cluster)
    except StorageError as exc:
        raise StorageError(
            f"{exc}. If a worker runs with another USER_INSIGHTS_HTTP_PORT, set the same port "
            "here so this command asks the worker"
        ) from exc
    return pool
