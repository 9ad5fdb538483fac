"""Every route of the API, declared once for aiohttp and for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from api import directory_routes as directory
from api import insights_routes as insights
from api.openapi import Param, Route, path_param, query_param
from pipeline.settings import Settings
from schemas.api import (
    Health,
    ImportResult,
    MessageDetails,
    MessagePage,
    Readiness,
    SearchPage,
    Totals,
    UserActivity,
    UserEvents,
    UserDeleted,
    UserProfile,
)
from schemas.events import CHANNELS, EVENT_TYPES, USER_ID_PATTERN
from schemas.insights import UserStats

USER_ID = path_param("user_id", "User ID, case-sensitive.", USER_ID_PATTERN)
MESSAGE_ID = path_param("message_id", "Message ID.", r"^[^\x00-\x1f\x7f]{1,128}$")
# The documented since/until values: a date, or an RFC 3339 time with an upper-case `T`, an
# offset (`Z` or +HH:MM), seconds 00-59 and at most 6 fraction digits, in the years 1900-2299
# that ClickHouse DateTime64 stores.
# NOTE: time_param in api/server.py checks the years only for times, so a date such as
# 0001-01-01 reaches ClickHouse and returns 503.
_YEAR = "(19[0-9]{2}|2[0-2][0-9]{2})"
DATE_OR_TIME: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "date", "pattern": f"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}$"},
        {
            "type": "string",
            "format": "date-time",
            "pattern": (
                f"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-5][0-9]"
                "([.][0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
            ),
        },
    ]
}
SINCE = query_param(
    "since",
    DATE_OR_TIME,
    "Start, inclusive: YYYY-MM-DD (UTC) or an RFC 3339 time; must be before `until`, else 400.",
)
UNTIL = query_param(
    "until",
    DATE_OR_TIME,
    "End, exclusive for a time, inclusive for a date: YYYY-MM-DD (UTC) or an RFC 3339 time.",
)
SHOW_PHONE = query_param(
    "show_phone", {"type": "boolean"}, "Show full phone numbers (needs X-Phone-Token if configured)."
)


# Offset bounds that the handlers enforce (api/insights_routes.py for messages,
# api/directory_routes.py for search).
MAX_MESSAGES_OFFSET = 10_000_000
MAX_SEARCH_OFFSET = 1_000_000


def _page(default: int, max_page_size: int, max_offset: int) -> tuple[Param, Param]:
    limit = {
        "type": "integer",
        "minimum": 1,
        "maximum": max_page_size,
        "default": min(default, max_page_size),
    }
    offset = {"type": "integer", "minimum": 0, "maximum": max_offset, "default": 0}
    return (
        query_param("limit", limit, "Page size."),
        query_param("offset", offset, "Items to skip."),
    )


# NOTE: create_api in api/server.py calls all_routes() without the setting, so a worker with
# another USER_INSIGHTS_MAX_PAGE_SIZE documents this default as the largest `limit`.
DEFAULT_MAX_PAGE_SIZE: int = Settings.model_fields["max_page_size"].default


def all_routes(max_page_size: int = DEFAULT_MAX_PAGE_SIZE) -> list[Route]:
    """Return the route table; fixed paths come before parameterised ones.

    The OpenAPI document gives `max_page_size` as the largest `limit`, so pass the worker's
    `Settings.max_page_size`.
    """
    csv_body = {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
    return [
        Route("GET", "/healthz", insights.healthz, "Liveness.", {200: Health}, public=True),
        Route("GET", "/readyz", insights.readyz, "Readiness.", {200: Readiness, 503: Readiness}, public=True),
        Route("GET", "/api/v1/totals", insights.grand_totals, "Unique messages per event, all users.", {200: Totals}),
        Route(
            "POST",
            "/api/v1/users/import",
            directory.import_users,
            "Import users from a CSV file (raw body or multipart field 'file').",
            {200: ImportResult, 422: ImportResult},
            (query_param("partial", {"type": "boolean"}, "Import valid rows even if some are invalid."),),
            request_body=csv_body,
        ),
        Route(
            "GET",
            "/api/v1/users/search",
            directory.search,
            "Find users by user ID (exact, then prefix) or nickname substring.",
            {200: SearchPage},
            (
                query_param("q", {"type": "string", "maxLength": 200}, "User ID or nickname."),
                *_page(20, max_page_size, MAX_SEARCH_OFFSET),
                SHOW_PHONE,
            ),
        ),
        Route("GET", "/api/v1/users/{user_id}", directory.user_profile, "A user's profile and stats.", {200: UserProfile}, (USER_ID, SHOW_PHONE)),
        Route(
            "DELETE",
            "/api/v1/users/{user_id}",
            directory.delete_user_route,
            "Delete a user's profile, phone number, events, messages and stats.",
            {200: UserDeleted},
            (USER_ID,),
        ),
        Route(
            "GET",
            "/api/v1/users/{user_id}/stats",
            insights.user_stats,
            "Unique counts, rates and median time to click, in total and per channel.",
            {200: UserStats},
            (USER_ID, SINCE, UNTIL),
        ),
        Route("GET", "/api/v1/users/{user_id}/events", insights.user_events, "Deduplicated events.", {200: UserEvents}, (USER_ID,)),
        Route("GET", "/api/v1/users/{user_id}/activity", insights.user_activity, "Unique messages per day.", {200: UserActivity}, (USER_ID,)),
        Route(
            "GET",
            "/api/v1/users/{user_id}/messages",
            insights.user_messages,
            "Messages the user received, newest first.",
            {200: MessagePage},
            (
                USER_ID,
                query_param("channel", {"type": "string", "enum": list(CHANNELS)}, "Only this channel."),
                query_param("event", {"type": "string", "enum": list(EVENT_TYPES)}, "Only messages with this event."),
                SINCE,
                UNTIL,
                *_page(50, max_page_size, MAX_MESSAGES_OFFSET),
            ),
        ),
        Route(
            "GET",
            "/api/v1/users/{user_id}/messages/{message_id}",
            insights.message_details,
            "One message: template, content, timeline, click action, failure reason.",
            {200: MessageDetails},
            (USER_ID, MESSAGE_ID),
        ),
    ]
