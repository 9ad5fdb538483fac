"""The event contract: what parses, what is rejected, and the message of each rejection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from pipeline.errors import InvalidEventError
from schemas.events import parse_event

VALID = {
    "event": "delivered",
    "user_id": "u-100",
    "message_id": "msg-1",
    "channel": "push",
    "occurred_at": "2026-03-01T10:00:00.150Z",
}


def _encode(**changes: object) -> bytes:
    data = {**VALID, **changes}
    return orjson.dumps({k: v for k, v in data.items() if v is not None})


def test_valid_event_parses():
    event = parse_event(_encode(device_id="phone-A", event_id="e1"))

    assert event.user_id == "u-100"
    assert event.occurred_at == datetime(2026, 3, 1, 10, 0, 0, 150_000, tzinfo=UTC)
    assert event.device_id == "phone-A"
    assert event.dedup_key == "u-100\x1fmsg-1\x1fdelivered"


def test_offset_times_keep_instant():
    event = parse_event(_encode(occurred_at="2026-03-01T19:00:00+09:00"))

    assert event.occurred_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(hours=9)


def test_unknown_fields_are_ignored():
    event = parse_event(_encode(trace={"span": "abc"}, schema_version=7))

    assert event.event == "delivered"


def test_payload_parts_parse():
    sent = parse_event(
        _encode(
            event="sent",
            template={"key": "otp", "version": 2},
            content={"title": "코드", "body": "Your code is 123456", "variables": {"code": "123456"}},
        )
    )
    clicked = parse_event(_encode(event="clicked", action={"button": "Open", "url": "https://x.test/a"}))
    failed = parse_event(_encode(event="failed", reason={"code": "carrier_rejected", "detail": "x"}))

    assert sent.template is not None and sent.template.version == 2
    assert sent.content is not None and sent.content.variables == {"code": "123456"}
    assert clicked.action is not None and clicked.action.url == "https://x.test/a"
    assert failed.reason is not None and failed.reason.code == "carrier_rejected"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"", "record value is empty"),
        (b"\xff\xfe{not json", "not a JSON object"),
        (b"[1, 2]", "not a JSON object"),
        (b"null", "not a JSON object"),
        (_encode(message_id=None), "required field 'message_id' is missing"),
        (_encode(event="opened"), "field 'event' is invalid"),
        (_encode(channel="fax"), "field 'channel' is invalid"),
        (_encode(user_id="u 100"), "field 'user_id' is invalid"),
        (_encode(user_id="x" * 81), "field 'user_id' is invalid"),
        (_encode(user_id=""), "field 'user_id' is invalid"),
        (_encode(message_id="m" * 129), "field 'message_id' is invalid"),
        (_encode(occurred_at="2026-03-01T10:00:00"), "field 'occurred_at' is invalid"),
        (_encode(occurred_at="yesterday"), "field 'occurred_at' is invalid"),
        (_encode(user_id=100), "field 'user_id' is invalid"),
        (_encode(event="failed", reason={"detail": "no code"}), "required field 'reason.code' is missing"),
    ],
)
def test_invalid_records_are_rejected(value: bytes, expected: str):
    with pytest.raises(InvalidEventError) as caught:
        parse_event(value)

    assert expected in caught.value.reason


def test_rejection_names_the_value():
    with pytest.raises(InvalidEventError) as caught:
        parse_event(_encode(channel="fax"))

    assert "'fax'" in caught.value.reason
    assert caught.value.field == "channel"


def test_user_ids_are_case_sensitive():
    upper = parse_event(_encode(user_id="U-100"))
    lower = parse_event(_encode(user_id="u-100"))

    assert upper.dedup_key != lower.dedup_key
