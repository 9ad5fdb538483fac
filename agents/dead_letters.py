"""Publishing invalid records to the dead-letter topic, losing nothing.

Each dead-letter record keeps the original key and value bytes and wraps them in a JSON
envelope with the reason and the source position, so an operator can read why a record was
rejected, fix the producer and replay the original bytes.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable
from typing import Any

import orjson
from faust.types import Message, TopicT

from pipeline.errors import InvalidEventError

ENVELOPE_VERSION = 1


def dead_letter_envelope(message: Message, exc: InvalidEventError) -> bytes:
    """Encode the reason, the source position and the original bytes as one JSON object."""
    value = message.value if isinstance(message.value, bytes) else None
    key = message.key if isinstance(message.key, bytes) else None
    envelope = {
        "version": ENVELOPE_VERSION,
        "reason": exc.reason,
        "field": exc.field,
        "source": {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "timestamp_ms": int(message.timestamp * 1000) if message.timestamp else None,
        },
        "rejected_at_ms": int(time.time() * 1000),
        "key_base64": base64.b64encode(key).decode() if key is not None else None,
        "value_base64": base64.b64encode(value).decode() if value is not None else None,
    }
    return orjson.dumps(envelope)


class DeadLetterPublisher:
    """Sends envelopes to the dead-letter topic, keyed like the source record."""

    def __init__(self, topic: TopicT) -> None:
        self._topic = topic

    async def publish(self, message: Message, exc: InvalidEventError) -> Awaitable[Any]:
        """Queue one envelope; the returned future completes when the broker stored it."""
        key = message.key if isinstance(message.key, bytes) else None
        return await self._topic.send(
            key=key,
            value=dead_letter_envelope(message, exc),
            headers=[
                ("x-dead-letter-reason", exc.reason.encode()),
                ("x-source-topic", message.topic.encode()),
                ("x-source-partition", str(message.partition).encode()),
                ("x-source-offset", str(message.offset).encode()),
            ],
        )
