"""Reader for user-import CSV files with the columns user_id, phone_number and nickname.

`read_users_csv` takes the uploaded bytes and returns the valid users, one RowError per
problem found in an invalid row, and warnings. It raises CsvFileError only when the file
as a whole cannot be read. The causes are bytes that do not decode, NUL characters, a
missing header, an unsupported or undetectable delimiter, a repeated column name, an
unclosed quote or another CSV syntax error, and more users than allowed.

Line numbers are physical lines of the file, starting at 1 and counting a ``sep=`` line
and blank lines, so they match what a text editor shows. A record whose quoted value
contains a line break spans several lines and is reported at the line where it starts.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from directory.phones import (
    PhoneNumberError,
    mask_digits_in_text,
    mask_phone_number,
    normalize_phone_number,
)
from pipeline.errors import UserInsightsError

MAX_USERS_PER_FILE = 100_000
MAX_USER_ID_LENGTH = 80
MAX_NICKNAME_LENGTH = 100

_REQUIRED_COLUMNS = ("user_id", "phone_number")
_KNOWN_COLUMNS = frozenset({"user_id", "phone_number", "nickname"})
_COLUMN_ORDER = {None: 0, "user_id": 1, "phone_number": 2, "nickname": 3}

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_SEP_LINES = {"sep=,": ",", "sep=;": ";", "sep=\t": "\t", "sep=\\t": "\t"}

_USER_ID = re.compile(r"[A-Za-z0-9_.\-]+")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BLANK_LINE = re.compile(r"[\s,;]*")

# Fed to the CSV parser after the last line. Decoded files never contain NUL, so the
# marker shows up inside a value only when a quoted value is still open at the end.
_END_MARKER = "\x00"

_SAVE_ADVICE = "save the file as CSV UTF-8 (comma, semicolon or tab separated)"
_MAX_LISTED_LINES = 10


@dataclass(frozen=True, slots=True)
class ImportedUser:
    """A valid row of an import file."""

    user_id: str
    phone_number: str  # canonical E.164, such as "+821020000000"
    nickname: str | None  # None when the file has no nickname column or the cell is empty
    line: int  # physical line (1-based) where the record starts


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row, which is left out of the import."""

    line: int  # physical line where the record starts
    column: str | None  # "user_id", "phone_number", "nickname", or None for the whole row
    value: str | None  # the raw cell as read, "" for a missing cell, None when column is None
    reason: str  # the rule, the value and the fix, with phone digits masked


@dataclass(frozen=True, slots=True)
class CsvReadResult:
    """The outcome of reading one import file."""

    users: list[ImportedUser]  # valid rows, in file order
    errors: list[RowError]  # problems of invalid rows, in line order
    warnings: list[str]  # shared phone numbers, ignored columns and values
    ignored_columns: list[str]  # header names other than the three known ones, as written
    skipped_rows: int  # blank or delimiter-only rows, before and after the header
    encoding: str  # "utf-8", "utf-8-sig" or "utf-16"
    delimiter: str  # ",", ";" or "\t"


class CsvFileError(UserInsightsError):
    """Whole-file rejection (bad header, encoding, delimiter, quoting, too many users).

    `reason` states the rule, the value and the fix. `line` is the physical line at
    fault, or None when no line is. `str(error)` is the full message with the line.
    """

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason = reason
        self.line = line


@dataclass(frozen=True, slots=True)
class _Columns:
    """Positions of the known columns in the header."""

    user_id: int
    phone_number: int
    nickname: int | None
    ignored: tuple[str, ...]
    unnamed: tuple[int, ...]  # positions of empty header cells
    width: int


@dataclass(slots=True)
class _Rows:
    """Data rows gathered before validation."""

    rows: list[tuple[int, list[str]]]
    blank_count: int


def read_users_csv(data: bytes, *, max_users: int = MAX_USERS_PER_FILE) -> CsvReadResult:
    """Read an import file and validate every row.

    The encoding follows the byte order mark (UTF-8 or UTF-16) and is strict UTF-8
    without one. The delimiter comes from a first line such as ``sep=;``, or else is
    whichever of comma, semicolon and tab splits the header into user_id and
    phone_number. Header names are matched after trimming and ignoring case.

    Rows count towards `max_users` whether valid or not, but blank rows do not. The count
    is checked before any phone number is validated. Raises CsvFileError for a file that
    cannot be read as a whole (see the module docstring) and ValueError if `max_users`
    is less than 1.
    """
    if max_users < 1:
        raise ValueError(f"max_users must be at least 1, got {max_users}")

    text, encoding = _decode(data)
    lines = list(io.StringIO(text, newline=""))

    delimiter, first_index = _read_sep_line(lines)
    header_index, blank_before_header = _find_header_line(lines, first_index)
    if delimiter is None:
        delimiter = _detect_delimiter(lines[header_index], header_index + 1)

    records = _iter_records(lines, header_index, delimiter)
    header_line, header_cells = next(records)
    columns = _read_header(
        header_cells, header_line, lines[header_index], delimiter, declared=first_index == 1
    )

    gathered = _gather_rows(records, max_users)
    users, errors, warnings = _validate_rows(gathered.rows, columns)

    return CsvReadResult(
        users=users,
        errors=errors,
        warnings=warnings,
        ignored_columns=list(columns.ignored),
        skipped_rows=blank_before_header + gathered.blank_count,
        encoding=encoding,
        delimiter=delimiter,
    )


# Decoding.


def _decode(data: bytes) -> tuple[str, str]:
    """Return the text and the name of the codec that decoded it."""
    if data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8"

    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _decoding_error(data, encoding, exc) from None

    nul_position = text.find("\x00")
    if nul_position != -1:
        reason = (
            "the file contains NUL characters, which CSV text never contains; it is "
            f"probably UTF-16 without a byte order mark or not a CSV file, so {_SAVE_ADVICE} "
            "and upload it again"
        )
        raise CsvFileError(reason, line=_line_at(text, nul_position))

    return text, encoding


def _decoding_error(data: bytes, encoding: str, exc: UnicodeDecodeError) -> CsvFileError:
    # The utf-8-sig codec reports offsets after the byte order mark, the others from the start.
    offset = exc.start + (len(codecs.BOM_UTF8) if encoding == "utf-8-sig" else 0)
    bad_bytes = data[offset : offset + max(exc.end - exc.start, 1)].hex(" ")
    text_before = data[:offset].decode(encoding, errors="replace")
    line = _line_at(text_before, len(text_before))

    if encoding == "utf-16":
        tried = "UTF-16 (the file starts with a UTF-16 byte order mark)"
    else:
        tried = "UTF-8"

    reason = (
        f"the file is not valid {tried}: the bytes {bad_bytes} at byte offset {offset} "
        f"cannot be decoded; {_SAVE_ADVICE} and upload it again"
    )
    return CsvFileError(reason, line=line)


def _line_at(text: str, position: int) -> int:
    """Return the physical line of `position` in `text`, counting CR LF as one line end."""
    before = text[:position]
    return before.count("\n") + before.count("\r") - before.count("\r\n") + 1


# Header and delimiter.


def _read_sep_line(lines: list[str]) -> tuple[str | None, int]:
    """Return the delimiter declared by a first line such as ``sep=;``, and the next index."""
    if not lines:
        return None, 0

    first = lines[0].rstrip("\r\n")
    if not first.lower().startswith("sep="):
        return None, 0

    delimiter = _SEP_LINES.get(first.lower())
    if delimiter is None:
        reason = (
            f"the first line {first!r} declares an unsupported delimiter; write sep=, or "
            "sep=; or sep= followed by a tab, or remove the line"
        )
        raise CsvFileError(reason, line=1)
    return delimiter, 1


def _find_header_line(lines: list[str], start: int) -> tuple[int, int]:
    """Return the index of the first non-blank line and the number of blank lines before it."""
    for index in range(start, len(lines)):
        if not _BLANK_LINE.fullmatch(lines[index]):
            return index, index - start

    reason = (
        "the file has no header row because it is empty or contains only blank lines; "
        "the first row must be a header with the columns user_id and phone_number"
    )
    raise CsvFileError(reason)


def _detect_delimiter(line: str, line_number: int) -> str:
    """Return the delimiter that splits the header `line` into user_id and phone_number."""
    for delimiter in _DELIMITER_NAMES:
        names = _normalize_names(_split_line(line, delimiter))
        if all(required in names for required in _REQUIRED_COLUMNS):
            return delimiter

    lowered = line.lower()
    if all(required in lowered for required in _REQUIRED_COLUMNS):
        reason = (
            f"the delimiter could not be detected: the header row {_show_line(line)} does "
            "not split into user_id and phone_number on a comma, semicolon or tab; "
            f"{_SAVE_ADVICE} and upload it again"
        )
        raise CsvFileError(reason, line=line_number)

    raise _missing_header_error(line, line_number)


def _missing_header_error(line: str, line_number: int) -> CsvFileError:
    lowered = line.lower()
    missing = [name for name in _REQUIRED_COLUMNS if name not in lowered]
    if len(missing) == len(_REQUIRED_COLUMNS):
        found = "has neither a user_id nor a phone_number column"
    else:
        found = f"has no {missing[0]} column"

    reason = (
        f"the header row must contain the columns user_id and phone_number, but the first "
        f"row {_show_line(line)} {found}; add a header row such as user_id,phone_number "
        "above the data or correct the column names"
    )
    return CsvFileError(reason, line=line_number)


def _read_header(
    cells: list[str], line_number: int, line: str, delimiter: str, *, declared: bool
) -> _Columns:
    """Return the column positions, or raise CsvFileError for a bad header.

    `cells` is the parsed header and `line` its text. `declared` is True when a ``sep=``
    line chose the delimiter, so the header may lack the required columns.
    """
    names = _normalize_names(cells)

    positions: dict[str, int] = {}
    for position, name in enumerate(names):
        if not name:
            continue
        if name in positions:
            reason = (
                f"the column name {name!r} appears twice in the header (columns "
                f"{positions[name] + 1} and {position + 1}); each column name may appear "
                "only once, so rename or remove one of them"
            )
            raise CsvFileError(reason, line=line_number)
        positions[name] = position

    missing = [name for name in _REQUIRED_COLUMNS if name not in positions]
    if missing and declared:
        reason = (
            f"the header row {_show_line(line)} has no "
            f"{' or '.join(missing)} column when split on the {_DELIMITER_NAMES[delimiter]} "
            "that the sep= line declares; correct the sep= line or the header"
        )
        raise CsvFileError(reason, line=line_number)
    if missing:
        raise _missing_header_error(line, line_number)

    ignored = tuple(
        cell.strip()
        for cell, name in zip(cells, names, strict=True)
        if name and name not in _KNOWN_COLUMNS
    )
    unnamed = tuple(position for position, name in enumerate(names) if not name)
    return _Columns(
        user_id=positions["user_id"],
        phone_number=positions["phone_number"],
        nickname=positions.get("nickname"),
        ignored=ignored,
        unnamed=unnamed,
        width=len(names),
    )


def _split_line(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _normalize_names(cells: list[str]) -> list[str]:
    return [cell.strip().lower() for cell in cells]


def _show_line(line: str) -> str:
    """Quote a line for a message: phone-like digits masked, cut to 200 characters."""
    text = mask_digits_in_text(line.rstrip("\r\n"))
    if len(text) <= 200:
        return repr(text)
    return repr(text[:200]) + "…"


# Records.


def _iter_records(
    lines: list[str], header_index: int, delimiter: str
) -> Iterator[tuple[int, list[str]]]:
    """Yield (physical start line, cells) for each record from the header on.

    Raises CsvFileError for a quoted value that is never closed and for parser errors
    such as a value longer than the csv module's field size limit.
    """
    source = itertools.chain(itertools.islice(lines, header_index, None), [_END_MARKER])
    reader = csv.reader(source, delimiter=delimiter)
    consumed = header_index

    try:
        for cells in reader:
            start = consumed + 1
            consumed = header_index + reader.line_num

            if cells and _END_MARKER in cells[-1]:
                if cells == [_END_MARKER]:
                    return
                reason = (
                    "a quoted value in the record that starts on this line is never "
                    "closed, so the rest of the file would be read as one value; add the "
                    "missing closing double quote"
                )
                raise CsvFileError(reason, line=start)

            yield start, cells
    except csv.Error as exc:
        reason = (
            f"the record that starts on this line cannot be parsed as CSV ({exc}); "
            "enclose values that contain the delimiter, a quote or a line break in double "
            "quotes, and double any quote inside them"
        )
        raise CsvFileError(reason, line=consumed + 1) from None


def _gather_rows(records: Iterator[tuple[int, list[str]]], max_users: int) -> _Rows:
    """Collect the non-blank data rows, or raise CsvFileError if there are too many."""
    rows: list[tuple[int, list[str]]] = []
    blank_count = 0
    row_count = 0

    for line, cells in records:
        if not "".join(cells).strip():
            blank_count += 1
            continue

        row_count += 1
        if row_count <= max_users:
            rows.append((line, cells))

    if row_count > max_users:
        reason = (
            f"the file contains {row_count:,} users, but at most {max_users:,} are allowed "
            f"per file; split it into files of at most {max_users:,} users and upload each"
        )
        raise CsvFileError(reason)

    return _Rows(rows, blank_count)


# Row validation.


def _validate_rows(
    rows: list[tuple[int, list[str]]], columns: _Columns
) -> tuple[list[ImportedUser], list[RowError], list[str]]:
    """Return the valid users, the row errors in line order and the warnings."""
    candidates: list[ImportedUser] = []
    errors: list[RowError] = []
    row_user_ids: list[str | None] = []
    lines_with_extra_values: list[int] = []
    check_extra_values = bool(columns.unnamed)

    for line, cells in rows:
        user_id, user = _validate_row(line, cells, columns, errors)
        row_user_ids.append(user_id)
        if user is not None:
            candidates.append(user)

        may_have_extra_values = check_extra_values or len(cells) > columns.width
        if may_have_extra_values and _has_extra_values(cells, columns):
            lines_with_extra_values.append(line)

    duplicates = _find_repeats(row_user_ids)
    errors.extend(_duplicate_errors(duplicates, rows, columns.user_id))
    errors.sort(key=lambda error: (error.line, _COLUMN_ORDER[error.column]))

    users = [user for user in candidates if user.user_id not in duplicates]
    warnings = _build_warnings(users, columns, lines_with_extra_values, len(rows))
    return users, errors, warnings


def _validate_row(
    line: int, cells: list[str], columns: _Columns, errors: list[RowError]
) -> tuple[str | None, ImportedUser | None]:
    """Validate one row and append its errors to `errors`.

    Returns the user_id if it is valid, and the ImportedUser if the whole row is valid.
    """
    error_count = len(errors)

    user_id = _read_user_id(line, cells, columns.user_id, errors)
    phone_number = _read_phone_number(line, cells, columns.phone_number, errors)
    nickname = _read_nickname(line, cells, columns.nickname, errors)

    if len(errors) > error_count or user_id is None or phone_number is None:
        return user_id, None
    return user_id, ImportedUser(user_id, phone_number, nickname, line)


def _read_user_id(line: int, cells: list[str], index: int, errors: list[RowError]) -> str | None:
    if index >= len(cells):
        errors.append(_missing_cell_error(line, "user_id", index, cells))
        return None

    raw = cells[index]
    user_id = raw.strip()
    if len(user_id) <= MAX_USER_ID_LENGTH and _USER_ID.fullmatch(user_id):
        return user_id

    errors.append(RowError(line, "user_id", raw, _describe_invalid_user_id(user_id)))
    return None


def _describe_invalid_user_id(user_id: str) -> str:
    """Explain why `user_id`, already trimmed, breaks the user_id rules."""
    allowed = "ASCII letters, digits, '_', '-' and '.'"
    if not user_id:
        return f"user_id is empty; every row needs a user_id of 1 to {MAX_USER_ID_LENGTH} {allowed}"

    if len(user_id) > MAX_USER_ID_LENGTH:
        return (
            f"user_id {_quote(user_id)} is {len(user_id)} characters long, but at most "
            f"{MAX_USER_ID_LENGTH} are allowed; shorten it"
        )

    invalid = sorted({char for char in user_id if not _USER_ID.fullmatch(char)})
    listed = ", ".join(repr(char) for char in invalid[:5])
    return (
        f"user_id {_quote(user_id)} contains characters that are not allowed ({listed}); "
        f"use only {allowed}"
    )


def _read_phone_number(
    line: int, cells: list[str], index: int, errors: list[RowError]
) -> str | None:
    if index >= len(cells):
        errors.append(_missing_cell_error(line, "phone_number", index, cells))
        return None

    raw = cells[index]
    try:
        return normalize_phone_number(raw)
    except PhoneNumberError as exc:
        errors.append(RowError(line, "phone_number", raw, exc.reason))
        return None


def _read_nickname(
    line: int, cells: list[str], index: int | None, errors: list[RowError]
) -> str | None:
    """Return the trimmed nickname, or None if the column or the value is absent."""
    if index is None or index >= len(cells):
        return None

    raw = cells[index]
    nickname = raw.strip()
    if not nickname:
        return None

    if len(nickname) > MAX_NICKNAME_LENGTH:
        reason = (
            f"nickname {_quote(nickname)} is {len(nickname)} characters long, but at most "
            f"{MAX_NICKNAME_LENGTH} are allowed; shorten it"
        )
        errors.append(RowError(line, "nickname", raw, reason))
        return None

    control = _CONTROL_CHARACTER.search(nickname)
    if control is not None:
        reason = (
            f"nickname {_quote(nickname)} contains the control character "
            f"{control.group()!r}; remove line breaks, tabs and other control characters"
        )
        errors.append(RowError(line, "nickname", raw, reason))
        return None

    return nickname


def _missing_cell_error(line: int, column: str, index: int, cells: list[str]) -> RowError:
    reason = (
        f"missing {column}: the row has {len(cells)} value(s), but {column} is column "
        f"{index + 1} of the header; add the value, or check that the row uses the "
        "header's delimiter"
    )
    return RowError(line, column, "", reason)


def _has_extra_values(cells: list[str], columns: _Columns) -> bool:
    """Return whether the row has a value under no header name or beyond the header."""
    if any(cell.strip() for cell in cells[columns.width :]):
        return True
    return any(position < len(cells) and cells[position].strip() for position in columns.unnamed)


def _duplicate_errors(
    duplicates: dict[str, list[int]], rows: list[tuple[int, list[str]]], user_id_column: int
) -> list[RowError]:
    """Return one error for each row of each user_id that appears more than once.

    `duplicates` maps a user_id to the positions of its rows in `rows`.
    """
    errors: list[RowError] = []
    for user_id, positions in duplicates.items():
        lines = _list_lines([rows[position][0] for position in positions])
        reason = (
            f"user_id {_quote(user_id)} appears on {lines}, but each user_id may "
            "appear only once in a file; keep one of these rows and remove the others"
        )
        for position in positions:
            line, cells = rows[position]
            errors.append(RowError(line, "user_id", cells[user_id_column], reason))
    return errors


def _find_repeats(keys: Iterable[str | None]) -> dict[str, list[int]]:
    """Return the positions of each key that occurs more than once, skipping None keys."""
    first_positions: dict[str, int] = {}
    repeats: dict[str, list[int]] = {}
    for position, key in enumerate(keys):
        if key is None:
            continue
        first = first_positions.setdefault(key, position)
        if first != position:
            repeats.setdefault(key, [first]).append(position)
    return repeats


# Warnings.


def _build_warnings(
    users: list[ImportedUser],
    columns: _Columns,
    lines_with_extra_values: list[int],
    row_count: int,
) -> list[str]:
    warnings: list[str] = []

    if columns.ignored:
        names = ", ".join(repr(name) for name in columns.ignored)
        warnings.append(
            f"these columns were ignored: {names}; the import reads only user_id, "
            "phone_number and nickname"
        )

    if lines_with_extra_values:
        warnings.append(
            f"{len(lines_with_extra_values)} row(s) have values in columns without a header "
            f"name, on {_list_lines(lines_with_extra_values)}; these values were "
            "ignored, so name the column or quote values that contain the delimiter"
        )

    warnings.extend(_shared_phone_warnings(users))

    if row_count == 0:
        warnings.append("the file has a header row but no data rows, so no users were read")

    return warnings


def _shared_phone_warnings(users: list[ImportedUser]) -> list[str]:
    """Return one warning per phone number that several users share, with the number masked."""
    shared = _find_repeats(user.phone_number for user in users)

    warnings: list[str] = []
    for phone_number, positions in shared.items():
        sharing = [users[position] for position in positions]
        listed = ", ".join(
            f"{user.user_id} (line {user.line})" for user in sharing[:_MAX_LISTED_LINES]
        )
        if len(sharing) > _MAX_LISTED_LINES:
            listed += f" and {len(sharing) - _MAX_LISTED_LINES} more"
        warnings.append(
            f"phone number {mask_phone_number(phone_number)} is shared by {len(sharing)} "
            f"users: {listed}; check that these users really share one phone"
        )
    return warnings


def _list_lines(lines: list[int]) -> str:
    """Format line numbers as "line 2" or "lines 2, 4 and 9", listing at most 10."""
    numbers = [str(line) for line in lines[:_MAX_LISTED_LINES]]
    if len(lines) > _MAX_LISTED_LINES:
        return "lines " + ", ".join(numbers) + f" and {len(lines) - _MAX_LISTED_LINES} more"
    if len(numbers) == 1:
        return "line " + numbers[0]
    return "lines " + ", ".join(numbers[:-1]) + " and " + numbers[-1]


def _quote(value: str) -> str:
    """Quote a cell value for a message, cut to 60 characters."""
    if len(value) <= 60:
        return repr(value)
    return repr(value[:60]) + "…"
