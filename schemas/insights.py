"""Response models of the read side: per-user counts and rates.

Every count is a number of unique messages: a message counts once per event type however
many devices or retries reported it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import CHANNELS, EVENT_TYPES

# Each rate divides the unique messages with one event by the unique messages with another.
RATE_DEFINITIONS: dict[str, tuple[str, str]] = {
    "delivery_rate": ("delivered", "sent"),
    "view_rate": ("viewed", "delivered"),
    "click_rate": ("clicked", "delivered"),
    "failure_rate": ("failed", "sent"),
}


class EventCounts(BaseModel):
    """Unique messages per event type."""

    model_config = ConfigDict(frozen=True)

    sent: int = 0
    delivered: int = 0
    viewed: int = 0
    clicked: int = 0
    failed: int = 0


class Rate(BaseModel):
    """A ratio of two unique-message counts; `value` is null when the denominator is 0.

    A rate can exceed 1 when a producer did not report the denominator's event, for example
    deliveries of messages whose `sent` record never arrived.
    """

    model_config = ConfigDict(frozen=True)

    value: float | None
    numerator: str = Field(description="Event type counted above the line.")
    denominator: str = Field(description="Event type counted below the line.")


class GroupStats(BaseModel):
    """Counts, rates and first/last event time for one channel or for all channels."""

    model_config = ConfigDict(frozen=True)

    counts: EventCounts
    rates: dict[str, Rate]
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    median_sent_to_click_s: float | None = Field(
        None, description="Median seconds from `sent` to the first `clicked`, over messages with both."
    )
    clicks_timed: int = Field(0, description="Messages the median covers.")


class UserStats(BaseModel):
    """One user's unique-message counts, in total and per channel."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    total: GroupStats
    by_channel: dict[str, GroupStats]

    def as_cli_json(self) -> dict[str, object]:
        """Return the compact `stats --json` form: counts only, in total and per channel."""
        return {
            "user_id": self.user_id,
            "total": self.total.counts.model_dump(),
            "by_channel": {ch: g.counts.model_dump() for ch, g in self.by_channel.items()},
        }


def compute_rates(counts: EventCounts) -> dict[str, Rate]:
    """Compute every rate in RATE_DEFINITIONS from unique-message counts."""
    rates = {}
    for name, (numerator, denominator) in RATE_DEFINITIONS.items():
        below = getattr(counts, denominator)
        above = getattr(counts, numerator)
        value = round(above / below, 4) if below else None
        rates[name] = Rate(value=value, numerator=numerator, denominator=denominator)
    return rates


__all__ = [
    "CHANNELS",
    "EVENT_TYPES",
    "RATE_DEFINITIONS",
    "EventCounts",
    "GroupStats",
    "Rate",
    "UserStats",
    "compute_rates",
]
