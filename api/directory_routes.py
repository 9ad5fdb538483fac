"""Directory endpoints: CSV import upload, user search and one user's profile."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import BodyPartReader, web

from api.server import (
    POOL_KEY,
    SETTINGS_KEY,
    ApiError,
    bool_param,
    int_param,
    json_response,
    run_query,
    user_id_from,
)
from directory.csv_reader import CsvFileError
from directory.phones import mask_phone_number
from directory.deletion import delete_user
from directory.store import fetch_users, import_users_csv
from queries.stats import fetch_user_stats
from queries.users import MAX_QUERY_LENGTH, search_users
from schemas.api import ImportResult, SearchPage, UserDeleted, UserProfile


def reveal_phones(request: web.Request) -> bool:
    """Return whether full phone numbers may be shown for this request."""
    if not bool_param(request, "show_phone"):
        return False

    phone_token = request.app[SETTINGS_KEY].api_phone_token
    if phone_token is None:
        return True
    presented = request.headers.get("X-Phone-Token", "")
    if not hmac.compare_digest(presented, phone_token.get_secret_value()):
        raise ApiError(
            403,
            "phone_reveal_forbidden",
            "full phone numbers need the phone token; send it as X-Phone-Token or drop show_phone",
        )
    return True


def shown_phone(phone_number: str | None, reveal: bool) -> str | None:
    if not phone_number:
        return None
    return phone_number if reveal else mask_phone_number(phone_number)


async def read_upload(request: web.Request) -> bytes:
    """Read the CSV from a multipart field `file` or from the raw body, within the size limit."""
    limit = request.app[SETTINGS_KEY].max_upload_bytes
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise _too_large(request.content_length, limit)

    if request.content_type.startswith("multipart/"):
        data = await _read_multipart(request, limit)
    else:
        data = await _read_limited(request.content.read, limit)
    if not data:
        raise ApiError(400, "empty_upload", "the upload is empty; attach a CSV file")
    return data


async def _read_multipart(request: web.Request, limit: int) -> bytes:
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, BodyPartReader) and part.name == "file":
            return await _read_limited(part.read_chunk, limit)
    raise ApiError(400, "missing_file", "the form has no 'file' field; attach the CSV as 'file'")


async def _read_limited(read_chunk: Callable[[int], Awaitable[bytes]], limit: int) -> bytes:
    chunks = []
    size = 0
    while chunk := await read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(
        413,
        "upload_too_large",
        f"the upload has more than {limit} bytes (received at least {size}); split the file "
        "or raise USER_INSIGHTS_MAX_UPLOAD_BYTES",
    )


async def import_users(request: web.Request) -> web.Response:
    partial = bool_param(request, "partial")
    data = await read_upload(request)
    settings = request.app[SETTINGS_KEY]
    pool = request.app[POOL_KEY]
    try:
        report = await asyncio.wait_for(
            pool.run(import_users_csv, data, partial=partial), timeout=settings.import_timeout_s
        )
    except CsvFileError as exc:
        raise ApiError(400, "invalid_csv", str(exc)) from exc

    status = 200 if report.imported else 422
    return json_response(ImportResult.model_validate(report.to_json()), status=status)


async def search(request: web.Request) -> web.Response:
    query = request.query.get("q", "")
    if len(query) > MAX_QUERY_LENGTH:
        raise ApiError(
            400, "invalid_parameter", f"q has {len(query)} characters; use at most {MAX_QUERY_LENGTH}"
        )
    max_page = request.app[SETTINGS_KEY].max_page_size
    limit = int_param(request, "limit", default=min(20, max_page), minimum=1, maximum=max_page)
    offset = int_param(request, "offset", default=0, minimum=0, maximum=1_000_000)
    reveal = reveal_phones(request)

    page = await run_query(request, search_users, query, limit=limit, offset=offset)
    for result in page["results"]:
        result["phone_number"] = shown_phone(result["phone_number"], reveal)
    return json_response(SearchPage(query=query, limit=limit, offset=offset, **page))


async def user_profile(request: web.Request) -> web.Response:
    user_id = user_id_from(request)
    reveal = reveal_phones(request)
    profiles = await run_query(request, fetch_users, [user_id])
    stats = await run_query(request, fetch_user_stats, user_id)
    profile = profiles.get(user_id)
    has_events = stats.total.last_event_at is not None
    if profile is None and not has_events:
        raise ApiError(404, "user_not_found", f"user {user_id!r} has no profile and no events")

    return json_response(
        UserProfile(
            user_id=user_id,
            nickname=(profile.nickname or None) if profile else None,
            phone_number=shown_phone(profile.phone_number if profile else None, reveal),
            has_profile=profile is not None,
            stats=stats,
        )
    )




async def delete_user_route(request: web.Request) -> web.Response:
    user_id = user_id_from(request)
    cluster = request.app[SETTINGS_KEY].clickhouse_cluster
    await run_query(request, delete_user, user_id, cluster=cluster)
    return json_response(UserDeleted(user_id=user_id, deleted=True))
