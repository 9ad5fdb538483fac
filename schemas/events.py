"""The notification event contract that producers follow.

One Kafka record on the events topic carries one JSON object, keyed by `user_id`. Fields a
newer producer adds are ignored; unknown `event` or `channel` values, ids outside their
alphabet or length, and times without an offset are invalid and go to the dead-letter topic.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from directory.phones import mask_digits_in_text
from pipeline.errors import InvalidEventError

EventType = Literal["sent", "delivered", "viewed", "clicked", "failed"]
Channel = Literal["push", "inapp", "sms", "alimtalk", "whatsapp", "email"]

EVENT_TYPES: tuple[EventType, ...] = ("sent", "delivered", "viewed", "clicked", "failed")
CHANNELS: tuple[Channel, ...] = ("push", "inapp", "sms", "alimtalk", "whatsapp", "email")

USER_ID_PATTERN = r"^[A-Za-z0-9_.\-]{1,80}$"

UserId = Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)]
# Printable text without control characters; the length bounds keep storage keys short.
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
OptionalId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
ScalarValue = str | int | float | bool | None


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Template(_Part):
    """The template a `sent` message was rendered from."""

    key: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    version: Annotated[str, StringConstraints(max_length=50)] | int | None = None


class Content(_Part):
    """The content as sent: rendered title and body, and the variables filled in."""

    title: Annotated[str, StringConstraints(max_length=1000)] | None = None
    body: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    variables: dict[str, ScalarValue] = Field(default_factory=dict)


class ClickAction(_Part):
    """Click target: a button label, a URL, or both."""

    button: Annotated[str, StringConstraints(max_length=200)] | None = None
    url: Annotated[str, StringConstraints(max_length=4000)] | None = None


class FailureReason(_Part):
    """Failure reason as the provider reported it: a code and an optional detail."""

    code: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    detail: Annotated[str, StringConstraints(max_length=2000)] | None = None


class NotificationEvent(_Part):
    """One report of something that happened to one message of one user."""

    event: EventType
    user_id: UserId
    message_id: MessageId
    channel: Channel
    occurred_at: AwareDatetime
    event_id: OptionalId | None = None
    device_id: OptionalId | None = None
    template: Template | None = None
    content: Content | None = None
    action: ClickAction | None = None
    reason: FailureReason | None = None

    @property
    def dedup_key(self) -> str:
        """The identity of one logical event: (user_id, message_id, event), never `event_id`."""
        return f"{self.user_id}\x1f{self.message_id}\x1f{self.event}"


_USER_ID_RE = re.compile(USER_ID_PATTERN)


def check_user_id(user_id: str) -> str:
    """Return `user_id` unchanged, or raise InvalidEventError naming it and the rule."""
    if not _USER_ID_RE.fullmatch(user_id):
        raise InvalidEventError(
            f"user_id {user_id!r} is invalid; use 1-80 letters, digits, '_', '-' or '.'",
            field="user_id",
        )
    return user_id


def parse_event(value: bytes | None) -> NotificationEvent:
    """Parse one record value into an event, or raise InvalidEventError with one sentence."""
    if not value:
        raise InvalidEventError(
            "record value is empty; send one JSON object per record, as the event contract requires"
        )

    try:
        return NotificationEvent.model_validate_json(value)
    except ValidationError as exc:
        raise _translate(exc, value) from exc


def _translate(exc: ValidationError, value: bytes) -> InvalidEventError:
    first = exc.errors(include_url=False)[0]
    kind = first["type"]
    if kind in ("json_invalid", "json_type", "model_type"):
        preview = mask_digits_in_text(value[:80].decode("utf-8", errors="backslashreplace"))
        return InvalidEventError(
            f"record value is not a JSON object (starts with {preview!r}); "
            "send one UTF-8 JSON object per record"
        )

    field = ".".join(str(part) for part in first["loc"])
    if kind == "missing":
        return InvalidEventError(
            f"required field {field!r} is missing; add it, as the event contract requires",
            field=field,
        )

    received = first.get("input")
    text = mask_digits_in_text(repr(received))
    if len(text) > 120:
        text = text[:117] + "..."
    return InvalidEventError(
        f"field {field!r} is invalid: {first['msg']} (received {text})", field=field
    )
