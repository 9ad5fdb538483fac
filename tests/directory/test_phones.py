"""Tests of phone number normalisation, its fast validation path and masking."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from phonenumbers.phonemetadata import PhoneMetadata

from directory import phones
from directory.phones import (
    MIN_FULL_NUMBER_DIGITS,
    PhoneNumberError,
    mask_digits_in_text,
    mask_phone_number,
    normalize_phone_number,
)

FULL_WIDTH = str.maketrans("+0123456789", "＋０１２３４５６７８９")

NUMBER_TYPES = [
    value
    for name, value in vars(PhoneNumberType).items()
    if name.isupper() and value != PhoneNumberType.UNKNOWN
]


def reference_e164(text: str) -> str | None:
    """Return the E.164 form that the public phonenumbers API gives `text`, or None."""
    try:
        number = phonenumbers.parse(text, None)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def normalized_or_none(text: str) -> str | None:
    try:
        return normalize_phone_number(text)
    except PhoneNumberError:
        return None


def region_examples() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    """Return the example number of every supported region that has one."""
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        number = phonenumbers.example_number(region)
        if number is not None:
            examples.append((region, number))
    return examples


def typed_examples() -> list[str]:
    """Return the E.164 example of every number type of every region and non-geo code."""
    found = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for number_type in NUMBER_TYPES:
            number = phonenumbers.example_number_for_type(region, number_type)
            if number is not None:
                found.add(phonenumbers.format_number(number, PhoneNumberFormat.E164))

    for country_code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        number = phonenumbers.example_number_for_non_geo_entity(country_code)
        if number is not None:
            found.add(phonenumbers.format_number(number, PhoneNumberFormat.E164))
    return sorted(found)


REGION_EXAMPLES = region_examples()
TYPED_EXAMPLES = typed_examples()


def spelling_variants(number: phonenumbers.PhoneNumber) -> list[str]:
    """Return ways a spreadsheet user might write `number`."""
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    return [
        e164,
        international,
        international.replace(" ", "-"),
        international.replace(" ", ".").replace("-", "."),
        international.replace(" ", "\u00a0"),
        international.translate(FULL_WIDTH),
        e164.translate(FULL_WIDTH),
        f"  {international}  ",
        f"'{e164}",
        f'="{e164}"',
    ]


# Accepted forms.


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+821020000000", "+821020000000"),
        ("+82 010-2000-0000", "+821020000000"),
        ("+8201020000000", "+821020000000"),
        ("+82 10 2000 0000", "+821020000000"),
        ("'+447400123456", "+447400123456"),
        (" +821020000000", "+821020000000"),
        ('="+12015550123"', "+12015550123"),
        ("＋８２ １０１１１１－２２２２", "+821011112222"),
        ("+1 (201) 555-0123", "+12015550123"),
        ("+44.7400.123456", "+447400123456"),
        ("+44\u00a07400\u00a0123456", "+447400123456"),
        ("+44\u20097400\u3000123456", "+447400123456"),
        ("+44\u200b7400123456", "+447400123456"),
        ("+44\u20137400\u2013123456", "+447400123456"),
        (
            "+\u0664\u0664\u0667\u0664\u0660\u0660\u0661\u0662\u0663\u0664\u0665\u0666",
            "+447400123456",
        ),
        ("\t+82 10 1111 2222\n", "+821011112222"),
    ],
)
def test_normalize_accepted_forms(raw: str, expected: str) -> None:
    assert normalize_phone_number(raw) == expected


def test_korean_trunk_zero_dropped() -> None:
    # phonenumbers 9.0.43 drops the Korean trunk prefix 0 after +82.
    assert reference_e164("+8201020000000") == "+821020000000"
    assert normalize_phone_number("+8201020000000") == "+821020000000"
    assert normalize_phone_number("+82 010-2000-0000") == "+821020000000"
    assert phones._fast_e164("8201020000000") == "+821020000000"


# Rejected forms.


def test_scientific_notation_reason() -> None:
    with pytest.raises(PhoneNumberError) as caught:
        normalize_phone_number("8.21E+11")

    assert caught.value.value == "8.21E+11"
    assert caught.value.reason == (
        "phone number '8.21E+11' is in scientific notation, so digits were lost; "
        "format the column as text in the spreadsheet and export again"
    )
    assert str(caught.value) == caught.value.reason


@pytest.mark.parametrize(
    "raw", ["8.21E+11", "8,21E+11", "8.21e11", "8E+11", "+8.21E+11", "8.21E-11"]
)
def test_scientific_notation_variants(raw: str) -> None:
    with pytest.raises(PhoneNumberError) as caught:
        normalize_phone_number(raw)

    assert "scientific notation" in caught.value.reason


def test_missing_plus_reason() -> None:
    with pytest.raises(PhoneNumberError) as caught:
        normalize_phone_number("447400123456")

    assert caught.value.value == "447400123456"
    assert caught.value.reason == (
        "phone number '**********56' is missing + and country code, so its country is "
        "unknown; write it in international format starting with + and the country code, "
        "for example +82 10 2000 0000"
    )


@pytest.mark.parametrize(
    ("raw", "expected_fragment"),
    [
        ("01020000000", "is missing + and country code"),
        ("010-2000-0000", "is missing + and country code"),
        (
            "0082 10 2000 0000",
            "starts with the international dialling prefix 00; replace 00 with +",
        ),
        ("+82 10 abc", "contains characters that are not allowed ('a', 'b', 'c')"),
        ("+82+1020000000", "contains characters that are not allowed ('+')"),
        ("tel:+821020000000", "contains characters that are not allowed ('+', ':', 'e', 'l', 't')"),
        ("+82/10/2000/0000", "contains characters that are not allowed ('/')"),
        ("", "phone number is empty"),
        ("   ", "phone number is empty"),
        ("'", "phone number is empty"),
        ("''", 'contains characters that are not allowed ("\'")'),
        ("+", "phone number '+' has no digits"),
        ("+999 1234 5678", "does not start with a known country code"),
        ("+82 10", "has too few digits for country code +82"),
        ("+82 99 2000 0000", "is not a valid number for country code +82"),
        ("+1234567890123456789", "is too long"),
    ],
)
def test_rejected_forms(raw: str, expected_fragment: str) -> None:
    with pytest.raises(PhoneNumberError) as caught:
        normalize_phone_number(raw)

    assert caught.value.value == raw
    assert expected_fragment in caught.value.reason


@pytest.mark.parametrize(
    "raw",
    [
        "447400123456",
        "0044 7400 123456",
        "+82 99 2000 0000",
        "+999 1234 5678",
        "+8210 2000 0000 1234 5678",
        "＋８２ ９９ ２０００ ００００",
        "010-2000-0000",
    ],
)
def test_reason_hides_full_number(raw: str) -> None:
    with pytest.raises(PhoneNumberError) as caught:
        normalize_phone_number(raw)

    full_width_digits = str.maketrans("０１２３４５６７８９", "0123456789")
    ascii_digits = re.sub(r"\D", "", raw.translate(full_width_digits))
    reason = caught.value.reason.replace(phones.FORMAT_EXAMPLE, "")
    assert ascii_digits not in re.sub(r"\D", "", reason)
    assert raw.strip() not in reason


# Every region.


def test_region_examples_all_spellings() -> None:
    assert len(REGION_EXAMPLES) == len(phonenumbers.SUPPORTED_REGIONS)

    for region, number in REGION_EXAMPLES:
        expected = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        for spelling in spelling_variants(number):
            assert normalize_phone_number(spelling) == expected, (region, spelling)


SEPARATORS = st.sampled_from(["", " ", "-", ".", "\u00a0", " (", ") ", "\u3000", "－"])


@st.composite
def respelled_examples(draw: st.DrawFn) -> tuple[str, str]:
    """Draw a region example re-spelled with random separators and full-width digits."""
    _, number = draw(st.sampled_from(REGION_EXAMPLES))
    expected = phonenumbers.format_number(number, PhoneNumberFormat.E164)

    parts = [expected[0]]
    for char in expected[1:]:
        parts.append(draw(SEPARATORS))
        parts.append(char.translate(FULL_WIDTH) if draw(st.booleans()) else char)
    spelled = "".join(parts)

    wrapper = draw(st.sampled_from(["{}", "'{}", '="{}"', " {} "]))
    return wrapper.format(spelled), expected


@given(respelled_examples())
@settings(max_examples=400)
def test_respelled_examples_normalize(case: tuple[str, str]) -> None:
    spelled, expected = case
    assert normalize_phone_number(spelled) == expected


# Fast path against the public phonenumbers API.


def test_fast_path_accepts_typed_examples() -> None:
    assert len(TYPED_EXAMPLES) > 1000

    for e164 in TYPED_EXAMPLES:
        assert phones._fast_e164(e164[1:]) == e164


def test_fast_path_matches_reference_near_examples() -> None:
    checked = 0
    for e164 in TYPED_EXAMPLES:
        country_code, national_number = phones._split_country_code(e164[1:])
        last_digit = str((int(e164[-1]) + 1) % 10)
        candidates = [
            e164,
            e164[:-1],
            e164 + "0",
            e164[:-1] + last_digit,
            f"+{country_code}0{national_number}",
            f"+{country_code}1{national_number}",
        ]
        for candidate in candidates:
            assert normalized_or_none(candidate) == reference_e164(candidate), candidate
            checked += 1

    assert checked == 6 * len(TYPED_EXAMPLES)


COUNTRY_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@given(
    st.sampled_from(COUNTRY_CODES),
    st.text(alphabet="0123456789", min_size=0, max_size=18),
)
@settings(max_examples=1500)
def test_fast_path_matches_reference(country_code: int, digits: str) -> None:
    text = f"+{country_code}{digits}"
    assert normalized_or_none(text) == reference_e164(text)


@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
@settings(max_examples=500)
def test_any_digits_match_reference(digits: str) -> None:
    text = "+" + digits
    assert normalized_or_none(text) == reference_e164(text)


# Masking.


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+821011112222", "+82********22"),
        ("+821020000000", "+82********00"),
        ("+12015550123", "+1********23"),
        ("+447400123456", "+44********56"),
        ("+6834002", "+683**02"),
        ("+68340", "+683**"),
        ("+99912345678", "+*********78"),
    ],
)
def test_mask_phone_number_examples(e164: str, expected: str) -> None:
    assert mask_phone_number(e164) == expected


def test_mask_hides_every_example() -> None:
    for e164 in TYPED_EXAMPLES:
        masked = mask_phone_number(e164)
        country_code, national_number = phones._split_country_code(e164[1:])

        assert len(masked) == len(e164)
        assert masked != e164
        assert masked.startswith(f"+{country_code}")
        assert masked.endswith(national_number[-2:])
        assert masked.count("*") == len(national_number) - 2


@pytest.mark.parametrize(
    "value", ["821011112222", "+82 10 1111 2222", "", "+", "+1234567890123456"]
)
def test_mask_rejects_non_e164(value: str) -> None:
    with pytest.raises(PhoneNumberError) as caught:
        mask_phone_number(value)

    assert "not an E.164 number" in caught.value.reason
    if len(value) > 1:
        assert value not in caught.value.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("u-1001,+82 10-2000-0000,8.21E+11", "u-1001,+** **-****-**00,8.21E+11"),
        ("447400123456", "**********56"),
        ("u-100000", "u-****00"),
        ("u-10000", "u-10000"),
        ("＋８２ １０１１１１－２２２２", "＋** ******－**２２"),
        ("call 010 2000 0000;later", "call *** **** **00;later"),
    ],
)
def test_mask_digits_in_text(text: str, expected: str) -> None:
    assert mask_digits_in_text(text) == expected


def test_min_full_number_digits() -> None:
    shortest = 99
    for country_code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
            if metadata is None:
                continue
            lengths = [length for length in metadata.general_desc.possible_length if length > 0]
            if lengths:
                shortest = min(shortest, len(str(country_code)) + min(lengths))

    assert shortest == MIN_FULL_NUMBER_DIGITS
