"""Internal ingest endpoints of the storage-owning worker, and the status-only app.

Workers started with ``USER_INSIGHTS_STORAGE_URL`` send their batches here (see
`sinks.remote`). The owner inserts a batch before it responds, so a 200 means stored. The
paths are under ``/internal/``, outside the public API and its OpenAPI document; they need
the API token when one is configured.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from api.server import SETTINGS_KEY, ApiError, json_response
from pipeline.errors import StorageError
from sinks.clickhouse import EventWriter
from sinks.remote import EVENTS_PATH, PROFILES_PATH, decode_event_rows, decode_profile_changes

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_ingest_routes(
    app: web.Application,
    writer: EventWriter,
    write_profiles: Callable[[Sequence[Any], str], None],
) -> None:
    """Route the ingest endpoints; writes run one at a time on their own thread."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-ingest")

    async def store(request: web.Request, write: Callable[[], None]) -> web.Response:
        _check_token(request)
        try:
            await asyncio.get_running_loop().run_in_executor(executor, write)
        except StorageError as exc:
            raise ApiError(503, "storage_unavailable", str(exc)) from exc
        return json_response({"stored": True})

    async def ingest_events(request: web.Request) -> web.Response:
        rows, token = _decode(decode_event_rows, await request.read())
        return await store(request, lambda: writer.insert(rows, token=token))

    async def ingest_profiles(request: web.Request) -> web.Response:
        changes, token = _decode(decode_profile_changes, await request.read())
        return await store(request, lambda: write_profiles(changes, token))

    app.router.add_post(EVENTS_PATH, ingest_events)
    app.router.add_post(PROFILES_PATH, ingest_profiles)


def _decode(decode: Callable[[bytes], Any], body: bytes) -> Any:
    try:
        return decode(body)
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "invalid_batch", f"the batch could not be decoded: {exc}") from exc


def _check_token(request: web.Request) -> None:
    token = request.app[SETTINGS_KEY].api_token
    if token is None:
        return
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.encode(), token.get_secret_value().encode()
    ):
        raise ApiError(401, "unauthorized", "the ingest endpoints need the API bearer token")


def create_status_app(readiness: Callable[[], dict[str, bool]], metrics: Handler) -> web.Application:
    """Build the app of a worker that stores remotely: health, readiness and metrics only."""
    from api.server import errors_middleware

    async def healthz(request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        checks = readiness()
        ready = all(checks.values())
        return json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)

    app = web.Application(middlewares=[errors_middleware])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
