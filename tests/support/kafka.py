"""Kafka helpers for tests: produce with chosen timestamps, read topics, measure lag."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline import topics


def produce(
    bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes, int | None]]
) -> None:
    """Send (key, value, timestamp_ms) records in order and wait for every ack."""

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            futures = [
                await producer.send(topic, value=value, key=key, timestamp_ms=ts)
                for key, value, ts in records
            ]
            for future in futures:
                await future
        finally:
            await producer.stop()

    asyncio.run(run())


def read_all(bootstrap: str, topic: str, *, expected: int, timeout_s: float = 30.0) -> list:
    """Read records from the start of `topic` until `expected` arrived or the time is up."""

    async def run() -> list:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
        )
        await consumer.start()
        records: list = []
        try:
            deadline = asyncio.get_running_loop().time() + timeout_s
            while len(records) < expected and asyncio.get_running_loop().time() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for part in batch.values():
                    records.extend(part)
        finally:
            await consumer.stop()
        return records

    return asyncio.run(run())


def consumer_lag(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """Return end offset minus committed offset for every partition of `topic`."""
    return asyncio.run(topics.consumer_lag(bootstrap, group, topic))


def topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    """Return the broker's configuration entries of `topic`, name to value."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    async def run() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            responses = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic)]
            )
        finally:
            await admin.close()
        # Each response lists (error code, message, type, name, entries); an entry starts
        # with (name, value).
        entries = responses[0].resources[0][4]
        return {entry[0]: entry[1] for entry in entries}

    return asyncio.run(run())
