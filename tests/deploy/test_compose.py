"""The scale-out deployment files: compose file, Dockerfile and ClickHouse cluster config.

Each compose check runs on two views of deploy/compose.yaml: the file as YAML (always),
and the configuration `docker compose config` resolves (skipped when the docker compose
plugin is missing). The resolved view also checks interpolation, defaults and merges.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ElementTree
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from schemas.ddl import schema_statements

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "compose.yaml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
CLUSTER_XML = REPO / "deploy" / "clickhouse" / "cluster.xml"
SECRETS = {
    "USER_INSIGHTS_CLICKHOUSE_PASSWORD": "chpass123",
    "USER_INSIGHTS_API_TOKEN": "token-abc",
}
KAFKA_NODES = ("kafka-1", "kafka-2", "kafka-3")
LONG_RUNNING = (*KAFKA_NODES, "clickhouse", "worker", "api")
APP_SERVICES = ("topics", "schema", "worker", "api")


@cache
def _compose_unavailable() -> str | None:
    """Return why `docker compose` cannot run here, or None when it can."""
    docker = shutil.which("docker")
    if docker is None:
        return "the docker client is not installed"
    result = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip().splitlines()
        first_line = output[0] if output else f"exit status {result.returncode}"
        return (
            "the docker compose plugin is not installed: "
            f"`docker compose version` printed {first_line!r}"
        )
    return None


def _compose_config(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("USER_INSIGHTS_")}
    env.update(environment)
    return subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    reason = _compose_unavailable()
    if reason:
        pytest.skip(reason)
    result = _compose_config(SECRETS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(params=["raw", "resolved"])
def compose(request) -> dict[str, Any]:
    """The compose file as YAML, then as `docker compose config` resolves it."""
    return request.getfixturevalue(request.param)


# Both views spell some fields differently; these helpers read either spelling.


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _volumes(service: dict[str, Any]) -> set[tuple[str, str]]:
    mounts = set()
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        mounts.add((source, target))
    return mounts


def _ports(service: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(host address, published port, container port) of each published port."""
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, str):
            # "host:published:target"; published may be "${VAR:-8080}" in the raw file.
            host, rest = port.split(":", 1)
            published, target = rest.rsplit(":", 1)
        else:
            host, published, target = port.get("host_ip", ""), port["published"], port["target"]
        ports.add((host, str(published), str(target)))
    return ports


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    depends = service.get("depends_on", {})
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: spec["condition"] for name, spec in depends.items()}


def _healthcheck_command(service: dict[str, Any]) -> str:
    return " ".join(service["healthcheck"]["test"])


# Compose: services and images


def test_compose_services(compose):
    assert set(compose["services"]) == {*LONG_RUNNING, "topics", "schema"}


def test_compose_images_pinned(compose):
    services = compose["services"]
    for name in KAFKA_NODES:
        assert services[name]["image"] == "apache/kafka:4.0.2"
    assert re.fullmatch(
        r"clickhouse/clickhouse-server:\d+\.\d+\.\d+\.\d+", services["clickhouse"]["image"]
    )
    for name in APP_SERVICES:
        assert services[name]["image"] == "user-insights:local", name
        # compose resolves the context to an absolute path; the Dockerfile stays relative.
        assert services[name]["build"]["dockerfile"].endswith("deploy/Dockerfile"), name


def test_compose_app_commands(compose):
    services = compose["services"]
    assert services["topics"]["command"] == ["create-topics"]
    assert services["schema"]["command"] == ["init-schema"]
    assert services["worker"]["command"] == ["worker"]
    assert services["api"]["command"] == ["api"]
    assert services["topics"]["restart"] == "no"
    assert services["schema"]["restart"] == "no"


def test_compose_worker_replicas(compose):
    assert compose["services"]["worker"]["deploy"]["replicas"] == 3


# Compose: Kafka


def test_compose_kafka_nodes(compose):
    voters = "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    for number, name in enumerate(KAFKA_NODES, start=1):
        env = _environment(compose["services"][name])
        assert env["KAFKA_NODE_ID"] == str(number)
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters
        assert env["KAFKA_ADVERTISED_LISTENERS"] == (
            f"INTERNAL://{name}:19092,HOST://localhost:{29091 + number}"
        )
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_compose_kafka_replication(compose):
    for name in KAFKA_NODES:
        env = _environment(compose["services"][name])
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"


# Compose: health checks, volumes, ports


def test_compose_healthchecks(compose):
    services = compose["services"]
    for name in KAFKA_NODES:
        assert "/opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server localhost:19092" in (
            _healthcheck_command(services[name])
        )
    assert "wget -qO- http://localhost:8123/ping" in _healthcheck_command(services["clickhouse"])
    for name in ("worker", "api"):
        command = _healthcheck_command(services[name])
        assert command.startswith("CMD python -c import urllib.request;"), name
        assert "urlopen('http://127.0.0.1:8080/readyz'" in command, name


def test_compose_depends_on(compose):
    services = compose["services"]
    assert _depends_on(services["topics"]) == dict.fromkeys(KAFKA_NODES, "service_healthy")
    assert _depends_on(services["schema"]) == {"clickhouse": "service_healthy"}
    assert _depends_on(services["worker"]) == {
        "topics": "service_completed_successfully",
        "schema": "service_completed_successfully",
    }
    assert _depends_on(services["api"]) == {"schema": "service_completed_successfully"}


def test_compose_volumes(compose):
    services = compose["services"]
    for name in KAFKA_NODES:
        assert _volumes(services[name]) == {(f"{name}-data", "/var/lib/kafka/data")}
    assert _volumes(services["clickhouse"]) == {("clickhouse-data", "/var/lib/clickhouse")}
    expected = {f"{name}-data" for name in KAFKA_NODES} | {"clickhouse-data"}
    assert set(compose["volumes"]) == expected


def test_compose_ports_loopback(compose):
    services = compose["services"]
    published = {name: _ports(service) for name, service in services.items()}
    assert published["kafka-1"] == {("127.0.0.1", "29092", "29092")}
    assert published["clickhouse"] == {("127.0.0.1", "8123", "8123")}
    assert published["worker"] == set()
    for name, ports in published.items():
        assert all(host == "127.0.0.1" for host, _, _ in ports), name


def test_compose_app_environment(compose):
    for name in APP_SERVICES:
        env = _environment(compose["services"][name])
        assert env["USER_INSIGHTS_KAFKA_BOOTSTRAP_SERVERS"] == (
            "kafka-1:19092,kafka-2:19092,kafka-3:19092"
        ), name
        assert env["USER_INSIGHTS_CLICKHOUSE_DSN"].startswith("http://user_insights:"), name
        assert env["USER_INSIGHTS_CLICKHOUSE_DSN"].endswith("@clickhouse:8123"), name
        assert env["USER_INSIGHTS_TOPIC_REPLICATION_FACTOR"] == "3", name
        assert env["USER_INSIGHTS_HTTP_HOST"] == "0.0.0.0", name


# Compose: values only the resolved view has


def test_resolved_secrets_and_defaults(resolved):
    services = resolved["services"]
    worker = _environment(services["worker"])
    dsn = "http://user_insights:chpass123@clickhouse:8123"
    assert worker["USER_INSIGHTS_CLICKHOUSE_DSN"] == dsn
    assert worker["USER_INSIGHTS_API_TOKEN"] == "token-abc"
    assert worker["USER_INSIGHTS_TOPIC_PARTITIONS"] == "12"
    assert _environment(services["clickhouse"])["CLICKHOUSE_PASSWORD"] == "chpass123"
    assert _ports(services["api"]) == {("127.0.0.1", "8080", "8080")}
    assert services["worker"]["build"]["context"] == str(REPO)


def test_resolved_missing_secret_fails():
    reason = _compose_unavailable()
    if reason:
        pytest.skip(reason)

    result = _compose_config({"USER_INSIGHTS_API_TOKEN": "token-abc"})

    assert result.returncode != 0
    assert "set USER_INSIGHTS_CLICKHOUSE_PASSWORD" in result.stderr


# Dockerfile


def test_dockerfile_base_and_entrypoint():
    lines = [line for line in DOCKERFILE.read_text().splitlines() if line and line[0] != "#"]
    assert lines[0] == "FROM python:3.11-slim"
    assert 'ENTRYPOINT ["user-insights"]' in lines
    assert 'CMD ["worker"]' in lines
    assert "COPY pyproject.toml README.md ./" in lines


def test_dockerfile_copies_packages():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    copies = set(re.findall(r"^COPY (\w+)/ \1/$", DOCKERFILE.read_text(), re.MULTILINE))
    assert {pattern.rstrip("*") for pattern in patterns} == copies


# ClickHouse cluster configuration


def test_cluster_xml_matches_ddl():
    root = ElementTree.parse(CLUSTER_XML).getroot()
    clusters = list(root.find("remote_servers"))
    assert [c.tag for c in clusters] == ["user_insights_cluster"]
    shards = clusters[0].findall("shard")
    assert len(shards) == 2
    for shard in shards:
        assert shard.findtext("internal_replication") == "true"
        assert len(shard.findall("replica")) == 2

    macros = root.find("macros")
    assert macros.find("shard").get("from_env") == "CLICKHOUSE_SHARD"
    assert macros.find("replica").get("from_env") == "CLICKHOUSE_REPLICA"
    # The DDL refers to these macros and to the cluster by the same names.
    statements = "\n".join(schema_statements("user_insights", "user_insights_cluster"))
    assert "{shard}" in statements
    assert "'{replica}'" in statements
    assert "Distributed('user_insights_cluster'" in statements
