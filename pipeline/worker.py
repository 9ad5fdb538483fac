"""Assembly of one worker process: faust app, dedup agent, ClickHouse sink and HTTP API."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust
import mode

from agents.dedup_store import faust_store_url
from agents.notification_events import NotificationEventsAgent
from agents.user_profiles import UserProfilesAgent
from directory.store import write_profile_changes
from api.ingest import add_ingest_routes, create_status_app
from api.server import ApiServer, create_api
from pipeline.commit_watch import CommitWatch
from pipeline.errors import StorageError
from pipeline.logging_setup import json_logging_config
from pipeline.metrics import metrics_handler
from pipeline.settings import Settings
from pipeline.topics import ensure_topics
from queries.pool import QueryPool
from sinks.clickhouse import EventWriter, connect, create_schema, redact_dsn
from sinks.event_sink import EventSink
from sinks.remote import RemoteWriter

log = logging.getLogger(__name__)

BROKER_CHECK_INTERVAL_S = 5.0
COMMIT_CHECK_INTERVAL_S = 15.0


def faust_broker_url(bootstrap_servers: str) -> str:
    """Convert 'host1:9092,host2:9092' into faust's 'kafka://host1:9092;kafka://host2:9092'."""
    hosts = [h.strip() for h in bootstrap_servers.split(",") if h.strip()]
    return ";".join(f"kafka://{host}" for host in hosts)


def create_faust_app(settings: Settings) -> faust.App:
    """Create the faust app with the settings the delivery guarantees rely on."""
    return faust.App(
        settings.app_id,
        broker=faust_broker_url(settings.kafka_bootstrap_servers),
        store=faust_store_url(settings.table_store),
        # One folder per app id: the RocksDB files store changelog offsets of their app, and
        # another app reading them fails recovery with a ConsistencyError.
        datadir=str((settings.data_dir / "faust" / settings.app_id).resolve()),
        autodiscover=False,
        web_enabled=False,
        processing_guarantee="at_least_once",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        consumer_auto_offset_reset="earliest",
        # The sink acks records only after their rows are stored. Faust must not wait for
        # those acks when it stops or rebalances, because the sink flushes in the signal
        # handlers below, which run after faust's own wait.
        stream_wait_empty=False,
        broker_commit_interval=1.0,
        # A crashed worker keeps its partitions until the broker drops it from the group, so
        # this bounds how long a restart waits before it consumes again.
        broker_session_timeout=settings.consumer_session_timeout_s,
        broker_heartbeat_interval=max(0.5, settings.consumer_session_timeout_s / 5),
        # Changelog writes are batched for 20 ms; without linger every table update becomes
        # its own produce request, which capped the pipeline near 1,000 records/s.
        producer_linger=0.02,
        stream_buffer_maxsize=16_384,
        table_cleanup_interval=min(30.0, settings.dedup_window_s),
    )


@dataclass
class Worker:
    """Everything one worker process runs, wired together."""

    settings: Settings
    app: faust.App
    sink: EventSink
    agent: NotificationEventsAgent
    profiles_sink: EventSink
    profiles_agent: UserProfilesAgent
    pool: QueryPool
    api: ApiServer
    broker_reachable: bool = True
    commit_watch: CommitWatch = field(default_factory=CommitWatch)

    def readiness(self) -> dict[str, bool]:
        """Return the readiness checks; the worker is ready when all are true."""
        return {
            "storage_accepts_writes": self.sink.storage_ok and self.profiles_sink.storage_ok,
            "broker_reachable": self.broker_reachable,
            "tables_recovered": self._recovered(),
            "not_rebalancing": not self.app.rebalancing,
        }


    def _recovered(self) -> bool:
        # False until the first assignment finished recovery, and during every later one.
        completed = self.app.tables.recovery.completed.is_set()
        return completed and not getattr(self.app, "in_recovery", False)


def build_worker(settings: Settings) -> Worker:
    """Connect storage, create the schema and wire the app; raises UserInsightsError on failure."""
    dsn = settings.resolved_clickhouse_dsn
    log.info(
        "Starting worker app_id=%s brokers=%s clickhouse=%s topic=%s partitions=%d",
        settings.app_id,
        settings.kafka_bootstrap_servers,
        redact_dsn(dsn),
        settings.events_topic,
        settings.topic_partitions,
    )
    (settings.data_dir / "faust" / settings.app_id).mkdir(parents=True, exist_ok=True)
    if settings.storage_url:
        return _build_storage_client_worker(settings)

    cluster = settings.clickhouse_cluster
    client = connect(dsn, query_timeout_s=settings.query_timeout_s, cluster=cluster)
    create_schema(client, settings.clickhouse_database, cluster)
    writer = EventWriter(client, settings.clickhouse_database, cluster)

    sink = _new_sink(settings, _with_failpoint(settings, writer))

    # The profiles sink writes from its own thread, so it gets its own client.
    profiles_client = connect(dsn, query_timeout_s=settings.query_timeout_s, cluster=cluster)
    database = settings.clickhouse_database

    def write_profiles(changes: Sequence[Any], token: str) -> None:
        write_profile_changes(profiles_client, database, changes, token, cluster)

    profiles_sink = _new_sink(settings, write_profiles)

    app = create_faust_app(settings)
    agent = NotificationEventsAgent(app, settings, sink)
    profiles_agent = UserProfilesAgent(app, settings, profiles_sink)
    pool = QueryPool(dsn, database, query_timeout_s=settings.query_timeout_s, cluster=cluster)

    worker = Worker(
        settings, app, sink, agent, profiles_sink, profiles_agent, pool, api=None  # type: ignore[arg-type]
    )
    api_app = create_api(settings, pool, worker.readiness)
    api_app.router.add_get("/metrics", metrics_handler(worker))
    add_ingest_routes(api_app, writer, write_profiles)
    worker.api = ApiServer(settings, api_app)
    _connect_signals(worker)
    return worker


def _build_storage_client_worker(settings: Settings) -> Worker:
    """Wire a worker that stores through the owner at `storage_url` and serves no queries."""
    token = settings.api_token.get_secret_value() if settings.api_token else None
    remote = RemoteWriter(settings.storage_url or "", token)
    sink = _new_sink(settings, remote.write_events)
    profiles_sink = _new_sink(settings, remote.write_profiles)

    app = create_faust_app(settings)
    agent = NotificationEventsAgent(app, settings, sink)
    profiles_agent = UserProfilesAgent(app, settings, profiles_sink)
    worker = Worker(
        settings, app, sink, agent, profiles_sink, profiles_agent, pool=None, api=None  # type: ignore[arg-type]
    )
    worker.api = ApiServer(settings, create_status_app(worker.readiness, metrics_handler(worker)))
    log.info("This worker stores through the worker at %s", settings.storage_url)
    _connect_signals(worker)
    return worker


def _with_failpoint(settings: Settings, writer: EventWriter) -> Callable[[Sequence[Any], str], None]:
    failpoint = settings.failpoint_file

    def write(rows: Sequence[Any], token: str) -> None:
        if failpoint is not None and failpoint.exists():
            raise StorageError(f"failpoint file {str(failpoint)!r} exists, so the insert fails")
        writer.insert(rows, token=token)

    return write


def _new_sink(settings: Settings, write_batch: Callable[[Sequence[Any], str], None]) -> EventSink:
    return EventSink(
        write_batch,
        batch_max_rows=settings.sink_batch_max_rows,
        flush_interval_s=settings.sink_flush_interval_s,
        retry_initial_s=settings.sink_retry_initial_s,
        retry_max_s=settings.sink_retry_max_s,
    )


def _connect_signals(worker: Worker) -> None:
    app = worker.app

    @app.on_partitions_revoked.connect
    async def flush_before_revoke(app: faust.App, revoked: set, **kwargs: object) -> None:
        # Store the buffered rows before the next owner writes the same keys. These
        # records are not acked (see current_generation_ack), so their owner reads them
        # again and storage absorbs the repeat.
        await worker.sink.flush()
        await worker.profiles_sink.flush()

    @app.on_before_shutdown.connect
    async def flush_before_shutdown(app: faust.App, **kwargs: object) -> None:
        # Runs after the fetcher stopped and before the consumer's final commit.
        started_s = time.monotonic()
        for name, sink in (("events", worker.sink), ("profiles", worker.profiles_sink)):
            try:
                await sink.close()
            except Exception:
                log.exception(
                    "Final flush failed; buffered records stay uncommitted and are read "
                    "again at the next start sink=%s records=%d",
                    name,
                    sink.buffered_records,
                )
        log.info("Final flush done elapsed_s=%.2f", time.monotonic() - started_s)


class ApiService(mode.Service):
    """Runs the HTTP API and the broker reachability check beside the faust app."""

    def __init__(self, worker: Worker, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._worker = worker

    async def on_start(self) -> None:
        # mode-streaming 0.7.1 leaves the root logger at DEBUG when the worker
        # runs with loglevel WARNING, so faust built a debug record for every changelog
        # send (about 5% of the event loop). The configured level is set again here.
        logging.getLogger().setLevel(self._worker.settings.log_level.upper())
        await self._worker.api.start()

    async def on_stop(self) -> None:
        await self._worker.api.stop()
        if self._worker.pool is not None:
            self._worker.pool.close()

    @mode.Service.task
    async def _check_broker(self) -> None:
        while not self.should_stop:
            reachable = await asyncio.to_thread(
                _any_broker_accepts, self._worker.settings.kafka_bootstrap_servers
            )
            if reachable != self._worker.broker_reachable:
                log.warning("Kafka broker reachability changed reachable=%s", reachable)
            self._worker.broker_reachable = reachable
            await self.sleep(BROKER_CHECK_INTERVAL_S)

    @mode.Service.task
    async def _check_commits(self) -> None:
        while not self.should_stop:
            await self.sleep(COMMIT_CHECK_INTERVAL_S)
            # `app.consumer` would create a consumer; `_consumer` is None until it starts.
            self._worker.commit_watch.check(getattr(self._worker.app, "_consumer", None))


def _any_broker_accepts(bootstrap_servers: str) -> bool:
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "localhost", int(port)), timeout=2):
                return True
        except (OSError, ValueError):
            continue
    return False


def run_worker(settings: Settings) -> int:
    """Create topics, build the worker and run it until SIGTERM or SIGINT; returns the exit code."""
    asyncio.run(ensure_topics(settings))
    worker = build_worker(settings)
    faust_worker = faust.Worker(
        worker.app,
        ApiService(worker),
        loglevel=settings.log_level.upper(),
        logging_config=json_logging_config(settings.log_level) if settings.log_format == "json" else None,
        quiet=True,
        redirect_stdouts=False,
    )
    faust_worker.execute_from_commandline()
    return 0
