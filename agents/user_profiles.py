"""The faust agent that applies profile changes from the profiles topic to the `users` table.

Changes of one user arrive in order on one partition (the topic is keyed by `user_id`). The
agent folds a user's changes within one sink batch into one pending change and acks the
records after the batch is stored, like the events agent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import EventT, StreamT

from agents.dead_letters import DeadLetterPublisher
from pipeline.errors import InvalidEventError
from pipeline.settings import Settings
from schemas.profiles import ProfileChange, parse_profile_change
from sinks.event_sink import EventSink, consume_into_sink

log = logging.getLogger(__name__)


@dataclass
class PendingProfile:
    """A user's folded changes: whether to delete first, then the fields to upsert."""

    user_id: str
    delete_first: bool = False
    upsert: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None

    def apply(self, change: ProfileChange, received_at: datetime) -> None:
        """Fold one later change into this pending one."""
        if change.op == "delete":
            self.delete_first = True
            self.upsert = False
            self.fields.clear()
            return

        self.upsert = True
        for name in ("nickname", "phone_number"):
            value = getattr(change, name)
            if value is not None:
                self.fields[name] = value
        self.updated_at = change.updated_at or received_at


class UserProfilesAgent:
    """Registers the profiles agent on a faust app; writes go through its own sink."""

    def __init__(self, app: faust.App, settings: Settings, sink: EventSink) -> None:
        self._sink = sink
        self.source = app.topic(
            settings.profiles_topic,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.topic_partitions,
        )
        self._dead_letters = DeadLetterPublisher(
            app.topic(settings.dead_letter_topic, key_serializer="raw", value_serializer="raw")
        )
        self.changes_applied = 0
        self.dead_lettered = 0
        self.agent = app.agent(self.source, name="user-profiles", concurrency=1)(self._consume)

    async def _consume(self, stream: StreamT) -> None:
        await consume_into_sink(stream, self._sink, self.process)

    async def process(self, record: EventT) -> None:
        """Validate one profile change and fold it into the pending batch."""
        message = record.message
        try:
            change = parse_profile_change(record.value)
        except InvalidEventError as exc:
            self.dead_lettered += 1
            log.warning(
                "Invalid profile change sent to the dead-letter topic topic=%s[%d] offset=%d "
                "reason=%s",
                message.topic,
                message.partition,
                message.offset,
                exc.reason,
            )
            delivery = await self._dead_letters.publish(message, exc)
            await self._sink.add_delivery(delivery, record)
            return

        received_at = datetime.fromtimestamp(message.timestamp or 0, tz=UTC)
        pending = self._sink.buffered_row(change.user_id) or PendingProfile(change.user_id)
        pending.apply(change, received_at)
        self.changes_applied += 1
        await self._sink.add_row(change.user_id, pending, record)
