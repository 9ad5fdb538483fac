"""The aiohttp application: middlewares, request helpers, the route table and a runner."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from aiohttp import web
from clickhouse_connect.driver.exceptions import ClickHouseError
from pydantic import BaseModel

from pipeline.errors import StorageError
from pipeline.settings import Settings
from queries.pool import QueryPool
from schemas.events import USER_ID_PATTERN

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], dict[str, bool]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_USER_ID = re.compile(USER_ID_PATTERN)
POOL_KEY = web.AppKey("pool", QueryPool)
SETTINGS_KEY = web.AppKey("settings", Settings)
READINESS_KEY = web.AppKey("readiness", object)
OPENAPI_KEY = web.AppKey("openapi", dict)


class ApiError(Exception):
    """An error returned as JSON: a stable `code`, a message naming the value, an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_response(data: Any, status: int = 200) -> web.Response:
    body = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


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
            code = "not_found" if exc.status == 404 else f"http_{exc.status}"
            return _error_response(exc.status, code, f"{exc.reason}: {request.method} {request.path}")
        raise
    except TimeoutError:
        log.warning("Query timed out path=%s", request.path)
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
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), token.encode()):
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
    if not _USER_ID.fullmatch(user_id):
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


def time_param(request: web.Request, name: str, *, end_of_day: bool = False) -> datetime | None:
    """Parse an RFC 3339 time or a date (UTC midnight; with `end_of_day`, the next midnight)."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            value = datetime.combine(day, time(0), tzinfo=UTC)
            if end_of_day:
                value += timedelta(days=1)
        else:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        value = None
    if value is None or value.tzinfo is None or not 1900 <= value.year <= 2299:
        raise ApiError(
            400,
            "invalid_parameter",
            f"{name}={raw!r} is not a date or an RFC 3339 time with offset in 1900-2299; use "
            "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ",
        )
    return value.astimezone(UTC)


def bool_param(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "")
    if raw.lower() in ("", "0", "false", "no"):
        return False
    if raw.lower() in ("1", "true", "yes"):
        return True
    raise ApiError(400, "invalid_parameter", f"{name}={raw!r} is not a boolean; use true or false")


def choice_param(request: web.Request, name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise ApiError(
            400, "invalid_parameter", f"{name}={raw!r} is not one of {', '.join(choices)}"
        )
    return raw


async def run_query(request: web.Request, query: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Run a blocking query in the pool with the configured time limit."""
    settings = request.app[SETTINGS_KEY]
    pool = request.app[POOL_KEY]
    return await asyncio.wait_for(pool.run(query, *args, **kw), timeout=settings.query_timeout_s)


def create_api(settings: Settings, pool: QueryPool, readiness: ReadinessCheck) -> web.Application:
    """Build the aiohttp application from the route table, with the OpenAPI document."""
    from api.openapi import OPENAPI_PATH, build_openapi
    from api.routes import all_routes
    from dashboard.routes import add_dashboard_routes

    token = settings.api_token.get_secret_value() if settings.api_token else None
    app = web.Application(
        middlewares=[errors_middleware, token_middleware(token)],
        client_max_size=settings.max_upload_bytes + 1024 * 1024,
    )
    app[POOL_KEY] = pool
    app[SETTINGS_KEY] = settings
    app[READINESS_KEY] = readiness

    routes = all_routes(max_page_size=settings.max_page_size)
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
    app[OPENAPI_KEY] = build_openapi(routes, token_required=token is not None)
    app.router.add_get(OPENAPI_PATH, _serve_openapi)
    add_dashboard_routes(app)
    return app


async def _serve_openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI_KEY])


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
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, self._settings.http_port)
        await site.start()
        protection = "bearer token required" if self._settings.api_token else "no token, loopback only"
        log.info(
            "HTTP API is listening url=http://%s:%d access=%s",
            host,
            self._settings.http_port,
            protection,
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
