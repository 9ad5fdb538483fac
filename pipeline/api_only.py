"""`user-insights api`: the HTTP API without a worker, for a ClickHouse server deployment.

With the embedded database the worker serves the API itself, because only one process may
open the data path. This command is for `http(s)://` DSNs, or for the embedded database
while no worker runs.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from api.server import ApiServer, create_api
from pipeline.settings import Settings
from queries.pool import QueryPool
from sinks.clickhouse import connect, create_schema, redact_dsn

log = logging.getLogger(__name__)


def run_api(settings: Settings) -> int:
    """Serve the API until SIGTERM or SIGINT; returns the exit code."""
    dsn = settings.resolved_clickhouse_dsn
    cluster = settings.clickhouse_cluster
    create_schema(connect(dsn, cluster=cluster), settings.clickhouse_database, cluster)
    pool = QueryPool(
        dsn, settings.clickhouse_database, query_timeout_s=settings.query_timeout_s, cluster=cluster
    )
    storage_ok = {"value": True}

    def readiness() -> dict[str, bool]:
        return {"storage_reachable": storage_ok["value"]}

    async def serve() -> None:
        server = ApiServer(settings, create_api(settings, pool, readiness))
        await server.start()
        log.info("API-only server started clickhouse=%s", redact_dsn(dsn))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        while not stop.is_set():
            storage_ok["value"] = await _storage_answers(pool)
            try:
                await asyncio.wait_for(stop.wait(), timeout=5.0)
            except TimeoutError:
                pass
        await server.stop()
        pool.close()

    asyncio.run(serve())
    return 0


async def _storage_answers(pool: QueryPool) -> bool:
    try:
        await pool.run(lambda client, database: client.command("SELECT 1"))
    except Exception as exc:
        log.warning("ClickHouse readiness check failed error=%s", exc)
        return False
    return True
