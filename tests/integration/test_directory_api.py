"""The user directory over HTTP and the command line, against real worker processes."""

from __future__ import annotations

import csv
import json
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.kafka import produce
from tests.support.workers import WorkerFactory, WorkerProcess, wait_until

pytestmark = pytest.mark.integration

NO_EVENTS = {"sent": 0, "delivered": 0, "viewed": 0, "clicked": 0, "failed": 0}
UPLOAD_LIMIT = 2048

# Each case: file, HTTP status, (created, updated, skipped), error (line, column) pairs, and the
# stored phone per user (None when the user must not exist).
SAMPLE_UPLOADS = [
    pytest.param(
        "blank_rows.csv",
        200,
        (2, 0, 0),
        [],
        {"u-6001": "+447400123456", "u-6002": "+821020000000"},
        id="blank_rows",
    ),
    pytest.param("bom_crlf.csv", 200, (1, 0, 0), [], {"u-2001": "+821011112222"}, id="bom_crlf"),
    pytest.param(
        "duplicate_ids.csv",
        422,
        (0, 0, 4),
        [(2, "user_id"), (4, "user_id")],
        {"u-7001": None, "u-7002": None, "U-7001": None},
        id="duplicate_ids",
    ),
    pytest.param(
        "header_case_space.csv",
        200,
        (1, 0, 0),
        [],
        {"u-2002": "+821033334444"},
        id="header_case_space",
    ),
    pytest.param(
        "korean_formats.csv",
        422,
        (0, 0, 5),
        [(5, "phone_number")],
        {"u-8001": None, "u-8005": None},
        id="korean_formats",
    ),
    pytest.param(
        "semicolon.csv",
        200,
        (2, 0, 0),
        [],
        {"u-3003": "+447400123456", "u-3004": "+821020000000"},
        id="semicolon",
    ),
    pytest.param(
        "semicolon_sep_line.csv",
        200,
        (2, 0, 0),
        [],
        {"u-3001": "+447400123456", "u-3002": "+821020000000"},
        id="semicolon_sep_line",
    ),
]
SPREADSHEET_UPLOAD = pytest.param(
    "spreadsheet_mangled.csv",
    422,
    (0, 0, 7),
    [(2, "phone_number"), (3, "phone_number"), (4, "phone_number")],
    {"u-1004": None, "u-1007": None},
    id="spreadsheet_mangled",
)

MIXED_SCRIPT_NICKNAMES = ["ЗВЕЗДА_7", "Straße-Fan", "ÉCLAIR99", "ＳＴＡＲ", "하늘별", "ゆめ"]


def new_factory(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, name: str
) -> WorkerFactory:
    """Return a factory with its own topics, group and storage, for one module-scoped worker."""
    return WorkerFactory(kafka_bootstrap, tmp_path_factory.mktemp(name), uuid.uuid4().hex[:10])


@pytest.fixture(scope="module")
def api(kafka_bootstrap, tmp_path_factory) -> Iterator[tuple[WorkerFactory, WorkerProcess]]:
    """The worker that most tests of this module share, and its factory for CLI runs."""
    factory = new_factory(kafka_bootstrap, tmp_path_factory, "directory")
    try:
        yield factory, factory.start("directory")
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def worker(api) -> WorkerProcess:
    return api[1]


@pytest.fixture(scope="module")
def small_worker(kafka_bootstrap, tmp_path_factory) -> Iterator[WorkerProcess]:
    """A second worker with a 2048-byte upload limit, which also receives the multipart uploads."""
    factory = new_factory(kafka_bootstrap, tmp_path_factory, "small-limit")
    try:
        yield factory.start("small-limit", max_upload_bytes=str(UPLOAD_LIMIT))
    finally:
        factory.stop_all()


def upload(worker: WorkerProcess, data: bytes, *, partial: bool = False) -> tuple[int, Any]:
    path = "/api/v1/users/import" + ("?partial=true" if partial else "")
    return worker.request("POST", path, data, {"Content-Type": "text/csv"})


def multipart(data: bytes, field: str = "file") -> tuple[bytes, dict[str, str]]:
    boundary = "boundary-" + uuid.uuid4().hex
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="users.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def search(worker: WorkerProcess, query: str, **params: str) -> tuple[int, Any]:
    return worker.request(
        "GET", "/api/v1/users/search?" + urllib.parse.urlencode({"q": query, **params})
    )


def stored_phone(worker: WorkerProcess, user_id: str) -> str | None:
    """Return the full stored phone number of `user_id`, or None when the user is not found."""
    status, body = worker.request("GET", f"/api/v1/users/{user_id}?show_phone=true")
    if status == 404:
        return None
    assert status == 200, body
    return body["phone_number"]


def import_or_fail(worker: WorkerProcess, rows: list[tuple[str, str, str]]) -> None:
    lines = ["user_id,phone_number,nickname"] + [",".join(row) for row in rows]
    status, body = upload(worker, ("\n".join(lines) + "\n").encode())
    assert status == 200, body
    assert body["created"] == len(rows)


@pytest.fixture(scope="module")
def nickname_users(worker) -> None:
    import_or_fail(
        worker,
        [
            (f"nk-{index}", f"+82103000000{index}", name)
            for index, name in enumerate(MIXED_SCRIPT_NICKNAMES, 1)
        ],
    )


# Uploads of the sample CSV files.


@pytest.mark.parametrize(("name", "status", "counts", "error_cells", "phones"), SAMPLE_UPLOADS)
def test_sample_csv_raw_upload(
    worker, shared_cases: Path, name, status, counts, error_cells, phones
):
    response_status, body = upload(worker, (shared_cases / "csv" / name).read_bytes())

    assert response_status == status
    assert (body["created"], body["updated"], body["skipped"]) == counts
    assert body["imported"] is (status == 200)
    assert [(error["line"], error["column"]) for error in body["errors"]] == error_cells
    for user_id, phone in phones.items():
        assert stored_phone(worker, user_id) == phone


@pytest.mark.parametrize(
    ("name", "status", "counts", "error_cells", "phones"), [*SAMPLE_UPLOADS, SPREADSHEET_UPLOAD]
)
def test_sample_csv_multipart_upload(
    small_worker, shared_cases: Path, name, status, counts, error_cells, phones
):
    body, headers = multipart((shared_cases / "csv" / name).read_bytes())

    response_status, report = small_worker.request("POST", "/api/v1/users/import", body, headers)

    assert response_status == status
    assert (report["created"], report["updated"], report["skipped"]) == counts
    assert [(error["line"], error["column"]) for error in report["errors"]] == error_cells
    for user_id, phone in phones.items():
        assert stored_phone(small_worker, user_id) == phone


def test_spreadsheet_mangled_then_partial(worker, shared_cases: Path):
    data = (shared_cases / "csv" / "spreadsheet_mangled.csv").read_bytes()

    status, report = upload(worker, data)

    assert status == 422
    assert {key: report[key] for key in ("created", "updated", "skipped", "imported")} == {
        "created": 0,
        "updated": 0,
        "skipped": 7,
        "imported": False,
    }
    assert [(error["line"], error["column"], error["value"]) for error in report["errors"]] == [
        (2, "phone_number", "8.21E+11"),
        (3, "phone_number", "447400123456"),
        (4, "phone_number", "01020000000"),
    ]
    assert report["warnings"] == [
        "phone number +44********56 is shared by 2 users: u-1004 (line 5), u-1007 (line 8); "
        "check that these users really share one phone"
    ]
    assert stored_phone(worker, "u-1004") is None

    status, report = upload(worker, data, partial=True)

    assert status == 200
    assert (report["created"], report["updated"], report["skipped"]) == (4, 0, 3)
    assert report["imported"] is True
    assert stored_phone(worker, "u-1004") == "+447400123456"
    assert stored_phone(worker, "u-1005") == "+821020000000"
    assert stored_phone(worker, "u-1006") == "+12015550123"
    assert stored_phone(worker, "u-1007") == "+447400123456"
    assert stored_phone(worker, "u-1002") is None


def test_reimport_counts_updates(worker):
    import_or_fail(worker, [("re-1", "+821040000001", "First")])

    status, report = upload(
        worker, b"user_id,phone_number\nre-1,+821040000002\nre-2,+821040000003\n"
    )

    assert status == 200
    assert (report["created"], report["updated"], report["skipped"]) == (1, 1, 0)
    assert stored_phone(worker, "re-1") == "+821040000002"
    assert worker.get("/api/v1/users/re-1")["nickname"] == "First"


@pytest.mark.parametrize("partial", [False, True])
def test_header_repeated_invalid_csv(worker, shared_cases: Path, partial):
    status, body = upload(
        worker, (shared_cases / "csv" / "header_repeated.csv").read_bytes(), partial=partial
    )

    assert status == 400
    assert body == {
        "error": {
            "code": "invalid_csv",
            "message": "line 1: the column name 'user_id' appears twice in the header (columns 1 "
            "and 3); each column name may appear only once, so rename or remove one of them",
        }
    }
    assert stored_phone(worker, "u-2003") is None


def test_header_repeated_multipart_rejected(small_worker, shared_cases: Path):
    body, headers = multipart((shared_cases / "csv" / "header_repeated.csv").read_bytes())

    status, report = small_worker.request("POST", "/api/v1/users/import", body, headers)

    assert status == 400
    assert report["error"]["code"] == "invalid_csv"
    assert stored_phone(small_worker, "u-2003") is None


@pytest.mark.parametrize(
    "data",
    [b"u-1,+821020000000\n", b"user_id,phone_number\nu-\xff,+821020000000\n", b"\n\n"],
    ids=["no_header", "not_utf8", "blank"],
)
def test_unreadable_file_invalid_csv(worker, data):
    status, body = upload(worker, data)

    assert status == 400
    assert body["error"]["code"] == "invalid_csv"


def test_empty_upload_rejected(worker):
    status, body = upload(worker, b"")

    assert status == 400
    assert body["error"]["code"] == "empty_upload"


def test_form_without_file_field(small_worker):
    body, headers = multipart(b"user_id,phone_number\nform-1,+821020000000\n", field="upload")

    status, report = small_worker.request("POST", "/api/v1/users/import", body, headers)

    assert status == 400
    assert report["error"]["code"] == "missing_file"
    assert stored_phone(small_worker, "form-1") is None


# Upload size limit.


def padded_file(user_id: str, size: int) -> bytes:
    """Return a one-user CSV of exactly `size` bytes, padded with blank lines."""
    data = f"user_id,phone_number\n{user_id},+821050000000\n".encode()
    return data + b"\n" * (size - len(data))


def test_upload_at_limit_accepted(small_worker):
    status, report = upload(small_worker, padded_file("lim-1", UPLOAD_LIMIT))

    assert status == 200
    assert report["created"] == 1


def test_upload_over_limit_rejected(small_worker):
    status, body = upload(small_worker, padded_file("lim-2", UPLOAD_LIMIT + 1))

    assert status == 413
    assert body["error"]["code"] == "upload_too_large"
    assert stored_phone(small_worker, "lim-2") is None


def test_large_upload_rejected_early(small_worker):
    status, body = upload(small_worker, padded_file("lim-3", 100 * 1024))

    assert status == 413
    assert body["error"]["code"] == "upload_too_large"


def test_multipart_over_limit_rejected(small_worker):
    body, headers = multipart(padded_file("lim-4", UPLOAD_LIMIT + 500))

    status, report = small_worker.request("POST", "/api/v1/users/import", body, headers)

    assert status == 413
    assert report["error"]["code"] == "upload_too_large"
    assert stored_phone(small_worker, "lim-4") is None


# Search and profiles.


@pytest.mark.parametrize(
    ("query", "nickname"),
    [
        ("звезда", "ЗВЕЗДА_7"),
        ("éclair", "ÉCLAIR99"),
        ("star", "ＳＴＡＲ"),
        ("하늘", "하늘별"),
        ("ゆ", "ゆめ"),
        ("STRASSE", "Straße-Fan"),
        ("straße", "Straße-Fan"),
    ],
)
def test_nickname_search_over_http(worker, nickname_users, query, nickname):
    status, page = search(worker, query)

    assert status == 200
    assert [result["nickname"] for result in page["results"]] == [nickname]
    assert page["results"][0]["match"] == "nickname"


def test_search_masks_phone(worker, nickname_users):
    status, page = search(worker, "nk-5")

    assert status == 200
    assert page["results"][0]["phone_number"] == "+82********05"
    assert page["results"][0]["summary"] == NO_EVENTS


@pytest.mark.parametrize("flag", ["false", "0", "no", ""])
def test_search_phone_stays_masked(worker, nickname_users, flag):
    status, page = search(worker, "nk-5", show_phone=flag)

    assert status == 200
    assert page["results"][0]["phone_number"] == "+82********05"


def test_search_show_phone(worker, nickname_users):
    status, page = search(worker, "nk-5", show_phone="true")

    assert status == 200
    assert page["results"][0]["phone_number"] == "+821030000005"


def test_search_page_fields(worker, nickname_users):
    status, page = search(worker, "nk-", limit="2", offset="4")

    assert status == 200
    assert [result["user_id"] for result in page["results"]] == ["nk-5", "nk-6"]
    assert page["total"] == 6
    assert page["limit"] == 2
    assert page["offset"] == 4
    assert page["query"] == "nk-"


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
def test_search_bad_paging_rejected(worker, params, name):
    status, body = search(worker, "nk-", **params)

    assert status == 400
    assert body["error"]["code"] == "invalid_parameter"
    assert body["error"]["message"].startswith(f"{name}=")


def test_query_at_max_length(worker):
    status, page = search(worker, "가" * 200)

    assert status == 200
    assert page["total"] == 0


def test_query_over_max_length(worker):
    status, body = search(worker, "x" * 201)

    assert status == 400
    assert body["error"] == {
        "code": "invalid_parameter",
        "message": "q has 201 characters; use at most 200",
    }


@pytest.mark.parametrize(
    "query",
    ["'", "' OR 1=1 --", "%", "a%", "\\", "\\\\", "a_", "😀", "{q:String}", "\u202e", "", "   "],
)
def test_hostile_query_answered(worker, nickname_users, query):
    status, page = search(worker, query)

    assert status == 200
    assert page["total"] == 0


def test_underscore_query_literal(worker, nickname_users):
    status, page = search(worker, "_")

    assert status == 200
    assert [result["nickname"] for result in page["results"]] == ["ЗВЕЗДА_7"]


@pytest.mark.parametrize("query", ["\x00", "a\x00b"])
def test_nul_query_no_server_error(worker, query):
    status, body = search(worker, query)

    assert status in (200, 400)
    if status == 200:
        assert body["total"] == 0


def test_profile_masked_by_default(worker, nickname_users):
    profile = worker.get("/api/v1/users/nk-1")

    assert profile["user_id"] == "nk-1"
    assert profile["nickname"] == "ЗВЕЗДА_7"
    assert profile["phone_number"] == "+82********01"
    assert profile["has_profile"] is True
    assert profile["stats"]["total"]["counts"] == NO_EVENTS


def test_profile_show_phone(worker, nickname_users):
    profile = worker.get("/api/v1/users/nk-1?show_phone=true")

    assert profile["phone_number"] == "+821030000001"


def test_unknown_user_not_found(worker):
    status, body = worker.request("GET", "/api/v1/users/nobody-here")

    assert status == 404
    assert body == {
        "error": {
            "code": "user_not_found",
            "message": "user 'nobody-here' has no profile and no events",
        }
    }


@pytest.mark.parametrize("raw_id", ["bad%20id", "a" * 81, "%C3%BC-1", "u%27--"])
def test_invalid_user_id_rejected(worker, raw_id):
    status, body = worker.request("GET", f"/api/v1/users/{raw_id}")

    assert status == 400
    assert body["error"]["code"] == "invalid_user_id"


def test_event_only_user_over_http(api, kafka_bootstrap):
    factory, worker = api
    event = {
        "event": "delivered",
        "user_id": "ev-http-1",
        "message_id": "m-1",
        "channel": "push",
        "occurred_at": "2026-03-01T10:00:00Z",
    }
    produce(kafka_bootstrap, factory.events_topic, [(b"ev-http-1", orjson.dumps(event), None)])

    wait_until(
        lambda: worker.request("GET", "/api/v1/users/ev-http-1")[0] == 200,
        timeout_s=60,
        what="the event of ev-http-1 to be stored",
    )
    profile = worker.get("/api/v1/users/ev-http-1")
    status, page = search(worker, "ev-http-1")

    assert profile["has_profile"] is False
    assert profile["nickname"] is None
    assert profile["phone_number"] is None
    assert profile["stats"]["total"]["counts"] == {**NO_EVENTS, "delivered": 1}
    assert status == 200
    assert [(result["user_id"], result["match"]) for result in page["results"]] == [
        ("ev-http-1", "user_id")
    ]
    assert page["results"][0]["summary"] == {**NO_EVENTS, "delivered": 1}


# The command line through the worker.


def test_cli_import_json(api, tmp_path: Path):
    factory, worker = api
    path = tmp_path / "users.csv"
    path.write_text(
        "user_id,phone_number,nickname\ncli-1,+821060000001,Rain\ncli-2,+821060000002,\n"
    )

    result = factory.cli("import-users", str(path), "--json", http_port=str(worker.port))

    assert orjson.loads(result.stdout) == {
        "created": 2,
        "updated": 0,
        "skipped": 0,
        "imported": True,
        "errors": [],
        "warnings": [],
    }
    assert f"imported through the worker at http://127.0.0.1:{worker.port}" in result.stderr
    assert worker.get("/api/v1/users/cli-1")["nickname"] == "Rain"


def test_cli_import_report(api, tmp_path: Path):
    factory, worker = api
    path = tmp_path / "users.csv"
    path.write_text(
        "user_id,phone_number\ncr-1,+821060000011\ncr-2,447400123488\nbad id,+821060000013\n"
    )
    report_path = tmp_path / "errors.csv"

    result = factory.cli(
        "import-users",
        str(path),
        "--report",
        str(report_path),
        check=False,
        http_port=str(worker.port),
    )

    assert result.returncode == 1
    with report_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["line", "column", "value", "reason"]
    assert [row[:3] for row in rows[1:]] == [
        ["3", "phone_number", "**********88"],
        ["4", "user_id", "bad id"],
    ]
    assert result.stdout.startswith(
        "NOT imported (fix the errors or use --partial): created 0, updated 0, skipped 3"
    )
    assert "447400123488" not in result.stdout
    assert "447400123488" not in result.stderr
    assert stored_phone(worker, "cr-1") is None


def test_cli_report_shows_phone_on_request(api, tmp_path: Path):
    factory, worker = api
    path = tmp_path / "users.csv"
    path.write_text("user_id,phone_number\ncs-1,447400123477\n")
    report_path = tmp_path / "errors.csv"

    result = factory.cli(
        "import-users",
        str(path),
        "--report",
        str(report_path),
        "--json",
        "--show-phone",
        check=False,
        http_port=str(worker.port),
    )

    with report_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert result.returncode == 1
    assert [row[:3] for row in rows[1:]] == [["2", "phone_number", "447400123477"]]
    assert json.loads(result.stdout)["errors"][0]["value"] == "447400123477"


def test_cli_import_partial_exit_zero(api, tmp_path: Path):
    factory, worker = api
    path = tmp_path / "users.csv"
    path.write_text("user_id,phone_number\ncp-1,+821060000021\ncp-2,12345\n")

    result = factory.cli(
        "import-users", str(path), "--partial", "--json", http_port=str(worker.port)
    )

    report = orjson.loads(result.stdout)
    assert (report["created"], report["skipped"], report["imported"]) == (1, 1, True)
    assert stored_phone(worker, "cp-1") == "+821060000021"


def test_cli_rejected_file_exit_one(api, shared_cases: Path):
    factory, worker = api
    path = shared_cases / "csv" / "header_repeated.csv"

    result = factory.cli("import-users", str(path), check=False, http_port=str(worker.port))

    assert result.returncode == 1
    assert "the column name 'user_id' appears twice" in result.stderr
    assert result.stdout == ""


def test_cli_search_masks_phone(api):
    factory, worker = api
    import_or_fail(worker, [("cs-1", "+821098765432", "Cloud")])

    result = factory.cli("search", "cs-1", http_port=str(worker.port))

    assert result.stdout.splitlines()[0] == "1 users match 'cs-1'"
    assert "+82********32" in result.stdout
    assert "[user_id]" in result.stdout
    assert "821098765432" not in result.stdout
    assert "821098765432" not in result.stderr


def test_cli_search_json(api):
    factory, worker = api
    import_or_fail(worker, [("cj-1", "+821098765433", "Mist")])

    result = factory.cli("search", "mist", "--json", http_port=str(worker.port))

    users = orjson.loads(result.stdout)
    assert [user["user_id"] for user in users] == ["cj-1"]
    assert users[0]["nickname"] == "Mist"
    assert users[0]["phone_number"] == "+82********33"
    assert users[0]["match"] == "nickname"
    assert users[0]["summary"] == NO_EVENTS
    assert "821098765433" not in result.stderr


def test_cli_search_show_phone(api):
    factory, worker = api
    import_or_fail(worker, [("cv-1", "+821098765434", "Haze")])

    result = factory.cli("search", "cv-1", "--json", "--show-phone", http_port=str(worker.port))

    assert orjson.loads(result.stdout)[0]["phone_number"] == "+821098765434"
