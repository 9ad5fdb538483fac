"""Typed, frozen settings read from `USER_INSIGHTS_*` environment variables.

Only entry points (the command line and test fixtures) call `Settings()`; every component
receives the object and never reads the environment itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All settings of one user-insights process; the README lists them with their defaults."""

    model_config = SettingsConfigDict(env_prefix="USER_INSIGHTS_", frozen=True, extra="ignore")

    # Kafka
    kafka_bootstrap_servers: str = Field(
        "localhost:9092", description="Comma-separated host:port list of Kafka brokers."
    )
    app_id: str = Field(
        "user-insights",
        description="Faust application id: the consumer group and the prefix of changelog topics.",
    )
    events_topic: str = Field("notification-events", description="Topic of notification events.")
    dead_letter_topic: str = Field(
        "notification-events-dlq", description="Topic that receives invalid records with a reason."
    )
    profiles_topic: str = Field("user-profiles", description="Topic of user profile changes.")
    topic_partitions: int = Field(
        8,
        ge=1,
        description="Partitions of the topics this project creates; bounds the useful workers.",
    )
    topic_replication_factor: int = Field(1, ge=1, description="Replication factor of new topics.")
    consumer_session_timeout_s: float = Field(
        10.0,
        ge=6.0,
        description="Time after which the broker drops a silent worker from the consumer "
        "group and hands its partitions to others, in seconds.",
    )

    # Deduplication window (see agents/dedup.py for the rules)
    dedup_window_s: float = Field(
        3600.0, gt=0, description="Size of the tumbling dedup window, in seconds."
    )
    dedup_expires_s: float = Field(
        7200.0, gt=0, description="How long a dedup window is kept after it closes, in seconds."
    )
    dedup_max_clock_skew_s: float = Field(
        300.0,
        ge=0,
        description="Record timestamps further than this in the future are clamped to now.",
    )
    table_store: Literal["rocksdb://", "memory://"] = Field(
        "rocksdb://",
        description="Faust table store for the dedup state: rocksdb:// (expired windows "
        "deleted, memory budgeted) or memory:// (for tests; expired by faust's in-memory index).",
    )
    dedup_store_memory_mib: int = Field(
        256,
        ge=16,
        description="Memory budget of the RocksDB dedup store per worker, shared by all its "
        "partitions (block cache, index and filter blocks, memtables), in MiB.",
    )

    # ClickHouse
    data_dir: Path = Field(Path("data"), description="Folder for local state of this process.")
    clickhouse_dsn: str | None = Field(
        None,
        description="chdb:///path for embedded ClickHouse or http(s)://user:pass@host:port.",
    )
    clickhouse_database: str = Field("user_insights", description="ClickHouse database name.")
    sink_batch_max_rows: int = Field(
        5000, ge=1, description="Rows buffered before a ClickHouse insert is forced."
    )
    sink_flush_interval_s: float = Field(
        1.0, gt=0, description="Maximum time rows wait in the buffer before an insert, in seconds."
    )
    sink_retry_initial_s: float = Field(
        0.5, gt=0, description="First wait after a failed insert, in seconds."
    )
    sink_retry_max_s: float = Field(
        30.0, gt=0, description="Maximum wait between insert retries, in seconds."
    )
    query_timeout_s: float = Field(
        10.0, gt=0, description="Time limit of one read query, in seconds."
    )

    failpoint_file: Path | None = Field(
        None,
        description="For fault-injection tests: while this file exists, every ClickHouse "
        "insert of the events sink fails.",
    )

    storage_url: str | None = Field(
        None,
        description="Base URL of the worker that owns the embedded database; when set, this "
        "worker opens no database and sends its batches there.",
    )

    # HTTP API
    http_host: str = Field("127.0.0.1", description="Address the HTTP API binds to.")
    http_port: int = Field(8080, ge=0, le=65535, description="Port of the HTTP API.")
    api_token: SecretStr | None = Field(
        None, description="Bearer token required by the HTTP API; unset binds to loopback only."
    )

    api_phone_token: SecretStr | None = Field(
        None,
        description="Token a caller must present to see full phone numbers; unset allows any "
        "authorized caller that asks with show_phone=true.",
    )
    max_upload_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest accepted CSV upload, in bytes."
    )
    max_page_size: int = Field(200, ge=1, description="Largest page size of list endpoints.")
    import_timeout_s: float = Field(
        300.0, gt=0, description="Time limit of one CSV import, in seconds."
    )

    # ClickHouse cluster (scale-out deployment; see docs/scaling.md)
    clickhouse_cluster: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$",
        description="Name of a <remote_servers> cluster: when set, the schema is created ON "
        "CLUSTER with replicated local tables and Distributed tables sharded by user_id "
        "(schemas/ddl.py). Unset creates plain tables on one server or embedded chDB.",
    )

    # Logging
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level."
    )
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")

    @model_validator(mode="after")
    def _check_window(self) -> Settings:
        if self.dedup_expires_s < self.dedup_window_s:
            raise ValueError(
                f"USER_INSIGHTS_DEDUP_EXPIRES_S={self.dedup_expires_s} is smaller than "
                f"USER_INSIGHTS_DEDUP_WINDOW_S={self.dedup_window_s}; faust drops a window "
                "before it closes in that case, so set the expiry to at least the window size"
            )
        return self

    @property
    def resolved_clickhouse_dsn(self) -> str:
        """The ClickHouse DSN, defaulting to an embedded database under `data_dir`."""
        if self.clickhouse_dsn:
            return self.clickhouse_dsn
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def is_embedded_clickhouse(self) -> bool:
        return self.resolved_clickhouse_dsn.startswith("chdb://")

    @property
    def http_base_url(self) -> str:
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "::", "") else self.http_host
        return f"http://{host}:{self.http_port}"
