"""Runs blocking ClickHouse reads in worker threads, one client per thread.

clickhouse-connect clients are synchronous; the worker's event loop must keep serving
Kafka heartbeats while a query runs, so reads go through this pool.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from pipeline.errors import StorageError

from sinks.clickhouse import connect

T = TypeVar("T")


class QueryPool:
    """A bounded set of threads, each lazily opening its own client to one DSN."""

    def __init__(
        self,
        dsn: str,
        database: str,
        *,
        threads: int = 4,
        query_timeout_s: float = 10.0,
        cluster: str | None = None,
    ):
        self.database = database
        self.cluster = cluster
        self._dsn = dsn
        self._query_timeout_s = query_timeout_s
        self._local = threading.local()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="clickhouse-read")

    def _client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = connect(self._dsn, query_timeout_s=self._query_timeout_s, cluster=self.cluster)
            self._local.client = client
        return client

    def call(self, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `query(client, database, *args, **kwargs)` in the calling thread.

        ClickHouse errors are raised as StorageError naming the query function.
        """
        try:
            return query(self._client(), self.database, *args, **kwargs)
        except ClickHouseError as exc:
            name = getattr(query, "__name__", "query")
            raise StorageError(f"{name} failed in ClickHouse: {exc}") from exc

    async def run(self, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `query(client, database, *args, **kwargs)` in a pool thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, lambda: self.call(query, *args, **kwargs)
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False)
