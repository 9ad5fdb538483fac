"""The demo stream generator: determinism, the event contract, the realism features and
a ground truth that matches an independent recount of the valid records.

The recount parses the produced JSON on purpose, because it checks the generator and not
the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.demo_stream import DemoConfig, DemoRecord, DemoStream, generate_demo_stream

REPO_ROOT = Path(__file__).resolve().parents[2]

EVENTS = ("sent", "delivered", "viewed", "clicked", "failed")
CHANNELS = ("push", "inapp", "sms", "alimtalk", "whatsapp", "email")
REQUIRED_FIELDS = ("event", "user_id", "message_id", "channel", "occurred_at")
USER_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")
PLAIN_USER_ID = re.compile(r"^user-\d{6}$")
OCCURRED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|\+09:00)$")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
INVALID_KINDS = {
    "not_json",
    "empty_value",
    "missing_message_id",
    "unknown_channel",
    "bad_user_id",
    "naive_occurred_at",
}


@dataclass(frozen=True)
class Parsed:
    """One record with its position, its decoded payload (None if undecodable) and the
    contract rules it breaks (empty for a valid record)."""

    position: int
    record: DemoRecord
    payload: dict[str, Any] | None
    violations: tuple[str, ...]


def contract_violations(value: bytes) -> tuple[dict[str, Any] | None, list[str]]:
    """Decode a record value and list the event-contract rules it breaks."""
    if value == b"":
        return None, ["empty_value"]
    try:
        payload = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, ["not_json"]
    if not isinstance(payload, dict):
        return None, ["not_object"]

    broken = [f"missing_{name}" for name in REQUIRED_FIELDS if name not in payload]
    if "event" in payload and payload["event"] not in EVENTS:
        broken.append("unknown_event")
    if "channel" in payload and payload["channel"] not in CHANNELS:
        broken.append("unknown_channel")
    if "user_id" in payload and not _valid_user_id(payload["user_id"]):
        broken.append("bad_user_id")
    if "message_id" in payload and not _valid_message_id(payload["message_id"]):
        broken.append("bad_message_id")
    if "occurred_at" in payload:
        broken.extend(_time_violations(payload["occurred_at"]))
    return payload, broken


def _valid_user_id(value: object) -> bool:
    return isinstance(value, str) and USER_ID.fullmatch(value) is not None


def _valid_message_id(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 128


def _time_violations(value: object) -> list[str]:
    if not isinstance(value, str):
        return ["bad_occurred_at"]
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return ["bad_occurred_at"]
    if moment.tzinfo is None:
        return ["naive_occurred_at"]
    return []


def instant(payload: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(payload["occurred_at"])


@pytest.fixture(scope="module")
def stream() -> DemoStream:
    return generate_demo_stream()


def parse_records(records: list[DemoRecord]) -> list[Parsed]:
    result = []
    for position, record in enumerate(records):
        payload, broken = contract_violations(record.value)
        result.append(Parsed(position, record, payload, tuple(broken)))
    return result


@pytest.fixture(scope="module")
def parsed(stream: DemoStream) -> list[Parsed]:
    return parse_records(stream.records)


@pytest.fixture(scope="module")
def valid(parsed: list[Parsed]) -> list[Parsed]:
    return [item for item in parsed if not item.violations]


@pytest.fixture(scope="module")
def invalid(parsed: list[Parsed]) -> list[Parsed]:
    return [item for item in parsed if item.violations]


def group_by(items: list[Parsed], *fields: str) -> dict[tuple[Any, ...], list[Parsed]]:
    groups: dict[tuple[Any, ...], list[Parsed]] = defaultdict(list)
    for item in items:
        assert item.payload is not None
        groups[tuple(item.payload.get(name) for name in fields)].append(item)
    return groups


def first_positions(valid: list[Parsed]) -> dict[tuple[str, str, str], int]:
    """Map (user, message, event) to the position of its first record in the stream."""
    positions: dict[tuple[str, str, str], int] = {}
    for item in valid:
        assert item.payload is not None
        key = (item.payload["user_id"], item.payload["message_id"], item.payload["event"])
        positions.setdefault(key, item.position)
    return positions


# --- determinism -------------------------------------------------------------------------


def test_same_seed_identical_bytes(stream: DemoStream):
    again = generate_demo_stream()

    assert [r.key for r in again.records] == [r.key for r in stream.records]
    assert [r.value for r in again.records] == [r.value for r in stream.records]
    assert again.user_ids == stream.user_ids


def test_different_seed_differs(stream: DemoStream):
    other = generate_demo_stream(DemoConfig(seed=DemoConfig().seed + 1))

    assert [r.value for r in other.records] != [r.value for r in stream.records]


def test_hash_seed_keeps_bytes():
    """Set iteration order depends on PYTHONHASHSEED and must never reach the output."""
    script = (
        "import hashlib, sys\n"
        "from pipeline.demo_stream import DemoConfig, generate_demo_stream\n"
        "digest = hashlib.sha256()\n"
        "for r in generate_demo_stream(DemoConfig(users=300)).records:\n"
        "    digest.update(repr((r.key, r.value)).encode())\n"
        "sys.stdout.write(digest.hexdigest())\n"
    )
    digests = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        output = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        digests.append(output.stdout)

    assert digests[0] == digests[1]
    assert len(digests[0]) == len(hashlib.sha256().hexdigest())


# --- the event contract ------------------------------------------------------------------


def test_stream_size_in_range(stream: DemoStream):
    assert 40_000 <= len(stream.records) <= 120_000


def test_record_counts_match_truth(
    stream: DemoStream, valid: list[Parsed], invalid: list[Parsed]
):
    assert len(valid) == stream.truth.valid_records
    assert len(invalid) == stream.truth.invalid_records


def test_invalid_share_near_ratio(stream: DemoStream, invalid: list[Parsed]):
    share = len(invalid) / len(stream.records)

    assert 0.001 <= share <= 0.004


def test_invalid_records_cover_every_kind(invalid: list[Parsed]):
    kinds = {kind for item in invalid for kind in item.violations}

    assert INVALID_KINDS <= kinds


def test_invalid_records_keys_vary(invalid: list[Parsed]):
    keys = [item.record.key for item in invalid]

    assert None in keys
    assert any(key is not None for key in keys)


def test_valid_records_keyed_by_user(valid: list[Parsed]):
    for item in valid:
        assert item.payload is not None
        assert item.record.key == item.payload["user_id"].encode()


def test_valid_times_have_milliseconds(valid: list[Parsed]):
    for item in valid:
        assert item.payload is not None
        assert OCCURRED_AT.fullmatch(item.payload["occurred_at"]), item.payload["occurred_at"]


def test_valid_records_use_compact_json(valid: list[Parsed]):
    for item in valid:
        encoded = json.dumps(item.payload, ensure_ascii=False, separators=(",", ":")).encode()
        assert item.record.value == encoded


def test_event_ids_unique(valid: list[Parsed]):
    event_ids = [item.payload["event_id"] for item in valid if item.payload]

    assert len(event_ids) == len(valid)
    assert len(set(event_ids)) == len(event_ids)


def test_sent_carries_template_and_content(valid: list[Parsed]):
    sent = [item.payload for item in valid if item.payload and item.payload["event"] == "sent"]

    assert sent
    for payload in sent:
        assert "device_id" not in payload
        assert set(payload["template"]) == {"key", "version"}
        assert isinstance(payload["content"]["title"], str)
        assert isinstance(payload["content"]["body"], str)
        assert isinstance(payload["content"]["variables"], dict)


def test_sent_content_has_korean(valid: list[Parsed]):
    titles = [
        item.payload["content"]["title"]
        for item in valid
        if item.payload and item.payload["event"] == "sent"
    ]

    assert any(HANGUL.search(title) for title in titles)


def test_clicked_carries_action(valid: list[Parsed]):
    clicked = [
        item.payload for item in valid if item.payload and item.payload["event"] == "clicked"
    ]

    assert clicked
    for payload in clicked:
        assert isinstance(payload["action"]["button"], str)
        assert payload["action"]["url"].startswith("https://")


def test_failed_carries_reason(valid: list[Parsed]):
    failed = [item.payload for item in valid if item.payload and item.payload["event"] == "failed"]
    codes = {payload["reason"]["code"] for payload in failed}

    assert failed
    for payload in failed:
        assert isinstance(payload["reason"]["code"], str)
    assert "unregistered_token" in codes
    assert "carrier_rejected" in codes
    assert "mailbox_full" in codes


def test_device_ids_have_platform(valid: list[Parsed]):
    for item in valid:
        assert item.payload is not None
        device_id = item.payload.get("device_id")
        if device_id is not None:
            assert device_id.split("-")[0] in ("ios", "android", "web"), device_id


def test_unknown_field_present(valid: list[Parsed]):
    assert any(item.payload and "trace" in item.payload for item in valid)


# --- users and campaigns -----------------------------------------------------------------


def test_user_ids_unique_and_allowed(stream: DemoStream):
    assert len(set(stream.user_ids)) == len(stream.user_ids)
    for user_id in stream.user_ids:
        assert USER_ID.fullmatch(user_id), user_id


def test_special_user_ids_about_two_percent(stream: DemoStream):
    special = [u for u in stream.user_ids if not PLAIN_USER_ID.fullmatch(u)]
    share = len(special) / len(stream.user_ids)

    assert 0.01 <= share <= 0.04


def test_user_ids_differ_only_by_case(stream: DemoStream):
    folded = [user_id.lower() for user_id in stream.user_ids]

    assert len(set(folded)) < len(set(stream.user_ids))


def test_user_id_of_max_length(stream: DemoStream):
    assert max(len(user_id) for user_id in stream.user_ids) == 80


def test_some_users_without_events(stream: DemoStream):
    assert stream.truth.users_with_events < len(stream.user_ids)
    assert set(stream.truth.unique) <= set(stream.user_ids)


def test_users_have_one_to_three_devices(valid: list[Parsed]):
    devices: dict[str, set[str]] = defaultdict(set)
    for item in valid:
        assert item.payload is not None
        if "device_id" in item.payload:
            devices[item.payload["user_id"]].add(item.payload["device_id"])

    counts = {len(ids) for ids in devices.values()}
    assert counts == {1, 2, 3}


def test_campaigns_cover_all_channels(valid: list[Parsed]):
    channels = {item.payload["channel"] for item in valid if item.payload}

    assert channels == set(CHANNELS)


def test_campaign_targets_share(stream: DemoStream, valid: list[Parsed]):
    users_by_template: dict[str, set[str]] = defaultdict(set)
    for item in valid:
        if item.payload and item.payload["event"] == "sent":
            users_by_template[item.payload["template"]["key"]].add(item.payload["user_id"])

    assert len(users_by_template) == DemoConfig().campaigns
    for users in users_by_template.values():
        assert 0.25 <= len(users) / len(stream.user_ids) <= 0.90


def test_times_span_one_to_two_days(valid: list[Parsed]):
    moments = [instant(item.payload) for item in valid if item.payload]
    start = DemoConfig().start

    assert min(moments) >= start
    assert timedelta(days=1) <= max(moments) - min(moments) <= timedelta(days=2)


# --- ground truth ------------------------------------------------------------------------


def recount(valid: list[Parsed]) -> dict[str, dict[str, dict[str, set[str]]]]:
    unique: dict[str, dict[str, dict[str, set[str]]]] = {}
    for item in valid:
        payload = item.payload
        assert payload is not None
        by_event = unique.setdefault(payload["user_id"], {}).setdefault(payload["channel"], {})
        by_event.setdefault(payload["event"], set()).add(payload["message_id"])
    return unique


def test_truth_matches_recount(stream: DemoStream, valid: list[Parsed]):
    assert stream.truth.unique == recount(valid)


def test_users_with_events_matches(stream: DemoStream, valid: list[Parsed]):
    assert stream.truth.users_with_events == len(recount(valid))


def test_totals_match_recount(stream: DemoStream, valid: list[Parsed]):
    unique = recount(valid)
    for user_id in list(unique)[:200]:
        expected = dict.fromkeys(EVENTS, 0)
        for by_event in unique[user_id].values():
            for event, message_ids in by_event.items():
                expected[event] += len(message_ids)
        assert stream.truth.totals(user_id) == expected


def test_by_channel_matches_recount(stream: DemoStream, valid: list[Parsed]):
    unique = recount(valid)
    for user_id in list(unique)[:200]:
        expected = {
            channel: {event: len(by_event.get(event, ())) for event in EVENTS}
            for channel, by_event in unique[user_id].items()
        }
        assert stream.truth.by_channel(user_id) == expected


def test_grand_totals_match_recount(stream: DemoStream, valid: list[Parsed]):
    expected = dict.fromkeys(EVENTS, 0)
    for by_channel in recount(valid).values():
        for by_event in by_channel.values():
            for event, message_ids in by_event.items():
                expected[event] += len(message_ids)

    assert stream.truth.grand_totals() == expected


def test_totals_zero_for_unknown_user(stream: DemoStream):
    assert stream.truth.totals("no-such-user") == dict.fromkeys(EVENTS, 0)
    assert stream.truth.by_channel("no-such-user") == {}


def test_dedup_removes_records(stream: DemoStream):
    unique_events = sum(stream.truth.grand_totals().values())

    assert unique_events < stream.truth.valid_records


# --- realism features --------------------------------------------------------------------


def test_multi_device_duplicates(valid: list[Parsed]):
    delivered = [
        item
        for item in valid
        if item.payload
        and item.payload["event"] in ("delivered", "viewed")
        and item.payload["channel"] in ("push", "inapp")
    ]
    groups = group_by(delivered, "user_id", "message_id", "event")
    multi = [g for g in groups.values() if len({i.payload["device_id"] for i in g}) >= 2]

    assert multi
    for group in multi:
        moments = [instant(item.payload) for item in group]
        assert max(moments) - min(moments) <= timedelta(seconds=5)


def test_retries_get_new_event_ids(valid: list[Parsed]):
    reports = [
        item for item in valid if item.payload and item.payload["event"] in ("delivered", "failed")
    ]
    groups = group_by(reports, "user_id", "message_id", "event", "device_id")
    retried = [group for group in groups.values() if len(group) >= 2]

    assert retried
    for group in retried:
        assert len({item.payload["event_id"] for item in group}) == len(group)


def test_some_retries_occur_earlier(valid: list[Parsed]):
    reports = [
        item for item in valid if item.payload and item.payload["event"] in ("delivered", "failed")
    ]
    groups = group_by(reports, "user_id", "message_id", "event", "device_id")
    earlier = [
        group
        for group in groups.values()
        if len(group) == 2 and instant(group[1].payload) < instant(group[0].payload)
    ]

    assert earlier


def test_click_reported_twice(valid: list[Parsed]):
    clicks = [item for item in valid if item.payload and item.payload["event"] == "clicked"]
    groups = group_by(clicks, "user_id", "message_id", "device_id")

    assert any(len(group) == 2 for group in groups.values())


def test_click_without_view(stream: DemoStream):
    orphans = [
        message_id
        for by_channel in stream.truth.unique.values()
        for by_event in by_channel.values()
        for message_id in by_event.get("clicked", set()) - by_event.get("viewed", set())
    ]
    clicks = stream.truth.grand_totals()["clicked"]

    assert orphans
    assert len(orphans) / clicks <= 0.10


def test_message_without_sent(stream: DemoStream):
    missing = [
        message_id
        for by_channel in stream.truth.unique.values()
        for by_event in by_channel.values()
        for message_id in (by_event.get("delivered", set()) | by_event.get("failed", set()))
        - by_event.get("sent", set())
    ]

    assert missing


def test_clicked_before_delivered(valid: list[Parsed]):
    positions = first_positions(valid)
    early = [
        key
        for key, position in positions.items()
        if key[2] == "clicked" and position < positions.get((key[0], key[1], "delivered"), -1)
    ]

    assert early


def test_viewed_before_sent(valid: list[Parsed]):
    positions = first_positions(valid)
    early = [
        key
        for key, position in positions.items()
        if key[2] == "viewed" and position < positions.get((key[0], key[1], "sent"), -1)
    ]

    assert early


def test_both_offsets_present(valid: list[Parsed]):
    times = [item.payload["occurred_at"] for item in valid if item.payload]
    kst = [value for value in times if value.endswith("+09:00")]

    assert any(value.endswith("Z") for value in times)
    assert 0.05 <= len(kst) / len(times) <= 0.15


def test_delivery_rate_per_channel(stream: DemoStream):
    expected = {"push": 0.92, "inapp": 0.92, "sms": 0.97, "alimtalk": 0.97, "email": 0.95}
    for channel, rate in expected.items():
        delivered = failed = 0
        for by_channel in stream.truth.unique.values():
            by_event = by_channel.get(channel, {})
            delivered += len(by_event.get("delivered", ()))
            failed += len(by_event.get("failed", ()))
        assert abs(delivered / (delivered + failed) - rate) <= 0.02, channel


# --- other configs -----------------------------------------------------------------------


def test_zero_ratio_no_invalid():
    demo = generate_demo_stream(DemoConfig(users=200, bad_record_ratio=0.0))

    assert demo.truth.invalid_records == 0
    assert all(not contract_violations(r.value)[1] for r in demo.records)


def test_small_config_consistent():
    demo = generate_demo_stream(DemoConfig(users=20, campaigns=2, seed=7))
    valid_items = [item for item in parse_records(demo.records) if not item.violations]

    assert len(demo.user_ids) == 20
    assert demo.truth.unique == recount(valid_items)


@pytest.mark.parametrize(
    "config",
    [
        DemoConfig(users=0),
        DemoConfig(campaigns=0),
        DemoConfig(bad_record_ratio=1.0),
        DemoConfig(bad_record_ratio=-0.1),
        DemoConfig(start=datetime(2026, 11, 2, 9, 0)),
    ],
)
def test_invalid_config_rejected(config: DemoConfig):
    with pytest.raises(ValueError):
        generate_demo_stream(config)


def test_default_start_is_utc():
    assert DemoConfig().start.tzinfo is UTC
