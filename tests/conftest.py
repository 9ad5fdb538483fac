"""Shared fixtures: a real Kafka broker, worker processes, and the embedded ClickHouse.

Broker choice: with a Docker engine, a testcontainers Kafka; without one, the local KRaft
broker of `deploy/kafka-local.sh` (started here if it is not running). Set
USER_INSIGHTS_TEST_KAFKA=host:port to use another broker you started yourself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.workers import WorkerFactory

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_CASES = REPO_ROOT.parent / "shared" / "cases"
LOCAL_BROKER = "127.0.0.1:" + os.environ.get("USER_INSIGHTS_KAFKA_PORT", "9092")


def _port_open(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def _docker_engine_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of a real Kafka broker for this test session."""
    explicit = os.environ.get("USER_INSIGHTS_TEST_KAFKA")
    if explicit:
        yield explicit
        return

    if _docker_engine_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.0.2").with_kraft() as container:
            yield container.get_bootstrap_server()
        return

    if not _port_open(LOCAL_BROKER):
        subprocess.run(["bash", str(REPO_ROOT / "deploy" / "kafka-local.sh"), "start"], check=True)
    yield LOCAL_BROKER


@pytest.fixture
def unique_name() -> str:
    """A short unique suffix for topic, group and database names of one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def workers(kafka_bootstrap: str, tmp_path: Path, unique_name: str) -> Iterator[WorkerFactory]:
    """Start worker processes on isolated topics; all are stopped when the test ends."""
    factory = WorkerFactory(kafka_bootstrap, tmp_path, unique_name)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def shared_cases() -> Path:
    if not SHARED_CASES.is_dir():
        pytest.skip(f"handed cases not found at {SHARED_CASES}")
    return SHARED_CASES


@pytest.fixture(scope="session")
def chdb_client(tmp_path_factory: pytest.TempPathFactory):
    """One embedded ClickHouse for this test process (chDB allows one data path per process)."""
    from sinks.clickhouse import connect

    path = tmp_path_factory.mktemp("chdb")
    return connect(f"chdb://{path}")


@pytest.fixture
def clickhouse_db(chdb_client, unique_name: str) -> str:
    """A fresh database with the project's schema in the session's embedded ClickHouse."""
    from sinks.clickhouse import create_schema

    database = f"test_{unique_name}"
    create_schema(chdb_client, database)
    return database
