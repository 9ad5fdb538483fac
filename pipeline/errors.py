"""The project's exception tree.

Every error raised on purpose derives from `UserInsightsError`, so callers can catch one
type. Driver errors (aiokafka, clickhouse-connect) are translated where they enter the
project and chained with ``raise ... from exc``.
"""

from __future__ import annotations


class UserInsightsError(Exception):
    """Root of every error this project raises."""


class SettingsError(UserInsightsError):
    """A setting is invalid; the message names the environment variable and the fix."""


class InvalidEventError(UserInsightsError):
    """A Kafka record is not a valid notification event.

    `reason` is one sentence for the dead-letter record; `field` names the offending
    field when one is to blame.
    """

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class StorageError(UserInsightsError):
    """ClickHouse rejected or failed a query or an insert."""


class StorageUnavailableError(StorageError):
    """ClickHouse did not accept writes; `retry_after_s` is the wait before the next try."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotFoundError(UserInsightsError):
    """The requested user or message does not exist."""
