"""The aiohttp application: routes, token check, JSON errors, and a start/stop runner."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import orjson
from aiohttp import web
from clickhouse_connect.driver.exceptions import ClickHouseError

from pipeline.errors import StorageError
from pipeline.settings import Settings
from queries.pool import QueryPool
from queries.events import fetch_user_events
from queries.stats import fetch_grand_totals, fetch_user_stats
from schemas.events import USER_ID_PATTERN

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], dict[str, bool]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_USER_ID = re.compile(USER_ID_PATTERN)
POOL_KEY = web.AppKey("pool", QueryPool)
SETTINGS_KEY = web.AppKey("settings", Settings)
READINESS_KEY = web.AppKey("readiness", Callable)  # type: ignore[type-abstract]


class ApiError(Exception):
    """An error returned as JSON: a stable `code`, a message naming the value, an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json"
    )


def _error_response(status: int, code: str, message: str) -> web.Response:
    return json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON error with a stable code."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error_response(exc.status, f"http_{exc.status}", exc.reason)
        raise
    except TimeoutError:
        return _error_response(
            503, "query_timeout", "the query timed out; narrow the time range or retry later"
        )
    except (StorageError, ClickHouseError) as exc:
        log.error("Query failed path=%s error=%s", request.path, exc)
        return _error_response(503, "storage_unavailable", "ClickHouse did not answer; retry later")


def token_middleware(token: str | None) -> Any:
    """Require `Authorization: Bearer <token>` on /api/ paths when a token is configured."""

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token is None or not request.path.startswith("/api/"):
            return await handler(request)

        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented, token):
            raise ApiError(
                401,
                "unauthorized",
                "missing or wrong bearer token; send 'Authorization: Bearer <token>' with the "
                "value of USER_INSIGHTS_API_TOKEN",
            )
        return await handler(request)

    return check_token


def user_id_from(request: web.Request) -> str:
    user_id = request.match_info["user_id"]
    if not _USER_ID.match(user_id):
        raise ApiError(
            400,
            "invalid_user_id",
            f"user_id {user_id!r} is invalid; use 1-80 letters, digits, '_', '-' or '.'",
        )
    return user_id


def int_param(request: web.Request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name}={raw!r} is not a whole number") from None
    if not minimum <= value <= maximum:
        raise ApiError(
            400, "invalid_parameter", f"{name}={value} is out of range; use {minimum} to {maximum}"
        )
    return value


def date_param(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise ApiError(
            400, "invalid_parameter", f"{name}={raw!r} is not a date; use YYYY-MM-DD"
        ) from None


async def run_query(request: web.Request, query: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    settings = request.app[SETTINGS_KEY]
    pool = request.app[POOL_KEY]
    return await asyncio.wait_for(pool.run(query, *args, **kw), timeout=settings.query_timeout_s)


async def user_stats(request: web.Request) -> web.Response:
    user_id = user_id_from(request)
    stats = await run_query(
        request,
        fetch_user_stats,
        user_id,
        since=date_param(request, "since"),
        until=date_param(request, "until"),
    )
    return json_response(stats.model_dump(mode="json"))


async def user_events(request: web.Request) -> web.Response:
    user_id = user_id_from(request)
    events = await run_query(request, fetch_user_events, user_id)
    return json_response({"user_id": user_id, "events": events})


async def grand_totals(request: web.Request) -> web.Response:
    totals = await run_query(request, fetch_grand_totals)
    return json_response({"unique_messages_by_event": totals})


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks = request.app[READINESS_KEY]()
    ready = all(checks.values())
    return json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)


def create_api(settings: Settings, pool: QueryPool, readiness: ReadinessCheck) -> web.Application:
    """Build the aiohttp application with every route of the API."""
    token = settings.api_token.get_secret_value() if settings.api_token else None
    app = web.Application(
        middlewares=[errors_middleware, token_middleware(token)],
        client_max_size=settings.max_upload_bytes + 1024 * 1024,
    )
    app[POOL_KEY] = pool
    app[SETTINGS_KEY] = settings
    app[READINESS_KEY] = readiness
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    from api.directory_routes import add_directory_routes

    add_directory_routes(app)
    app.router.add_get("/api/v1/users/{user_id}/stats", user_stats)
    app.router.add_get("/api/v1/users/{user_id}/events", user_events)
    app.router.add_get("/api/v1/totals", grand_totals)
    return app


def bind_host(settings: Settings) -> str:
    """Return the address to bind: loopback only unless an API token is configured."""
    if settings.api_token is None and settings.http_host not in ("127.0.0.1", "::1", "localhost"):
        log.warning(
            "No API token is configured, so the HTTP API binds to 127.0.0.1 instead of %s; "
            "set USER_INSIGHTS_API_TOKEN to serve other hosts",
            settings.http_host,
        )
        return "127.0.0.1"
    return settings.http_host


class ApiServer:
    """Starts and stops the aiohttp application on the configured address."""

    def __init__(self, settings: Settings, app: web.Application) -> None:
        self._settings = settings
        self._app = app
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        host = bind_host(self._settings)
        if self._settings.api_token is None:
            log.info("HTTP API has no token: loopback clients need none")
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, self._settings.http_port)
        await site.start()
        log.info("HTTP API is listening url=http://%s:%d", host, self._settings.http_port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
