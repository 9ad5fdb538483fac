"""Sending records to Kafka from files or generators, byte for byte."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from pipeline.errors import UserInsightsError

log = logging.getLogger(__name__)

# Finds the user_id of a line that is JSON without parsing all of it; lines it cannot read
# are sent without a key and land on a partition the producer picks.
_USER_ID = re.compile(rb'"user_id"\s*:\s*"([A-Za-z0-9_.\-]{1,80})"')


def record_key(value: bytes) -> bytes | None:
    """Return the user_id of a JSON event line as the record key, or None."""
    match = _USER_ID.search(value)
    return match.group(1) if match else None


def read_lines(path: Path) -> Iterator[bytes]:
    """Yield each line of `path` without its line end; a final line end adds no record."""
    data = path.read_bytes()
    if data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        return
    for line in data.split(b"\n"):
        yield line[:-1] if line.endswith(b"\r") else line


async def send_records(
    bootstrap_servers: str, topic: str, records: Iterable[tuple[bytes | None, bytes]]
) -> int:
    """Send (key, value) records in order and wait until the broker stored all of them."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, linger_ms=5, acks="all", enable_idempotence=True
    )
    try:
        await producer.start()
    except KafkaConnectionError as exc:
        raise UserInsightsError(
            f"cannot reach Kafka at {bootstrap_servers!r}: {exc}; start the broker "
            "(bash deploy/kafka-local.sh start) or set USER_INSIGHTS_KAFKA_BOOTSTRAP_SERVERS"
        ) from exc

    sent = 0
    try:
        pending = []
        for key, value in records:
            pending.append(await producer.send(topic, value=value, key=key))
            sent += 1
            if len(pending) >= 10_000:
                for future in pending:
                    await future
                pending.clear()
        for future in pending:
            await future
    finally:
        await producer.stop()

    log.info("Sent records topic=%s count=%d", topic, sent)
    return sent
