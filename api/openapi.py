"""The route table of the API and the OpenAPI 3.1 document generated from it.

Every route is declared once, with its parameters and response models; `create_api` adds the
aiohttp routes from the same table, so the document cannot drift from what is served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.api import ErrorBody

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPENAPI_PATH = "/openapi.json"


@dataclass(frozen=True)
class Param:
    """One path or query parameter."""

    name: str
    location: str
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Route:
    """One endpoint: method, path, handler, documentation and response models by status."""

    method: str
    path: str
    handler: Handler
    summary: str
    responses: dict[int, type[BaseModel]]
    params: tuple[Param, ...] = ()
    request_body: dict[str, Any] | None = None
    tags: tuple[str, ...] = field(default=())
    public: bool = False


def path_param(name: str, description: str, pattern: str | None = None) -> Param:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return Param(name, "path", schema, description, required=True)


def query_param(name: str, schema: dict[str, Any], description: str) -> Param:
    return Param(name, "query", schema, description)


ERROR_RESPONSES: dict[int, str] = {
    400: "Invalid parameter; the message names the value and the fix.",
    401: "Missing or wrong bearer token.",
    403: "Not allowed.",
    404: "Not found.",
    413: "Upload too large.",
    422: "Input understood but rejected.",
    503: "Storage unavailable or query timed out; retry later.",
}


def build_openapi(routes: list[Route], *, token_required: bool) -> dict[str, Any]:
    """Generate the OpenAPI document for `routes` from their pydantic response models."""
    models = {model for route in routes for model in route.responses.values()} | {ErrorBody}
    keyed = [(model, "serialization") for model in sorted(models, key=lambda m: m.__name__)]
    refs, definitions = models_json_schema(keyed, ref_template="#/components/schemas/{model}")

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, refs, token_required
        )

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "user-insights API",
            "version": "1",
            "description": "Per-user notification insights. Counts are unique messages.",
        },
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {})},
    }
    if token_required:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return document


def _parameter(param: Param) -> dict[str, Any]:
    parameter: dict[str, Any] = {
        "name": param.name,
        "in": param.location,
        "required": param.required,
        "schema": param.schema,
        "description": param.description,
    }
    if param.location == "query":
        # The handlers treat `name=` like a missing parameter, so its default applies.
        parameter["allowEmptyValue"] = True
    return parameter


def _operation(route: Route, refs: dict[Any, Any], token_required: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, model in route.responses.items():
        responses[str(status)] = {
            "description": model.__doc__.strip().splitlines()[0] if model.__doc__ else "",
            "content": {"application/json": {"schema": refs[(model, "serialization")]}},
        }
    error_ref = refs[(ErrorBody, "serialization")]
    for status, description in ERROR_RESPONSES.items():
        if str(status) in responses:
            continue
        if status == 401 and (route.public or not token_required):
            continue
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": error_ref}},
        }

    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "parameters": [_parameter(p) for p in route.params],
        "responses": responses,
    }
    if route.tags:
        operation["tags"] = list(route.tags)
    if route.request_body is not None:
        operation["requestBody"] = route.request_body
    if token_required and not route.public:
        operation["security"] = [{"bearer": []}]
    return operation
