"""Access control of the HTTP API: bearer token, phone token and the loopback-only bind.

One worker runs with USER_INSIGHTS_API_TOKEN and USER_INSIGHTS_API_PHONE_TOKEN set. Another
runs without a token and is configured for 0.0.0.0, so it must bind to 127.0.0.1 instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.routes import all_routes
from tests.support.workers import WorkerFactory, WorkerProcess, wait_until

pytestmark = pytest.mark.integration

API_TOKEN = "s3cret-api-token"
PHONE_TOKEN = "p-token-for-phones"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
UNAUTHORIZED = {
    "error": {
        "code": "unauthorized",
        "message": "missing or wrong bearer token; send 'Authorization: Bearer <token>' with the "
        "value of USER_INSIGHTS_API_TOKEN",
    }
}
USERS_CSV = b"user_id,phone_number,nickname\nerin,+821033334444,Erin\n"

API_PATHS = [
    "/api/v1/totals",
    "/api/v1/users/search?q=erin",
    "/api/v1/users/erin",
    "/api/v1/users/erin/stats",
    "/api/v1/users/erin/events",
    "/api/v1/users/erin/activity",
    "/api/v1/users/erin/messages",
]
PUBLIC_PATHS = ["/healthz", "/readyz", "/openapi.json"]


@pytest.fixture(scope="module")
def secured(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """A worker that requires the API token and the phone token."""
    factory = WorkerFactory(
        kafka_bootstrap, tmp_path_factory.mktemp("secured"), uuid.uuid4().hex[:10]
    )
    try:
        worker = factory.start(api_token=API_TOKEN, api_phone_token=PHONE_TOKEN)
        status, body = worker.request(
            "POST", "/api/v1/users/import", USERS_CSV, {**AUTH, "Content-Type": "text/csv"}
        )
        assert status == 200, body
        yield worker
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def open_worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """A worker without a token that was asked to listen on every interface."""
    factory = WorkerFactory(kafka_bootstrap, tmp_path_factory.mktemp("open"), uuid.uuid4().hex[:10])
    try:
        yield factory.start(http_host="0.0.0.0")
    finally:
        factory.stop_all()


def _get(
    worker: WorkerProcess, path: str, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    return worker.request("GET", path, headers=headers)


def _listening_addresses(port: int) -> list[str]:
    """Return the local IPv4 and IPv6 addresses with a TCP socket listening on `port`."""
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, _, port_hex = local.rpartition(":")
            if state == "0A" and int(port_hex, 16) == port:
                addresses.append(_decode_address(address))
    return addresses


def _decode_address(hex_address: str) -> str:
    if len(hex_address) == 8:
        # IPv4 in /proc/net/tcp is one 32-bit word in host (little-endian) byte order.
        return ".".join(str(int(hex_address[i : i + 2], 16)) for i in (6, 4, 2, 0))
    return hex_address


# Bearer token.


@pytest.mark.parametrize("path", API_PATHS)
def test_api_without_token_401(secured: WorkerProcess, path: str):
    assert _get(secured, path) == (401, UNAUTHORIZED)


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {API_TOKEN}x",
        f"Bearer {API_TOKEN[:-1]}",
        "Bearer ",
        "Bearer",
        f"Basic {API_TOKEN}",
        API_TOKEN,
        f"Token {API_TOKEN}",
    ],
)
def test_api_wrong_token_401(secured: WorkerProcess, authorization: str):
    assert _get(secured, "/api/v1/totals", {"Authorization": authorization}) == (401, UNAUTHORIZED)


@pytest.mark.parametrize("path", API_PATHS)
def test_api_with_token_200(secured: WorkerProcess, path: str):
    status, _ = _get(secured, path, AUTH)

    assert status == 200


def test_scheme_is_case_insensitive(secured: WorkerProcess):
    status, _ = _get(secured, "/api/v1/totals", {"Authorization": f"bearer {API_TOKEN}"})

    assert status == 200


def test_import_without_token_401(secured: WorkerProcess):
    status, body = secured.request(
        "POST", "/api/v1/users/import", USERS_CSV, {"Content-Type": "text/csv"}
    )

    assert status == 401
    assert body == UNAUTHORIZED


def test_unknown_api_path_needs_token(secured: WorkerProcess):
    assert _get(secured, "/api/v1/nothing") == (401, UNAUTHORIZED)
    assert _get(secured, "/api/v1/nothing", AUTH)[0] == 404


@pytest.mark.parametrize(
    "headers", [None, {"Authorization": "Bearer wrong"}], ids=["no-token", "wrong-token"]
)
@pytest.mark.parametrize("path", PUBLIC_PATHS)
def test_public_paths_need_no_token(secured: WorkerProcess, path: str, headers: dict | None):
    # /readyz returns 503 while a consumer rebalance runs, so wait for a 200.
    wait_until(
        lambda: _get(secured, path, headers)[0] == 200,
        timeout_s=30,
        what=f"GET {path} to return 200",
    )


# Phone token.


def test_phone_masked_by_default(secured: WorkerProcess):
    status, body = _get(secured, "/api/v1/users/erin", AUTH)

    assert status == 200
    assert body["phone_number"] == "+82********44"


def test_show_phone_without_phone_token_403(secured: WorkerProcess):
    status, body = _get(secured, "/api/v1/users/erin?show_phone=true", AUTH)

    assert status == 403
    assert body["error"]["code"] == "phone_reveal_forbidden"


def test_show_phone_wrong_phone_token_403(secured: WorkerProcess):
    headers = {**AUTH, "X-Phone-Token": PHONE_TOKEN + "x"}
    status, body = _get(secured, "/api/v1/users/erin?show_phone=true", headers)

    assert status == 403
    assert body["error"]["code"] == "phone_reveal_forbidden"


def test_show_phone_with_phone_token(secured: WorkerProcess):
    headers = {**AUTH, "X-Phone-Token": PHONE_TOKEN}
    status, body = _get(secured, "/api/v1/users/erin?show_phone=true", headers)

    assert status == 200
    assert body["phone_number"] == "+821033334444"


def test_phone_token_alone_keeps_mask(secured: WorkerProcess):
    headers = {**AUTH, "X-Phone-Token": PHONE_TOKEN}
    _, body = _get(secured, "/api/v1/users/erin", headers)

    assert body["phone_number"] == "+82********44"


def test_search_show_phone_needs_token(secured: WorkerProcess):
    forbidden = _get(secured, "/api/v1/users/search?q=erin&show_phone=true", AUTH)
    allowed = _get(
        secured,
        "/api/v1/users/search?q=erin&show_phone=true",
        {**AUTH, "X-Phone-Token": PHONE_TOKEN},
    )

    assert forbidden[0] == 403
    assert forbidden[1]["error"]["code"] == "phone_reveal_forbidden"
    assert allowed[0] == 200
    assert allowed[1]["results"][0]["phone_number"] == "+821033334444"


def test_phone_token_without_api_token_401(secured: WorkerProcess):
    headers = {"X-Phone-Token": PHONE_TOKEN}

    assert _get(secured, "/api/v1/users/erin?show_phone=true", headers) == (401, UNAUTHORIZED)


# OpenAPI document.


def test_openapi_declares_bearer_scheme(secured: WorkerProcess):
    _, document = _get(secured, "/openapi.json")

    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"}
    }


def test_openapi_secures_api_operations(secured: WorkerProcess):
    _, document = _get(secured, "/openapi.json")

    for route in all_routes():
        operation = document["paths"][route.path][route.method.lower()]
        label = f"{route.method} {route.path}"
        if route.public:
            assert "security" not in operation, label
            assert "401" not in operation["responses"], label
        else:
            assert operation["security"] == [{"bearer": []}], label
            assert "401" in operation["responses"], label


# Loopback-only bind without a token.


def test_no_token_binds_loopback_log(open_worker: WorkerProcess):
    expected = (
        f"HTTP API is listening url=http://127.0.0.1:{open_worker.port} "
        "access=no token, loopback only"
    )

    wait_until(
        lambda: expected in open_worker.log_path.read_text(errors="replace"),
        timeout_s=10,
        what="the listening line in the worker log",
    )


def test_no_token_warns_about_host(open_worker: WorkerProcess):
    log = open_worker.log_path.read_text(errors="replace")

    assert "binds to 127.0.0.1 instead of 0.0.0.0" in log


def test_no_token_listens_on_loopback(open_worker: WorkerProcess):
    assert _listening_addresses(open_worker.port) == ["127.0.0.1"]


def test_no_token_healthz_on_loopback(open_worker: WorkerProcess):
    assert _get(open_worker, "/healthz") == (200, {"status": "ok"})


def test_no_token_api_open_on_loopback(open_worker: WorkerProcess):
    status, body = _get(open_worker, "/api/v1/totals")

    assert status == 200
    assert body == {
        "unique_messages_by_event": {
            "sent": 0,
            "delivered": 0,
            "viewed": 0,
            "clicked": 0,
            "failed": 0,
        }
    }


def test_no_token_openapi_unsecured(open_worker: WorkerProcess):
    _, document = _get(open_worker, "/openapi.json")

    assert "securitySchemes" not in document["components"]
    assert "security" not in document["paths"]["/api/v1/totals"]["get"]
    assert "401" not in document["paths"]["/api/v1/totals"]["get"]["responses"]
