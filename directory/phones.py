"""Phone number normalisation to E.164, and masking for messages.

`normalize_phone_number` accepts only international numbers (a leading ``+`` and the
country code), because guessing a region from a local number silently creates wrong
numbers. It undoes the usual spreadsheet damage first: full-width characters, a leading
apostrophe, a ``="…"`` text wrapper and separators. Numbers in scientific notation lost
their last digits in the spreadsheet, so they are rejected and never repaired.

Validation uses the metadata of the `phonenumbers` package (pinned to 9.0.43 in
pyproject.toml). Error reasons show the raw value with its digits masked, because they
may end up in logs; `PhoneNumberError.value` carries the raw text for the uploader.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, phonenumberutil
from phonenumbers.phonemetadata import PhoneMetadata, PhoneNumberDesc

from pipeline.errors import UserInsightsError

FORMAT_EXAMPLE = "+82 10 2000 0000"
"""A valid international number, shown in messages as the format to use."""

MIN_FULL_NUMBER_DIGITS = 6
"""Minimum number of digits, country code included, of any number length that the
phonenumbers 9.0.43 metadata lists as possible. Shorter digit runs cannot reveal a whole
number, so `mask_digits_in_text` leaves them as they are."""

_E164_SHAPE = re.compile(r"\+[0-9]+")
_SCIENTIFIC_NOTATION = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+")
_SEPARATORS = frozenset(" -.()")
_ASCII_SEPARATOR_DELETION = str.maketrans("", "", " -.()")
_ASCII_DIGITS = frozenset("0123456789")
_DIGIT_RUN = re.compile(r"\d(?:[^\w,;\t\"']*\d)*")

_COUNTRY_CODES = {str(code): code for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}
_MAX_COUNTRY_CODE_LENGTH = 3
_MAX_E164_DIGITS = 15

# Same limits as phonenumbers.parse in phonenumbers 9.0.43.
_MIN_NATIONAL_NUMBER_LENGTH = 2
_MAX_NATIONAL_NUMBER_LENGTH = 17


class PhoneNumberError(UserInsightsError):
    """A phone number is not a valid international number.

    `value` is the raw text as received. `reason` is one sentence with the rule, the value
    with its digits masked and the fix, and `str(error)` returns it.
    """

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(reason)
        self.value = value
        self.reason = reason


def normalize_phone_number(raw: str) -> str:
    """Return `raw` as a canonical E.164 number such as ``"+821020000000"``.

    The text is NFKC-normalised (full-width digits and ``＋`` become ASCII) and trimmed. A
    leading apostrophe and a spreadsheet ``="…"`` wrapper are removed, then spaces of any
    kind, dashes, ``.``, ``(`` and ``)``. Decimal digits of other scripts become ASCII
    digits. The result must be ``+`` followed by a country code and a number that
    `phonenumbers.is_valid_number` accepts. A national trunk prefix is dropped the way
    phonenumbers does it, so ``"+82 010-2000-0000"`` becomes ``"+821020000000"``.

    Raises PhoneNumberError for scientific notation, a missing ``+`` and country code
    (a ``00`` prefix included), characters other than digits and separators, and numbers
    that phonenumbers rejects or considers invalid.
    """
    # Most cells are already E.164 text, which the cleanup would return unchanged.
    compact = raw if _E164_SHAPE.fullmatch(raw) else _clean(raw)

    e164 = _fast_e164(compact[1:])
    if e164 is not None:
        return e164

    return _parse_with_phonenumbers(raw, compact)


def mask_phone_number(e164: str) -> str:
    """Return `e164` with all digits but the ``+``, the country code and the last two hidden.

    Each hidden digit becomes ``*``, so ``"+821011112222"`` becomes ``"+82********22"``.
    A national number of two digits or fewer is hidden completely, and an unknown country
    code is hidden with the rest. Raises PhoneNumberError, whose message never contains
    the value, unless `e164` is ``+`` followed by 1 to 15 digits.
    """
    if not _E164_SHAPE.fullmatch(e164) or len(e164) > _MAX_E164_DIGITS + 1:
        reason = (
            f"cannot mask a value of {len(e164)} characters because it is not an E.164 "
            f"number; pass the output of normalize_phone_number, such as '+821020000000'"
        )
        raise PhoneNumberError(e164, reason)

    country_code, national_number = _split_country_code(e164[1:])
    prefix = e164[: len(e164) - len(national_number)]

    visible_count = 2 if len(national_number) > 2 else 0
    hidden = len(national_number) - visible_count
    return prefix + "*" * hidden + national_number[hidden:]


def mask_digits_in_text(text: str) -> str:
    """Return `text` with every run of digits that could be a phone number masked.

    A run is digits joined by spaces, dashes, brackets and other punctuation, except the
    CSV delimiters ``,``, ``;`` and tab and quote characters. In a run of at least
    MIN_FULL_NUMBER_DIGITS digits, every digit but the last two becomes ``*``. Use it
    before quoting user text that may contain a phone number in a message.
    """
    return _DIGIT_RUN.sub(_mask_digit_run, text)


def _mask_digit_run(match: re.Match[str]) -> str:
    run = match.group()
    digit_count = sum(char.isdigit() for char in run)
    if digit_count < MIN_FULL_NUMBER_DIGITS:
        return run

    masked: list[str] = []
    digits_left = digit_count
    for char in run:
        if char.isdigit():
            masked.append(char if digits_left <= 2 else "*")
            digits_left -= 1
        else:
            masked.append(char)
    return "".join(masked)


def _quote(raw: str) -> str:
    """Quote a raw phone cell for a message, masked and cut to 60 characters."""
    masked = mask_digits_in_text(raw)
    if len(masked) <= 60:
        return repr(masked)
    return repr(masked[:60]) + "…"


# Cleanup of spreadsheet text.


def _clean(raw: str) -> str:
    """Return `raw` as ``+`` and ASCII digits, or raise PhoneNumberError."""
    text = unicodedata.normalize("NFKC", raw).strip()
    text = _remove_spreadsheet_markers(text)

    if _SCIENTIFIC_NOTATION.fullmatch(text):
        reason = (
            f"phone number {_quote(raw)} is in scientific notation, so digits were lost; "
            "format the column as text in the spreadsheet and export again"
        )
        raise PhoneNumberError(raw, reason)

    # Deleting the ASCII separators first spares most cells the slower Unicode loop.
    compact = text.translate(_ASCII_SEPARATOR_DELETION)
    if _E164_SHAPE.fullmatch(compact):
        return compact

    compact = _remove_separators(compact)
    if _E164_SHAPE.fullmatch(compact):
        return compact

    raise PhoneNumberError(raw, _describe_malformed(raw, compact))


def _remove_spreadsheet_markers(text: str) -> str:
    """Remove an Excel ``="…"`` text formula and a leading apostrophe (text prefix)."""
    if len(text) >= 3 and text.startswith('="') and text.endswith('"'):
        text = text[2:-1].strip()

    if text.startswith("'"):
        text = text[1:].strip()

    return text


def _remove_separators(text: str) -> str:
    """Drop separators and convert non-ASCII decimal digits to ASCII.

    Separators are spaces of any kind, dashes of any kind (Unicode category Pd), ``.``,
    ``(``, ``)`` and invisible format characters (category Cf, such as a zero-width
    space or a right-to-left mark copied along with the number).
    """
    remaining: list[str] = []
    for char in text:
        if char in _SEPARATORS or char.isspace():
            continue

        category = unicodedata.category(char)
        if category in ("Pd", "Cf"):
            continue

        if category == "Nd" and not char.isascii():
            remaining.append(str(unicodedata.decimal(char)))
        else:
            remaining.append(char)
    return "".join(remaining)


def _describe_malformed(raw: str, compact: str) -> str:
    """Explain why `compact`, the cleaned `raw`, is not ``+`` and digits."""
    if not compact:
        return (
            "phone number is empty; write the number in international format with + and "
            f"the country code, for example {FORMAT_EXAMPLE}"
        )

    invalid = {char for char in compact[1:] if char not in _ASCII_DIGITS}
    if compact[0] not in _ASCII_DIGITS and compact[0] != "+":
        invalid.add(compact[0])
    if invalid:
        listed = ", ".join(repr(char) for char in sorted(invalid)[:5])
        return (
            f"phone number {_quote(raw)} contains characters that are not allowed ({listed}); "
            "use only a leading +, digits, spaces, '-', '.', '(' and ')'"
        )

    if compact.startswith("00"):
        return (
            f"phone number {_quote(raw)} starts with the international dialling prefix 00; "
            f"replace 00 with +, for example {FORMAT_EXAMPLE}"
        )

    if compact == "+":
        return (
            "phone number '+' has no digits; write the number in international format, "
            f"for example {FORMAT_EXAMPLE}"
        )

    return (
        f"phone number {_quote(raw)} is missing + and country code, so its country is "
        "unknown; write it in international format starting with + and the country "
        f"code, for example {FORMAT_EXAMPLE}"
    )


# Validation through the public phonenumbers API. It also produces every rejection reason.


def _parse_with_phonenumbers(raw: str, compact: str) -> str:
    """Validate `compact` (``+`` and digits) with phonenumbers and return its E.164 form."""
    try:
        number = phonenumbers.parse(compact, None)
    except NumberParseException as exc:
        raise PhoneNumberError(raw, _describe_parse_failure(raw, exc)) from None

    if not phonenumbers.is_valid_number(number):
        raise PhoneNumberError(raw, _describe_invalid_number(raw, number))

    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _describe_invalid_number(raw: str, number: phonenumbers.PhoneNumber) -> str:
    country = f"+{number.country_code}"
    length_check = phonenumbers.is_possible_number_with_reason(number)
    if length_check == phonenumbers.ValidationResult.TOO_SHORT:
        problem = f"has too few digits for country code {country}"
    elif length_check == phonenumbers.ValidationResult.TOO_LONG:
        problem = f"has too many digits for country code {country}"
    else:
        problem = f"is not a valid number for country code {country}"

    return f"phone number {_quote(raw)} {problem}; check the country code and the digits after it"


def _describe_parse_failure(raw: str, exc: NumberParseException) -> str:
    quoted = _quote(raw)
    if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
        return (
            f"phone number {quoted} does not start with a known country code after the +; "
            f"check the country code, for example {FORMAT_EXAMPLE}"
        )

    if exc.error_type == NumberParseException.TOO_LONG:
        return (
            f"phone number {quoted} is too long; an international number has at most "
            f"{_MAX_E164_DIGITS} digits including the country code"
        )

    if exc.error_type in (
        NumberParseException.TOO_SHORT_NSN,
        NumberParseException.TOO_SHORT_AFTER_IDD,
    ):
        return f"phone number {quoted} is too short; check that no digits are missing"

    return (
        f"phone number {quoted} is not a phone number; write it in international format, "
        f"for example {FORMAT_EXAMPLE}"
    )


# Fast path for valid numbers.
#
# phonenumbers.parse, is_valid_number and format_number take about 58 µs per number,
# so 5.8 s for a file of 100,000 rows (measured with Korean mobile numbers on a 2-core
# development container). The functions below repeat the steps that parse and
# is_valid_number take for text of the form "+<digits>", with the metadata patterns
# compiled once, and take about 6 µs on the same machine. They only ever accept.
# Anything they reject goes through _parse_with_phonenumbers, which decides and explains.
# Their output equals the public API's, which tests/directory/test_phones.py checks for
# every example number of every region and for random digit strings.
# NOTE: _strip_national_prefix calls private helpers of phonenumbers 9.0.43. A version
# that changes them fails those tests.


class _CompiledDesc(NamedTuple):
    """A PhoneNumberDesc (number pattern of one number type) with its pattern compiled.

    An empty `possible_lengths` allows every length, as in phonenumbers.
    """

    possible_lengths: frozenset[int]
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _RegionRules:
    """The validation patterns of one region, as phonenumbers' _number_type_helper uses them."""

    leading_digits: re.Pattern[str] | None
    general: _CompiledDesc | None
    number_types: tuple[_CompiledDesc, ...]

    def is_valid(self, national_number: str) -> bool:
        # Runs once per imported row, so the matching is written out without helpers.
        if self.general is None:
            return False

        length = len(national_number)
        lengths, pattern = self.general
        if (lengths and length not in lengths) or pattern.fullmatch(national_number) is None:
            return False

        for lengths, pattern in self.number_types:
            if lengths and length not in lengths:
                continue
            if pattern.fullmatch(national_number) is not None:
                return True
        return False


@dataclass(frozen=True, slots=True)
class _CountryRules:
    """Parsing and validation rules of one country calling code."""

    main_metadata: PhoneMetadata
    national_prefix: re.Pattern[str] | None
    regions: tuple[_RegionRules, ...]

    def is_valid(self, national_number: str) -> bool:
        """Mirror is_valid_number, including its choice among regions sharing a code."""
        if len(self.regions) == 1:
            return self.regions[0].is_valid(national_number)

        for region in self.regions:
            if region.leading_digits is None:
                if region.is_valid(national_number):
                    return True
            elif region.leading_digits.match(national_number):
                return region.is_valid(national_number)
        return False


def _fast_e164(digits: str) -> str | None:
    """Return ``+`` and `digits` in canonical E.164 form if the number is valid, else None."""
    country_code, national_number = _split_country_code(digits)
    if country_code == 0 or len(national_number) < _MIN_NATIONAL_NUMBER_LENGTH:
        return None

    rules = _country_rules(country_code)
    if rules is None:
        return None

    if rules.national_prefix is not None and rules.national_prefix.match(national_number):
        national_number = _strip_national_prefix(national_number, rules.main_metadata)

    if len(national_number) > _MAX_NATIONAL_NUMBER_LENGTH:
        return None

    if not rules.is_valid(national_number):
        return None

    return f"+{country_code}{national_number}"


def _split_country_code(digits: str) -> tuple[int, str]:
    """Split off the country calling code, or return (0, digits) if none is known."""
    if not digits or digits[0] == "0":
        return 0, digits

    for length in range(1, _MAX_COUNTRY_CODE_LENGTH + 1):
        country_code = _COUNTRY_CODES.get(digits[:length])
        if country_code is not None:
            return country_code, digits[length:]
    return 0, digits


def _strip_national_prefix(national_number: str, metadata: PhoneMetadata) -> str:
    """Drop a trunk prefix (such as the Korean 0) exactly as phonenumbers.parse does."""
    _, stripped, _ = phonenumberutil._maybe_strip_national_prefix_carrier_code(
        national_number, metadata
    )

    length_check = phonenumberutil._test_number_length(stripped, metadata)
    too_short = (
        phonenumberutil.ValidationResult.TOO_SHORT,
        phonenumberutil.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        phonenumberutil.ValidationResult.INVALID_LENGTH,
    )
    if length_check in too_short:
        return national_number
    return stripped


@functools.cache
def _country_rules(country_code: int) -> _CountryRules | None:
    """Compile the rules of a known country code, or return None without metadata for it."""
    main_region = phonenumbers.region_code_for_country_code(country_code)
    main_metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, main_region)
    if main_metadata is None:
        return None

    prefix_pattern = main_metadata.national_prefix_for_parsing
    national_prefix = re.compile(prefix_pattern) if prefix_pattern else None

    region_codes = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]
    regions: list[_RegionRules] = []
    for region_code in region_codes:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region_code)
        if metadata is not None:
            regions.append(_compile_region(metadata))

    return _CountryRules(main_metadata, national_prefix, tuple(regions))


def _compile_region(metadata: PhoneMetadata) -> _RegionRules:
    # is_valid_number accepts any type that _number_type_helper recognises. It tests the
    # mobile pattern only when it differs from the fixed-line pattern.
    type_names = [
        "premium_rate",
        "toll_free",
        "shared_cost",
        "voip",
        "personal_number",
        "pager",
        "uan",
        "voicemail",
        "fixed_line",
    ]
    if not metadata.same_mobile_and_fixed_line_pattern:
        type_names.insert(0, "mobile")

    compiled = (_compile_desc(getattr(metadata, name)) for name in type_names)
    number_types = tuple(desc for desc in compiled if desc is not None)

    leading_digits = None
    if metadata.leading_digits is not None:
        leading_digits = re.compile(metadata.leading_digits)

    return _RegionRules(leading_digits, _compile_desc(metadata.general_desc), number_types)


def _compile_desc(desc: PhoneNumberDesc | None) -> _CompiledDesc | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return _CompiledDesc(frozenset(desc.possible_length), re.compile(desc.national_number_pattern))
