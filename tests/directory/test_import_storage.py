"""CSV imports into the embedded ClickHouse: counts, all-or-nothing, updates and limits."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat

from directory.csv_reader import MAX_USERS_PER_FILE, CsvFileError
from directory.store import StoredUser, fetch_users, import_users_csv
from queries.users import search_users


def import_text(client, database: str, text: str, *, partial: bool = False):
    return import_users_csv(client, database, text.encode("utf-8"), partial=partial)


def stored_count(client, database: str) -> int:
    return client.query(f"SELECT count() FROM {database}.users FINAL").result_rows[0][0]


def error_cells(report) -> list[tuple[int, str | None, str | None]]:
    return [(error.line, error.column, error.value) for error in report.errors]


def stored_phones(client, database: str, user_ids: list[str]) -> dict[str, str]:
    return {
        user.user_id: user.phone_number for user in fetch_users(client, database, user_ids).values()
    }


def numbered_file(row_count: int) -> bytes:
    rows = "".join(f"u-{index},+8210{index:08d}\n" for index in range(row_count))
    return ("user_id,phone_number\n" + rows).encode("ascii")


MIXED_FILE = (
    "user_id,phone_number,nickname\n"
    "m-1,+821020000001,Kim\n"
    "m-2,447400123456,Lee\n"
    "m-3,+447400123456,\n"
    "bad id,+12015550123,Park\n"
)


# Counts and all-or-nothing.


def test_first_import_creates(chdb_client, clickhouse_db):
    report = import_text(
        chdb_client, clickhouse_db, "user_id,phone_number\nc-1,+821020000001\nc-2,+821020000002\n"
    )

    assert report.to_json() == {
        "created": 2,
        "updated": 0,
        "skipped": 0,
        "imported": True,
        "errors": [],
        "warnings": [],
    }
    assert stored_count(chdb_client, clickhouse_db) == 2


def test_created_updated_skipped_counts(chdb_client, clickhouse_db):
    import_text(
        chdb_client, clickhouse_db, "user_id,phone_number\nc-1,+821020000001\nc-2,+821020000002\n"
    )

    report = import_text(
        chdb_client,
        clickhouse_db,
        "user_id,phone_number\nc-2,+821020000022\nc-3,+821020000003\nc-4,12345\n",
        partial=True,
    )

    assert report.created == 1
    assert report.updated == 1
    assert report.skipped == 1
    assert report.imported is True
    assert stored_count(chdb_client, clickhouse_db) == 3


def test_invalid_row_stores_nothing(chdb_client, clickhouse_db):
    report = import_text(chdb_client, clickhouse_db, MIXED_FILE)

    assert report.imported is False
    assert report.created == 0
    assert report.updated == 0
    assert report.skipped == 4
    assert error_cells(report) == [(3, "phone_number", "447400123456"), (5, "user_id", "bad id")]
    assert stored_count(chdb_client, clickhouse_db) == 0


def test_invalid_row_changes_no_user(chdb_client, clickhouse_db):
    import_text(
        chdb_client, clickhouse_db, "user_id,phone_number,nickname\nm-1,+821099999999,Before\n"
    )

    report = import_text(chdb_client, clickhouse_db, MIXED_FILE)

    assert report.imported is False
    assert fetch_users(chdb_client, clickhouse_db, ["m-1"]) == {
        "m-1": StoredUser("m-1", "+821099999999", "Before")
    }


def test_partial_stores_valid_rows(chdb_client, clickhouse_db):
    report = import_text(chdb_client, clickhouse_db, MIXED_FILE, partial=True)

    assert report.imported is True
    assert report.created == 2
    assert report.updated == 0
    assert report.skipped == 2
    assert error_cells(report) == [(3, "phone_number", "447400123456"), (5, "user_id", "bad id")]
    assert fetch_users(chdb_client, clickhouse_db, ["m-1", "m-2", "m-3", "bad id"]) == {
        "m-1": StoredUser("m-1", "+821020000001", "Kim"),
        "m-3": StoredUser("m-3", "+447400123456", ""),
    }


def test_partial_all_invalid_stores_nothing(chdb_client, clickhouse_db):
    report = import_text(
        chdb_client, clickhouse_db, "user_id,phone_number\nx-1,123\nx-2,456\n", partial=True
    )

    assert report.created == 0
    assert report.skipped == 2
    assert stored_count(chdb_client, clickhouse_db) == 0


def test_header_only_file_imports_nothing(chdb_client, clickhouse_db):
    report = import_text(chdb_client, clickhouse_db, "user_id,phone_number\n")

    assert report.imported is True
    assert report.created == 0
    assert report.warnings == ["the file has a header row but no data rows, so no users were read"]
    assert stored_count(chdb_client, clickhouse_db) == 0


# Re-imports.


def test_reimport_updates_phone(chdb_client, clickhouse_db):
    import_text(
        chdb_client, clickhouse_db, "user_id,phone_number,nickname\nr-1,+821020000001,Kim\n"
    )

    report = import_text(
        chdb_client, clickhouse_db, "user_id,phone_number,nickname\nr-1,+82 10 1111 2222,Kim\n"
    )

    assert report.updated == 1
    assert report.created == 0
    assert stored_phones(chdb_client, clickhouse_db, ["r-1"]) == {"r-1": "+821011112222"}
    assert stored_count(chdb_client, clickhouse_db) == 1


def test_no_nickname_column_keeps_nickname(chdb_client, clickhouse_db):
    import_text(
        chdb_client, clickhouse_db, "user_id,phone_number,nickname\nr-1,+821020000001,Kim\n"
    )

    import_text(chdb_client, clickhouse_db, "user_id,phone_number\nr-1,+821011112222\n")

    assert fetch_users(chdb_client, clickhouse_db, ["r-1"]) == {
        "r-1": StoredUser("r-1", "+821011112222", "Kim")
    }


def test_empty_nickname_cell_keeps_nickname(chdb_client, clickhouse_db):
    import_text(
        chdb_client, clickhouse_db, "user_id,phone_number,nickname\nr-1,+821020000001,Kim\n"
    )

    import_text(chdb_client, clickhouse_db, "user_id,phone_number,nickname\nr-1,+821011112222,  \n")

    assert fetch_users(chdb_client, clickhouse_db, ["r-1"])["r-1"].nickname == "Kim"


def test_given_nickname_replaces(chdb_client, clickhouse_db):
    import_text(
        chdb_client, clickhouse_db, "user_id,phone_number,nickname\nr-1,+821020000001,Kim\n"
    )

    import_text(
        chdb_client, clickhouse_db, "user_id,phone_number,nickname\nr-1,+821020000001,Park\n"
    )

    assert fetch_users(chdb_client, clickhouse_db, ["r-1"])["r-1"].nickname == "Park"
    assert search_users(chdb_client, clickhouse_db, "kim")["total"] == 0
    assert search_users(chdb_client, clickhouse_db, "park")["results"][0]["user_id"] == "r-1"


# Warnings and the sample CSV files.


def test_warnings_passed_through(chdb_client, clickhouse_db):
    text = (
        "user_id,phone_number,email\n"
        "w-1,+821020000000,a@example.com\n"
        "w-2,+82 10 2000 0000,b@example.com\n"
    )

    report = import_text(chdb_client, clickhouse_db, text)

    assert report.imported is True
    assert report.warnings == [
        "these columns were ignored: 'email'; the import reads only user_id, phone_number "
        "and nickname",
        "phone number +82********00 is shared by 2 users: w-1 (line 2), w-2 (line 3); check "
        "that these users really share one phone",
    ]
    assert report.to_json()["warnings"] == report.warnings


@pytest.mark.parametrize(
    ("name", "partial", "imported", "counts", "phones"),
    [
        (
            "blank_rows.csv",
            False,
            True,
            (2, 0, 0),
            {"u-6001": "+447400123456", "u-6002": "+821020000000"},
        ),
        ("bom_crlf.csv", False, True, (1, 0, 0), {"u-2001": "+821011112222"}),
        ("header_case_space.csv", False, True, (1, 0, 0), {"u-2002": "+821033334444"}),
        (
            "semicolon.csv",
            False,
            True,
            (2, 0, 0),
            {"u-3003": "+447400123456", "u-3004": "+821020000000"},
        ),
        (
            "semicolon_sep_line.csv",
            False,
            True,
            (2, 0, 0),
            {"u-3001": "+447400123456", "u-3002": "+821020000000"},
        ),
        ("duplicate_ids.csv", False, False, (0, 0, 4), {}),
        (
            "duplicate_ids.csv",
            True,
            True,
            (2, 0, 2),
            {"u-7002": "+821020000000", "U-7001": "+12015550123"},
        ),
        ("korean_formats.csv", False, False, (0, 0, 5), {}),
        (
            "korean_formats.csv",
            True,
            True,
            (4, 0, 1),
            {
                "u-8001": "+821020000000",
                "u-8002": "+821020000000",
                "u-8003": "+821020000000",
                "u-8005": "+821011112222",
            },
        ),
        ("spreadsheet_mangled.csv", False, False, (0, 0, 7), {}),
        (
            "spreadsheet_mangled.csv",
            True,
            True,
            (4, 0, 3),
            {
                "u-1004": "+447400123456",
                "u-1005": "+821020000000",
                "u-1006": "+12015550123",
                "u-1007": "+447400123456",
            },
        ),
    ],
)
def test_sample_csv_stored(
    chdb_client, clickhouse_db, shared_cases: Path, name, partial, imported, counts, phones
):
    data = (shared_cases / "csv" / name).read_bytes()

    report = import_users_csv(chdb_client, clickhouse_db, data, partial=partial)

    assert report.imported is imported
    assert (report.created, report.updated, report.skipped) == counts
    every_id = [f"u-{number}" for number in range(1000, 9000)] + ["U-7001"]
    assert stored_phones(chdb_client, clickhouse_db, every_id) == phones


def test_header_repeated_stores_nothing(chdb_client, clickhouse_db, shared_cases: Path):
    data = (shared_cases / "csv" / "header_repeated.csv").read_bytes()

    with pytest.raises(CsvFileError) as caught:
        import_users_csv(chdb_client, clickhouse_db, data, partial=True)

    assert caught.value.line == 1
    assert "the column name 'user_id' appears twice" in caught.value.reason
    assert stored_count(chdb_client, clickhouse_db) == 0


# File size limit.


def test_max_users_imported(chdb_client, clickhouse_db):
    progress: list[tuple[int, int]] = []

    report = import_users_csv(
        chdb_client,
        clickhouse_db,
        numbered_file(MAX_USERS_PER_FILE),
        partial=False,
        progress=lambda done, total: progress.append((done, total)),
    )

    assert report.created == 100_000
    assert report.updated == 0
    assert report.skipped == 0
    assert stored_count(chdb_client, clickhouse_db) == 100_000
    assert progress[-1] == (100_000, 100_000)
    assert stored_phones(chdb_client, clickhouse_db, ["u-99999"]) == {"u-99999": "+821000099999"}


def test_one_user_too_many(chdb_client, clickhouse_db):
    data = numbered_file(MAX_USERS_PER_FILE + 1)

    with pytest.raises(CsvFileError) as caught:
        import_users_csv(chdb_client, clickhouse_db, data, partial=True)

    assert caught.value.reason == (
        "the file contains 100,001 users, but at most 100,000 are allowed per file; "
        "split it into files of at most 100,000 users and upload each"
    )
    assert stored_count(chdb_client, clickhouse_db) == 0


# Every region.


def region_examples() -> dict[str, str]:
    """Map a user_id per region to the E.164 form of that region's example number."""
    examples = {}
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number(region)
        if number is not None:
            examples[f"r-{region}"] = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return examples


def test_all_region_examples_stored(chdb_client, clickhouse_db):
    examples = region_examples()
    rows = []
    for user_id, e164 in examples.items():
        international = phonenumbers.format_number(
            phonenumbers.parse(e164), PhoneNumberFormat.INTERNATIONAL
        )
        rows.append(f'{user_id},"{international}"')
    text = "user_id,phone_number\n" + "\n".join(rows) + "\n"

    report = import_text(chdb_client, clickhouse_db, text)

    # phonenumbers 9.0.43, the pinned version, has an example number for every region.
    assert len(examples) == len(phonenumbers.SUPPORTED_REGIONS)
    assert report.errors == []
    assert report.created == len(examples)
    assert stored_phones(chdb_client, clickhouse_db, list(examples)) == examples
    for user_id, e164 in examples.items():
        result = search_users(chdb_client, clickhouse_db, user_id)["results"][0]
        assert (result["user_id"], result["match"], result["phone_number"]) == (
            user_id,
            "user_id",
            e164,
        )
