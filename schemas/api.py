"""Response models of the HTTP API; the OpenAPI document is generated from them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import Channel, EventType
from schemas.insights import EventCounts, UserStats


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorDetail(_Model):
    """A stable machine-readable code and a sentence naming the bad value and the fix."""

    code: str
    message: str


class ErrorBody(_Model):
    """Body of every error response."""

    error: ErrorDetail


class Health(_Model):
    """Liveness: the process runs."""

    status: Literal["ok"]


class Readiness(_Model):
    """Readiness: true when every check is true."""

    ready: bool
    checks: dict[str, bool]


class Totals(_Model):
    """Unique messages per event type, summed over all users."""

    unique_messages_by_event: EventCounts


class StoredEvent(_Model):
    """One deduplicated event as stored, with the dedup made visible (reports, devices)."""

    user_id: str
    message_id: str
    event: EventType
    channel: Channel
    event_at: datetime
    first_occurred_at: datetime
    last_occurred_at: datetime
    received_at: datetime
    reports: int = Field(description="Raw reports merged into this one event.")
    devices: int = Field(description="Distinct devices among those reports.")
    event_id: str
    device_id: str
    template_key: str
    template_version: str
    content_title: str
    content_body: str
    content_variables: str
    action_button: str
    action_url: str
    failure_code: str
    failure_detail: str
    source_topic: str
    source_partition: int
    source_offset: int


class UserEvents(_Model):
    """A user's deduplicated events, oldest first."""

    user_id: str
    events: list[StoredEvent]


class TemplateRef(_Model):
    """Template key and version of a sent message."""

    key: str
    version: str | None


class MessageSummary(_Model):
    """One message in a user's list."""

    message_id: str
    channel: Channel
    first_event_at: datetime
    last_event_at: datetime
    events: list[EventType] = Field(description="Event types reported, in lifecycle order.")
    template: TemplateRef | None = Field(description="Null when no `sent` record arrived.")
    title: str | None


class MessagePage(_Model):
    """A page of a user's messages, newest first."""

    user_id: str
    total: int
    limit: int
    offset: int
    messages: list[MessageSummary]


class TimelineEntry(_Model):
    """One lifecycle step of a message.

    `status` is `reported` when the event was stored, `implied` when it was never reported
    but a later event shows it happened (a click implies a delivery), and `not_reported` when
    nothing shows whether it happened.
    """

    event: EventType
    status: Literal["reported", "implied", "not_reported"]
    first_occurred_at: datetime | None = None
    event_at: datetime | None = None
    received_at: datetime | None = None
    reports: int | None = Field(None, description="Raw reports counted once.")
    devices: int | None = Field(None, description="Distinct devices among the reports.")
    device_id: str | None = None
    event_id: str | None = None


class MessageContent(_Model):
    """The content as sent."""

    title: str | None
    body: str | None
    variables: dict[str, str | int | float | bool | None]


class ClickActionOut(_Model):
    """Click target: button label and URL."""

    button: str | None
    url: str | None


class FailureOut(_Model):
    """Failure reason: provider code and detail."""

    code: str | None
    detail: str | None


class MessageDetails(_Model):
    """One message of one user: template, content, timeline, click action, failure reason."""

    user_id: str
    message_id: str
    channel: Channel
    template: TemplateRef | None
    content: MessageContent | None
    sent_reported: bool = Field(description="False when no `sent` record arrived.")
    timeline: list[TimelineEntry]
    arrived_out_of_order: bool = Field(
        description="True when an event arrived before an event that precedes it."
    )
    click_action: ClickActionOut | None
    failure_reason: FailureOut | None


class ActivityDay(_Model):
    """Unique messages per event type on one day (UTC)."""

    day: date
    sent: int
    delivered: int
    viewed: int
    clicked: int
    failed: int


class UserActivity(_Model):
    """A user's events per day, oldest first."""

    user_id: str
    days: list[ActivityDay]


class SearchResult(_Model):
    """One user found by a search, with summary counts."""

    user_id: str
    nickname: str | None
    phone_number: str | None = Field(description="Masked unless show_phone=true is allowed.")
    match: Literal["user_id", "user_id_prefix", "nickname"]
    summary: EventCounts
    last_event_at: datetime | None


class SearchPage(_Model):
    """A page of search results, ranked exact ID, ID prefix, then nickname."""

    query: str
    limit: int
    offset: int
    total: int
    results: list[SearchResult]


class UserProfile(_Model):
    """A user's profile and stats."""

    user_id: str
    nickname: str | None
    phone_number: str | None = Field(description="Masked unless show_phone=true is allowed.")
    has_profile: bool
    stats: UserStats


class UserDeleted(_Model):
    """Confirmation that a user's profile, events, messages and stats were deleted."""

    user_id: str
    deleted: bool


class ImportError_(_Model):
    """One invalid CSV row or cell."""

    line: int = Field(description="Physical line where the record starts.")
    column: str | None
    value: str | None
    reason: str


class ImportResult(_Model):
    """Outcome of a CSV import."""

    created: int
    updated: int
    skipped: int
    imported: bool
    errors: list[ImportError_]
    warnings: list[str]
