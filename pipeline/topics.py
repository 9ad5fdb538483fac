"""Explicit creation of the project's Kafka topics, with partitions and replication from settings."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from pipeline.errors import UserInsightsError
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def project_topics(settings: Settings) -> list[str]:
    """Return the topics this project reads or writes, besides faust's internal ones."""
    return [settings.events_topic, settings.dead_letter_topic, settings.profiles_topic]


async def ensure_topics(settings: Settings, topics: list[str] | None = None) -> None:
    """Create missing topics; existing topics are left as they are."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=15_000
    )
    try:
        await admin.start()
    except KafkaConnectionError as exc:
        raise UserInsightsError(
            f"cannot reach Kafka at {settings.kafka_bootstrap_servers!r}: {exc}; start the "
            "broker (bash deploy/kafka-local.sh start) or set USER_INSIGHTS_KAFKA_BOOTSTRAP_SERVERS"
        ) from exc

    try:
        existing = set(await admin.list_topics())
        missing = [t for t in (topics or project_topics(settings)) if t not in existing]
        if missing:
            await _create(admin, settings, missing)
    finally:
        await admin.close()


async def _create(admin: AIOKafkaAdminClient, settings: Settings, names: list[str]) -> None:
    new_topics = [
        NewTopic(
            name=name,
            num_partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
        )
        for name in names
    ]
    try:
        await admin.create_topics(new_topics)
    except TopicAlreadyExistsError:
        log.info("Topics were created concurrently by another process topics=%s", names)
        return
    except KafkaError as exc:
        raise UserInsightsError(f"creating topics {names} failed: {exc}") from exc

    log.info(
        "Created topics topics=%s partitions=%d replication_factor=%d",
        names,
        settings.topic_partitions,
        settings.topic_replication_factor,
    )


async def consumer_lag(bootstrap_servers: str, group: str, topic: str) -> dict[int, int]:
    """Return, per partition of `topic`, the end offset minus the group's committed offset.

    A partition the group never committed counts from offset 0. Raises UserInsightsError when
    the topic does not exist, so a caller waiting for zero lag cannot pass on an empty answer.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        partitions = await _partitions(admin, topic)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
        await admin.close()

    lag = {}
    for tp in partitions:
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag[tp.partition] = ends[tp] - done
    return lag


async def _partitions(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
    described = await admin.describe_topics([topic])
    if not described or described[0]["error_code"] != 0 or not described[0]["partitions"]:
        raise UserInsightsError(f"topic {topic!r} does not exist; create it or check its name")
    numbers = sorted(p["partition"] for p in described[0]["partitions"])
    return [TopicPartition(topic, n) for n in numbers]
