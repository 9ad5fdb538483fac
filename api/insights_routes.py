"""Insight endpoints: health, stats, events, messages, message details, activity, totals."""

from __future__ import annotations

import re

from aiohttp import web

from api.server import (
    READINESS_KEY,
    SETTINGS_KEY,
    ApiError,
    choice_param,
    int_param,
    json_response,
    run_query,
    time_param,
    user_id_from,
)
from queries.events import fetch_user_events
from queries.messages import fetch_message_details, fetch_messages
from queries.stats import fetch_grand_totals, fetch_user_activity, fetch_user_stats
from schemas.api import (
    Health,
    MessageDetails,
    MessagePage,
    Readiness,
    Totals,
    UserActivity,
    UserEvents,
)
from schemas.events import CHANNELS, EVENT_TYPES

_MESSAGE_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")


async def healthz(request: web.Request) -> web.Response:
    return json_response(Health(status="ok"))


async def readyz(request: web.Request) -> web.Response:
    checks = request.app[READINESS_KEY]()
    ready = all(checks.values())
    return json_response(Readiness(ready=ready, checks=checks), status=200 if ready else 503)


def _range(request: web.Request) -> dict[str, object]:
    since = time_param(request, "since")
    until = time_param(request, "until", end_of_day=True)
    if since is not None and until is not None and since >= until:
        raise ApiError(
            400, "invalid_parameter", f"since={since.isoformat()} is not before until={until.isoformat()}"
        )
    return {"since": since, "until": until}


async def user_stats(request: web.Request) -> web.Response:
    user_id = user_id_from(request)
    stats = await run_query(request, fetch_user_stats, user_id, **_range(request))
    return json_response(stats)


async def user_events(request: web.Request) -> web.Response:
    user_id = user_id_from(request)
    events = await run_query(request, fetch_user_events, user_id)
    return json_response(UserEvents(user_id=user_id, events=events))


async def user_messages(request: web.Request) -> web.Response:
    user_id = user_id_from(request)
    max_page = request.app[SETTINGS_KEY].max_page_size
    page = await run_query(
        request,
        fetch_messages,
        user_id,
        channel=choice_param(request, "channel", CHANNELS),
        event=choice_param(request, "event", EVENT_TYPES),
        limit=int_param(request, "limit", default=min(50, max_page), minimum=1, maximum=max_page),
        offset=int_param(request, "offset", default=0, minimum=0, maximum=10_000_000),
        **_range(request),
    )
    return json_response(MessagePage(user_id=user_id, **page))


async def message_details(request: web.Request) -> web.Response:
    user_id = user_id_from(request)
    message_id = request.match_info["message_id"]
    # fullmatch, because `$` in `match` also matches before a trailing newline.
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ApiError(
            400, "invalid_message_id", f"message_id {message_id!r} is invalid; use 1-128 printable characters"
        )
    details = await run_query(request, fetch_message_details, user_id, message_id)
    if details is None:
        raise ApiError(
            404,
            "message_not_found",
            f"user {user_id!r} has no events for message {message_id!r}; check both ids",
        )
    return json_response(MessageDetails.model_validate(details))


async def user_activity(request: web.Request) -> web.Response:
    user_id = user_id_from(request)
    days = await run_query(request, fetch_user_activity, user_id)
    return json_response(UserActivity(user_id=user_id, days=days))


async def grand_totals(request: web.Request) -> web.Response:
    totals = await run_query(request, fetch_grand_totals)
    return json_response(Totals(unique_messages_by_event=totals))
