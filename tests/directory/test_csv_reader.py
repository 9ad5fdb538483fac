"""Tests of the user-import CSV reader."""

from __future__ import annotations

import codecs
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat

from directory import csv_reader
from directory.csv_reader import (
    MAX_USERS_PER_FILE,
    CsvFileError,
    CsvReadResult,
    RowError,
    read_users_csv,
)

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "cases" / "csv"
needs_cases = pytest.mark.skipif(
    not CASES.is_dir(), reason=f"the shared CSV cases are not present at {CASES}"
)

FULL_WIDTH = str.maketrans("+0123456789", "＋０１２３４５６７８９")


def read_case(name: str) -> CsvReadResult:
    return read_users_csv((CASES / name).read_bytes())


def read_text(text: str) -> CsvReadResult:
    return read_users_csv(text.encode("utf-8"))


def user_rows(result: CsvReadResult) -> list[tuple[str, str, int]]:
    return [(user.user_id, user.phone_number, user.line) for user in result.users]


def error_rows(result: CsvReadResult) -> list[tuple[int, str | None, str | None]]:
    return [(error.line, error.column, error.value) for error in result.errors]


def rejection(data: bytes, **kwargs: int) -> CsvFileError:
    with pytest.raises(CsvFileError) as caught:
        read_users_csv(data, **kwargs)
    return caught.value


def korean_mobile(index: int) -> str:
    """Return the distinct valid number +8210 followed by `index` as 8 digits."""
    return f"+8210{index:08d}"


def numbered_file(row_count: int) -> bytes:
    rows = "".join(f"u-{index},{korean_mobile(index)}\n" for index in range(row_count))
    return ("user_id,phone_number\n" + rows).encode("ascii")


# The shared case files.


@needs_cases
def test_spreadsheet_mangled_rows() -> None:
    result = read_case("spreadsheet_mangled.csv")

    assert user_rows(result) == [
        ("u-1004", "+447400123456", 5),
        ("u-1005", "+821020000000", 6),
        ("u-1006", "+12015550123", 7),
        ("u-1007", "+447400123456", 8),
    ]
    assert error_rows(result) == [
        (2, "phone_number", "8.21E+11"),
        (3, "phone_number", "447400123456"),
        (4, "phone_number", "01020000000"),
    ]
    assert result.errors[0].reason == (
        "phone number '8.21E+11' is in scientific notation, so digits were lost; "
        "format the column as text in the spreadsheet and export again"
    )
    assert "is missing + and country code" in result.errors[1].reason
    assert "is missing + and country code" in result.errors[2].reason
    assert result.warnings == [
        "phone number +44********56 is shared by 2 users: u-1004 (line 5), "
        "u-1007 (line 8); check that these users really share one phone"
    ]
    assert result.skipped_rows == 0


@needs_cases
def test_bom_crlf_case() -> None:
    result = read_case("bom_crlf.csv")

    assert user_rows(result) == [("u-2001", "+821011112222", 2)]
    assert result.errors == []
    assert result.encoding == "utf-8-sig"
    assert result.delimiter == ","


@needs_cases
def test_header_case_and_spaces() -> None:
    result = read_case("header_case_space.csv")

    assert user_rows(result) == [("u-2002", "+821033334444", 2)]
    assert result.errors == []
    assert result.ignored_columns == []
    assert result.warnings == []


@needs_cases
def test_header_repeated_rejected() -> None:
    error = rejection((CASES / "header_repeated.csv").read_bytes())

    assert error.line == 1
    assert error.reason == (
        "the column name 'user_id' appears twice in the header (columns 1 and 3); each "
        "column name may appear only once, so rename or remove one of them"
    )
    assert str(error) == "line 1: " + error.reason


@needs_cases
def test_semicolon_sep_line_case() -> None:
    result = read_case("semicolon_sep_line.csv")

    assert user_rows(result) == [
        ("u-3001", "+447400123456", 3),
        ("u-3002", "+821020000000", 4),
    ]
    assert result.delimiter == ";"
    assert result.errors == []


@needs_cases
def test_semicolon_case() -> None:
    result = read_case("semicolon.csv")

    assert user_rows(result) == [
        ("u-3003", "+447400123456", 2),
        ("u-3004", "+821020000000", 3),
    ]
    assert result.delimiter == ";"
    assert result.errors == []


@needs_cases
def test_blank_rows_case() -> None:
    result = read_case("blank_rows.csv")

    assert user_rows(result) == [
        ("u-6001", "+447400123456", 2),
        ("u-6002", "+821020000000", 4),
    ]
    assert result.errors == []
    assert result.skipped_rows == 3
    assert result.warnings == []


@needs_cases
def test_duplicate_ids_case() -> None:
    result = read_case("duplicate_ids.csv")

    assert error_rows(result) == [(2, "user_id", "u-7001"), (4, "user_id", "u-7001")]
    for error in result.errors:
        assert error.reason == (
            "user_id 'u-7001' appears on lines 2 and 4, but each user_id may appear only "
            "once in a file; keep one of these rows and remove the others"
        )
    assert user_rows(result) == [
        ("u-7002", "+821020000000", 3),
        ("U-7001", "+12015550123", 5),
    ]


@needs_cases
def test_korean_formats_case() -> None:
    result = read_case("korean_formats.csv")

    assert user_rows(result) == [
        ("u-8001", "+821020000000", 2),
        ("u-8002", "+821020000000", 3),
        ("u-8003", "+821020000000", 4),
        ("u-8005", "+821011112222", 6),
    ]
    assert error_rows(result) == [(5, "phone_number", "010-2000-0000")]
    assert "is missing + and country code" in result.errors[0].reason
    assert result.warnings == [
        "phone number +82********00 is shared by 3 users: u-8001 (line 2), "
        "u-8002 (line 3), u-8003 (line 4); check that these users really share one phone"
    ]


# File size limit.


@pytest.fixture(scope="module")
def full_file() -> bytes:
    for index in (0, 1, 50_000, 99_999, 100_000):
        number = phonenumbers.parse(korean_mobile(index), None)
        assert phonenumbers.is_valid_number(number), korean_mobile(index)
    return numbered_file(MAX_USERS_PER_FILE)


def test_max_users_accepted(full_file: bytes) -> None:
    result = read_users_csv(full_file)

    assert len(result.users) == 100_000
    assert result.errors == []
    assert result.warnings == []
    assert result.users[0] == csv_reader.ImportedUser("u-0", "+821000000000", None, 2)
    assert result.users[-1] == csv_reader.ImportedUser("u-99999", "+821000099999", None, 100_001)


def test_one_user_too_many(full_file: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_if_called(raw: str) -> str:
        raise AssertionError("phone numbers were validated before the row count was checked")

    monkeypatch.setattr(csv_reader, "normalize_phone_number", fail_if_called)
    data = full_file + f"u-extra,{korean_mobile(100_000)}\n".encode("ascii")

    error = rejection(data)

    assert error.line is None
    assert error.reason == (
        "the file contains 100,001 users, but at most 100,000 are allowed per file; "
        "split it into files of at most 100,000 users and upload each"
    )


def test_blank_rows_not_counted() -> None:
    data = b"user_id,phone_number\n\nu-1,+821020000000\n,,\nu-2,bad\n \n"

    result = read_users_csv(data, max_users=2)

    assert len(result.users) == 1
    assert len(result.errors) == 1
    assert result.skipped_rows == 3


def test_invalid_rows_counted() -> None:
    data = b"user_id,phone_number\nu-1,+821020000000\nu-2,bad\nu-3,bad\n"

    error = rejection(data, max_users=2)

    assert "contains 3 users, but at most 2 are allowed" in error.reason


def test_max_users_below_one() -> None:
    with pytest.raises(ValueError, match="max_users must be at least 1, got 0"):
        read_users_csv(b"user_id,phone_number\n", max_users=0)


# Header.


def test_headerless_file_rejected() -> None:
    error = rejection(b"u-1,+821020000000\nu-2,+821011112222\n")

    assert error.line == 1
    assert error.reason == (
        "the header row must contain the columns user_id and phone_number, but the first "
        "row 'u-1,+**********00' has neither a user_id nor a phone_number column; add a "
        "header row such as user_id,phone_number above the data or correct the column names"
    )


def test_header_missing_phone_column() -> None:
    error = rejection(b"user_id,phone\nu-1,+821020000000\n")

    assert error.line == 1
    assert "the first row 'user_id,phone' has no phone_number column" in error.reason


def test_header_after_blank_lines() -> None:
    result = read_text("\n , \n\nuser_id,phone_number\nu-1,+821020000000\n")

    assert user_rows(result) == [("u-1", "+821020000000", 5)]
    assert result.skipped_rows == 3


def test_ignored_columns_reported() -> None:
    result = read_text("email,User_ID,Phone_Number,Notes\na@example.com,u-1,+821020000000,x\n")

    assert user_rows(result) == [("u-1", "+821020000000", 2)]
    assert result.ignored_columns == ["email", "Notes"]
    assert result.warnings == [
        "these columns were ignored: 'email', 'Notes'; the import reads only user_id, "
        "phone_number and nickname"
    ]


def test_repeated_ignored_column_rejected() -> None:
    error = rejection(b"user_id,phone_number,Email,email \n")

    assert error.line == 1
    assert "the column name 'email' appears twice in the header (columns 3 and 4)" in error.reason


def test_unnamed_column_values_warned() -> None:
    result = read_text("user_id,phone_number,\nu-1,+821020000000,\nu-2,+821011112222,note\n")

    assert len(result.users) == 2
    assert result.ignored_columns == []
    assert result.warnings == [
        "1 row(s) have values in columns without a header name, on line 3; these values "
        "were ignored, so name the column or quote values that contain the delimiter"
    ]


def test_extra_values_warned() -> None:
    result = read_text("user_id,phone_number\nu-1,+821020000000,x,y\nu-2,+821011112222\n")

    assert len(result.users) == 2
    assert "on line 2;" in result.warnings[0]


def test_header_only_file() -> None:
    result = read_text("user_id,phone_number\n")

    assert result.users == []
    assert result.errors == []
    assert result.warnings == ["the file has a header row but no data rows, so no users were read"]


@pytest.mark.parametrize("data", [b"", b"\n\n", b" ,;\r\n\t\r\n"])
def test_empty_file_rejected(data: bytes) -> None:
    error = rejection(data)

    assert error.line is None
    assert "the file has no header row" in error.reason


# Delimiters.


def test_comma_delimiter() -> None:
    result = read_text("user_id,phone_number\nu-1,+821020000000\n")

    assert result.delimiter == ","
    assert user_rows(result) == [("u-1", "+821020000000", 2)]


def test_tab_delimiter() -> None:
    result = read_text("user_id\tnickname\tphone_number\nu-1\tKim, Jr.\t+82 10 2000 0000\n")

    assert result.delimiter == "\t"
    assert user_rows(result) == [("u-1", "+821020000000", 2)]
    assert result.users[0].nickname == "Kim, Jr."


@pytest.mark.parametrize(
    ("sep_line", "delimiter"), [("sep=,", ","), ("sep=;", ";"), ("sep=\t", "\t")]
)
def test_sep_line_sets_delimiter(sep_line: str, delimiter: str) -> None:
    text = f"{sep_line}\nuser_id{delimiter}phone_number\nu-1{delimiter}+821020000000\n"

    result = read_text(text)

    assert result.delimiter == delimiter
    assert user_rows(result) == [("u-1", "+821020000000", 3)]


def test_unsupported_sep_line() -> None:
    error = rejection(b"sep=|\nuser_id|phone_number\n")

    assert error.line == 1
    assert "the first line 'sep=|' declares an unsupported delimiter" in error.reason


def test_sep_line_header_mismatch() -> None:
    error = rejection(b"sep=;\nuser_id,phone_number\nu-1,+821020000000\n")

    assert error.line == 2
    assert error.reason == (
        "the header row 'user_id,phone_number' has no user_id or phone_number column when "
        "split on the semicolon that the sep= line declares; correct the sep= line or the header"
    )


def test_pipe_delimiter_rejected() -> None:
    error = rejection(b"user_id|phone_number\nu-1|+821020000000\n")

    assert error.line == 1
    assert error.reason == (
        "the delimiter could not be detected: the header row 'user_id|phone_number' does "
        "not split into user_id and phone_number on a comma, semicolon or tab; save the "
        "file as CSV UTF-8 (comma, semicolon or tab separated) and upload it again"
    )


def test_long_header_truncated() -> None:
    header = "user_id|phone_number|" + "x" * 300

    error = rejection(f"{header}\n".encode())

    assert repr(header[:200]) + "…" in error.reason
    assert header not in error.reason


# Quoting and line ends.


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
def test_line_ends_and_quoted_newlines(line_end: str) -> None:
    rows = [
        "user_id,note,phone_number,nickname",
        'u-1,"a, b",+821020000000,"Kim, Jr."',
        f'u-2,"first{line_end}second{line_end}third",+821011112222,"say ""hi"""',
        "u-3,,+447400123456,",
    ]
    text = line_end.join(rows) + line_end

    result = read_text(text)

    assert user_rows(result) == [
        ("u-1", "+821020000000", 2),
        ("u-2", "+821011112222", 3),
        ("u-3", "+447400123456", 6),
    ]
    assert [user.nickname for user in result.users] == ["Kim, Jr.", 'say "hi"', None]
    assert result.ignored_columns == ["note"]


def test_missing_final_line_end() -> None:
    result = read_text("user_id,phone_number\r\nu-1,+821020000000")

    assert user_rows(result) == [("u-1", "+821020000000", 2)]


def test_line_after_quoted_error() -> None:
    text = 'user_id,phone_number\n"u\n1",+821020000000\nu-2,447400123456\n'

    result = read_text(text)

    assert error_rows(result) == [(2, "user_id", "u\n1"), (4, "phone_number", "447400123456")]


def test_unclosed_quote_rejected() -> None:
    error = rejection(b'user_id,phone_number\nu-1,+821020000000\nu-2,"+821011112222\nu-3,x\n')

    assert error.line == 3
    assert "a quoted value in the record that starts on this line is never closed" in error.reason


def test_oversized_field_rejected() -> None:
    data = b'user_id,phone_number\nu-1,"' + b"1" * 200_000 + b'"\n'

    error = rejection(data)

    assert error.line == 2
    assert "cannot be parsed as CSV (field larger than field limit" in error.reason


# Encodings.


@pytest.mark.parametrize(
    ("bom", "codec"), [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]
)
def test_utf16_with_bom(bom: bytes, codec: str) -> None:
    text = "user_id,phone_number,nickname\r\nu-1,+821020000000,김철수\r\n"

    result = read_users_csv(bom + text.encode(codec))

    assert result.encoding == "utf-16"
    assert user_rows(result) == [("u-1", "+821020000000", 2)]
    assert result.users[0].nickname == "김철수"


def test_invalid_utf8_rejected() -> None:
    data = b"user_id,phone_number\nu-1,+821020000000\nu-\xff2,+821011112222\n"

    error = rejection(data)

    assert error.line == 3
    assert error.reason == (
        "the file is not valid UTF-8: the bytes ff at byte offset 41 cannot be decoded; "
        "save the file as CSV UTF-8 (comma, semicolon or tab separated) and upload it again"
    )


def test_invalid_utf8_after_bom() -> None:
    data = codecs.BOM_UTF8 + b"user_id,phone_number\r\nu-\xe9,+821020000000\r\n"

    offset = data.index(b"\xe9")

    error = rejection(data)

    assert error.line == 2
    assert f"at byte offset {offset} cannot be decoded" in error.reason


def test_truncated_utf16_rejected() -> None:
    data = codecs.BOM_UTF16_LE + "user_id,phone_number\n".encode("utf-16-le") + b"u"

    error = rejection(data)

    assert error.line == 2
    assert (
        "the file is not valid UTF-16 (the file starts with a UTF-16 byte order mark)"
        in error.reason
    )


def test_utf16_without_bom_rejected() -> None:
    error = rejection("user_id,phone_number\n".encode("utf-16-le"))

    assert error.line == 1
    assert "the file contains NUL characters" in error.reason


def test_cp949_rejected() -> None:
    error = rejection("user_id,phone_number,nickname\nu-1,+821020000000,김철수\n".encode("cp949"))

    assert error.line == 2
    assert "the file is not valid UTF-8" in error.reason


# user_id.


def test_user_id_length_limit() -> None:
    longest = "a" * 80
    too_long = "b" * 81

    result = read_text(f"user_id,phone_number\n{longest},+821020000000\n{too_long},+821011112222\n")

    assert user_rows(result) == [(longest, "+821020000000", 2)]
    assert error_rows(result) == [(3, "user_id", too_long)]
    assert (
        "is 81 characters long, but at most 80 are allowed; shorten it" in result.errors[0].reason
    )


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("u 1", "contains characters that are not allowed (' ')"),
        ("ü-1", "contains characters that are not allowed ('ü')"),
        ("u/1@x", "contains characters that are not allowed ('/', '@')"),
        ("", "user_id is empty"),
        ("   ", "user_id is empty"),
    ],
)
def test_user_id_rejected(raw: str, fragment: str) -> None:
    result = read_text(f"user_id,phone_number\n{raw},+821020000000\n")

    assert result.users == []
    assert error_rows(result) == [(2, "user_id", raw)]
    assert fragment in result.errors[0].reason


def test_user_id_trimmed_case_kept() -> None:
    result = read_text("user_id,phone_number\n  User.Name_1-x  ,+821020000000\n")

    assert user_rows(result) == [("User.Name_1-x", "+821020000000", 2)]


def test_duplicates_listed_everywhere() -> None:
    text = (
        "user_id,phone_number\n"
        "u-1,+821020000000\n"
        "u-2,447400123456\n"
        "u-1,+821011112222\n"
        "u-3,+12015550123\n"
        " u-1,+447400123456\n"
    )

    result = read_text(text)

    assert error_rows(result) == [
        (2, "user_id", "u-1"),
        (3, "phone_number", "447400123456"),
        (4, "user_id", "u-1"),
        (6, "user_id", " u-1"),
    ]
    assert "appears on lines 2, 4 and 6" in result.errors[0].reason
    assert user_rows(result) == [("u-3", "+12015550123", 5)]


def test_invalid_row_still_duplicate() -> None:
    result = read_text("user_id,phone_number\nu-1,bad\nu-1,+821020000000\n")

    assert error_rows(result) == [
        (2, "user_id", "u-1"),
        (2, "phone_number", "bad"),
        (3, "user_id", "u-1"),
    ]
    assert result.users == []


# Missing cells and several problems in one row.


def test_short_row_missing_phone() -> None:
    result = read_text("user_id,phone_number\nu-1\n")

    assert error_rows(result) == [(2, "phone_number", "")]
    assert result.errors[0].reason == (
        "missing phone_number: the row has 1 value(s), but phone_number is column 2 of the "
        "header; add the value, or check that the row uses the header's delimiter"
    )


def test_short_row_missing_user_id() -> None:
    result = read_text("phone_number,user_id\n+821020000000\n")

    assert error_rows(result) == [(2, "user_id", "")]
    assert result.errors[0].reason.startswith("missing user_id: the row has 1 value(s)")


def test_row_errors_in_column_order() -> None:
    result = read_text("user_id,phone_number,nickname\nbad id,12345,ok\nu-2,+821020000000,a\tb\n")

    assert error_rows(result) == [
        (2, "user_id", "bad id"),
        (2, "phone_number", "12345"),
        (3, "nickname", "a\tb"),
    ]


# Nicknames.


def test_korean_nickname_round_trip() -> None:
    result = read_text("user_id,phone_number,nickname\nu-1,+821020000000, 김철수 \n")

    assert result.users[0].nickname == "김철수"


def test_nickname_absent_or_empty() -> None:
    without_column = read_text("user_id,phone_number\nu-1,+821020000000\n")
    empty = read_text("user_id,phone_number,nickname\nu-1,+821020000000,  \nu-2,+821011112222\n")

    assert without_column.users[0].nickname is None
    assert [user.nickname for user in empty.users] == [None, None]
    assert empty.errors == []


def test_nickname_length_limit() -> None:
    longest = "가" * 100
    too_long = "나" * 101

    result = read_text(
        f"user_id,phone_number,nickname\nu-1,+821020000000,{longest}\nu-2,+821011112222,{too_long}\n"
    )

    assert [user.nickname for user in result.users] == [longest]
    assert error_rows(result) == [(3, "nickname", too_long)]
    assert (
        "is 101 characters long, but at most 100 are allowed; shorten it" in result.errors[0].reason
    )


def test_nickname_control_character() -> None:
    result = read_text(
        'user_id,phone_number,nickname\nu-1,+821020000000,"two\nlines"\nu-2,+821011112222,ok\n'
    )

    assert error_rows(result) == [(2, "nickname", "two\nlines")]
    assert result.errors[0].reason == (
        "nickname 'two\\nlines' contains the control character '\\n'; remove line breaks, "
        "tabs and other control characters"
    )
    assert user_rows(result) == [("u-2", "+821011112222", 4)]


# Privacy of phone numbers in messages.


def test_messages_hide_phone_numbers() -> None:
    text = (
        "user_id,phone_number\n"
        "u-1,447400123456\n"
        "u-2,+82 99 2000 0000\n"
        "u-3,0044 7400 123456\n"
        "u-4,+821011112222\n"
        "u-5,+821011112222\n"
    )

    result = read_text(text)

    assert len(result.errors) == 3
    for error in result.errors:
        digits = "".join(char for char in error.value or "" if char.isdigit())
        assert digits not in "".join(char for char in error.reason if char.isdigit())
    assert "+821011112222" not in result.warnings[0]
    assert "+82********22" in result.warnings[0]


# Every region.


def test_all_region_examples_import() -> None:
    expected: list[tuple[str, str]] = []
    rows = ["user_id;phone_number"]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number(region)
        if number is None:
            continue

        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
        spellings = [
            e164,
            international,
            international.translate(FULL_WIDTH),
            f"'{e164}",
            f'"=""{e164}"""',
        ]
        for index, spelling in enumerate(spellings):
            rows.append(f"{region}-{index};{spelling}")
            expected.append((f"{region}-{index}", e164))

    result = read_text("\n".join(rows) + "\n")

    assert result.errors == []
    assert [(user.user_id, user.phone_number) for user in result.users] == expected
    assert len(result.users) == 5 * len(phonenumbers.SUPPORTED_REGIONS)
    assert len(result.warnings) == len({e164 for _, e164 in expected})


# Properties.


def check_result(result: CsvReadResult) -> None:
    for error in result.errors:
        assert isinstance(error, RowError)
        assert error.reason
        assert error.line >= 1
        if error.column is not None:
            assert error.value is not None

    lines = [user.line for user in result.users]
    assert lines == sorted(set(lines))
    assert all(line >= 2 for line in lines)
    assert all(user.phone_number.startswith("+") for user in result.users)


@given(st.binary(max_size=2000))
@settings(max_examples=400)
def test_arbitrary_bytes_only_csv_errors(data: bytes) -> None:
    try:
        result = read_users_csv(data)
    except CsvFileError as error:
        assert error.reason
        return
    check_result(result)


CELL_ALPHABET = st.sampled_from(
    list("u-1+82 0,;\t\"'\r\n=.E()ａ＋８가\x00\x85") + ["+821020000000"]
)


@st.composite
def csv_like_files(draw: st.DrawFn) -> bytes:
    """Draw a file with a plausible header and rows of awkward characters."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    header = draw(st.permutations(["user_id", "phone_number", "nickname", "extra"]))
    line_end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    rows = draw(
        st.lists(
            st.lists(st.lists(CELL_ALPHABET, max_size=6).map("".join), max_size=6),
            max_size=12,
        )
    )
    body = line_end.join(delimiter.join(cells) for cells in rows)
    text = delimiter.join(header) + line_end + body
    codec = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    return text.encode(codec)


@given(csv_like_files())
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_csv_like_files_only_csv_errors(data: bytes) -> None:
    try:
        result = read_users_csv(data)
    except CsvFileError as error:
        assert error.reason
        return
    check_result(result)
