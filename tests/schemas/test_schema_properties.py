"""Property tests: no input crashes the record parsers, and every rejection has a reason."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import InvalidEventError
from schemas.events import NotificationEvent, parse_event
from schemas.profiles import ProfileChange, parse_profile_change

_FIELDS = ["event", "user_id", "message_id", "channel", "occurred_at", "device_id", "event_id",
           "template", "content", "action", "reason", "op", "nickname", "phone_number", "updated_at"]
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.sampled_from(["sent", "clicked", "push", "u-1", "2026-03-01T10:00:00Z", "upsert", "delete",
                     "+821020000000", "2026-03-01T10:00:00"]),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
_OBJECTS = st.dictionaries(st.sampled_from(_FIELDS) | st.text(max_size=10), _VALUES, max_size=10)


def _parses_or_explains(parse, value: bytes, model) -> None:
    try:
        result = parse(value)
    except InvalidEventError as exc:
        assert exc.reason.strip() != ""
        return
    assert isinstance(result, model)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_event_parser_any_bytes(value: bytes):
    _parses_or_explains(parse_event, value, NotificationEvent)


@settings(max_examples=400, deadline=None)
@given(_OBJECTS)
def test_event_parser_any_object(data: dict):
    _parses_or_explains(parse_event, orjson.dumps(data), NotificationEvent)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_profile_parser_any_bytes(value: bytes):
    _parses_or_explains(parse_profile_change, value, ProfileChange)


@settings(max_examples=300, deadline=None)
@given(_OBJECTS)
def test_profile_parser_any_object(data: dict):
    _parses_or_explains(parse_profile_change, orjson.dumps(data), ProfileChange)
