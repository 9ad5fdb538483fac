"""Profile changes on the profiles topic, applied by a real worker to the users table."""

from __future__ import annotations

import base64
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tests.support.kafka import consumer_lag, produce, read_all
from tests.support.workers import WorkerFactory, WorkerProcess, wait_until

pytestmark = pytest.mark.integration

NO_EVENTS = {"sent": 0, "delivered": 0, "viewed": 0, "clicked": 0, "failed": 0}
APPLY_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def profiles(kafka_bootstrap, tmp_path_factory) -> Iterator[tuple[WorkerFactory, WorkerProcess]]:
    """One worker on its own topics, shared by the tests of this module."""
    factory = WorkerFactory(
        kafka_bootstrap, tmp_path_factory.mktemp("profiles"), uuid.uuid4().hex[:10]
    )
    try:
        yield factory, factory.start("profiles")
    finally:
        factory.stop_all()


def send(kafka_bootstrap: str, factory: WorkerFactory, changes: list[dict[str, Any]]) -> None:
    """Produce profile changes in order, keyed by their user_id."""
    records = [(change["user_id"].encode(), orjson.dumps(change), None) for change in changes]
    produce(kafka_bootstrap, factory.profiles_topic, records)


def profile(worker: WorkerProcess, user_id: str) -> tuple[int, Any]:
    return worker.request("GET", f"/api/v1/users/{user_id}?show_phone=true")


def wait_for_profile(worker: WorkerProcess, user_id: str, **expected: Any) -> dict[str, Any]:
    """Wait until the profile of `user_id` has every field in `expected`, then return it."""

    def matches() -> dict[str, Any] | None:
        status, body = profile(worker, user_id)
        if status == 200 and all(body[name] == value for name, value in expected.items()):
            return body
        return None

    return wait_until(
        matches, timeout_s=APPLY_TIMEOUT_S, what=f"profile of {user_id} with {expected}"
    )


def search(worker: WorkerProcess, query: str) -> dict[str, Any]:
    return worker.get("/api/v1/users/search?" + urllib.parse.urlencode({"q": query}))


def dead_letters(
    kafka_bootstrap: str, factory: WorkerFactory, keys: set[bytes]
) -> dict[bytes, Any]:
    """Wait for a dead-letter record of each of `keys` and return the envelopes by key."""

    def read() -> dict[bytes, Any] | None:
        records = read_all(kafka_bootstrap, factory.dead_letter_topic, expected=1_000, timeout_s=2)
        envelopes = {
            record.key: orjson.loads(record.value) for record in records if record.key in keys
        }
        return envelopes if set(envelopes) == keys else None

    return wait_until(read, timeout_s=APPLY_TIMEOUT_S, what=f"dead letters for {sorted(keys)}")


def test_upsert_creates_profile(profiles, kafka_bootstrap):
    factory, worker = profiles
    send(
        kafka_bootstrap,
        factory,
        [
            {
                "op": "upsert",
                "user_id": "pf-1",
                "nickname": "Nimbus",
                "phone_number": "+82 10-2000-0001",
                "updated_at": "2026-03-01T10:00:00+09:00",
            }
        ],
    )

    wait_until(
        lambda: search(worker, "nimbus")["total"] == 1, timeout_s=APPLY_TIMEOUT_S, what="pf-1"
    )
    result = search(worker, "nimbus")["results"][0]
    _, stored = profile(worker, "pf-1")

    assert result["user_id"] == "pf-1"
    assert result["match"] == "nickname"
    assert result["phone_number"] == "+82********01"
    assert stored["phone_number"] == "+821020000001"
    assert stored["has_profile"] is True


def test_phone_only_upsert_keeps_nickname(profiles, kafka_bootstrap):
    factory, worker = profiles
    send(
        kafka_bootstrap,
        factory,
        [
            {
                "op": "upsert",
                "user_id": "pf-2",
                "nickname": "Cirrus",
                "phone_number": "+821020000002",
            }
        ],
    )
    wait_for_profile(worker, "pf-2", nickname="Cirrus")

    send(
        kafka_bootstrap,
        factory,
        [{"op": "upsert", "user_id": "pf-2", "phone_number": "+821020000022"}],
    )
    stored = wait_for_profile(worker, "pf-2", phone_number="+821020000022")

    assert stored["nickname"] == "Cirrus"


def test_nickname_only_upsert_keeps_phone(profiles, kafka_bootstrap):
    factory, worker = profiles
    send(
        kafka_bootstrap,
        factory,
        [{"op": "upsert", "user_id": "pf-3", "nickname": "Alto", "phone_number": "+821020000003"}],
    )
    wait_for_profile(worker, "pf-3", nickname="Alto")

    send(kafka_bootstrap, factory, [{"op": "upsert", "user_id": "pf-3", "nickname": "Altostratus"}])
    stored = wait_for_profile(worker, "pf-3", nickname="Altostratus")

    assert stored["phone_number"] == "+821020000003"
    assert search(worker, "altostratus")["total"] == 1


def test_upserts_in_one_batch_merge(profiles, kafka_bootstrap):
    factory, worker = profiles
    send(
        kafka_bootstrap,
        factory,
        [
            {
                "op": "upsert",
                "user_id": "pf-4",
                "nickname": "Lenticular",
                "phone_number": "+821020000004",
            },
            {"op": "upsert", "user_id": "pf-4", "phone_number": "+821020000044"},
        ],
    )

    stored = wait_for_profile(worker, "pf-4", phone_number="+821020000044")

    assert stored["nickname"] == "Lenticular"


def test_delete_removes_profile(profiles, kafka_bootstrap):
    factory, worker = profiles
    send(
        kafka_bootstrap,
        factory,
        [
            {
                "op": "upsert",
                "user_id": "pf-5",
                "nickname": "Nacreous",
                "phone_number": "+821020000005",
            }
        ],
    )
    wait_for_profile(worker, "pf-5", nickname="Nacreous")

    send(kafka_bootstrap, factory, [{"op": "delete", "user_id": "pf-5"}])
    wait_until(
        lambda: profile(worker, "pf-5")[0] == 404, timeout_s=APPLY_TIMEOUT_S, what="pf-5 deleted"
    )

    assert search(worker, "nacreous") == {
        "query": "nacreous",
        "limit": 20,
        "offset": 0,
        "total": 0,
        "results": [],
    }
    assert search(worker, "pf-5")["total"] == 0


def test_delete_then_upsert_fresh(profiles, kafka_bootstrap):
    factory, worker = profiles
    send(
        kafka_bootstrap,
        factory,
        [{"op": "upsert", "user_id": "pf-6", "nickname": "Old", "phone_number": "+821020000006"}],
    )
    wait_for_profile(worker, "pf-6", nickname="Old")

    send(
        kafka_bootstrap,
        factory,
        [
            {"op": "delete", "user_id": "pf-6"},
            {"op": "upsert", "user_id": "pf-6", "phone_number": "+821020000066"},
        ],
    )
    stored = wait_for_profile(worker, "pf-6", phone_number="+821020000066")

    assert stored["nickname"] is None
    assert stored["has_profile"] is True


def test_delete_erases_event_user(profiles, kafka_bootstrap):
    # A profile delete removes the user from every table (directory/deletion.py), so a user
    # whose only data were events and a profile is not found afterwards.
    factory, worker = profiles
    event = {
        "event": "delivered",
        "user_id": "pf-7",
        "message_id": "m-1",
        "channel": "push",
        "occurred_at": "2026-03-01T10:00:00Z",
    }
    produce(kafka_bootstrap, factory.events_topic, [(b"pf-7", orjson.dumps(event), None)])
    send(
        kafka_bootstrap,
        factory,
        [
            {
                "op": "upsert",
                "user_id": "pf-7",
                "nickname": "Cumulus",
                "phone_number": "+821020000007",
            }
        ],
    )
    wait_until(
        lambda: profile(worker, "pf-7")[1]["stats"]["total"]["counts"]["delivered"] == 1,
        timeout_s=APPLY_TIMEOUT_S,
        what="the event of pf-7",
    )
    wait_for_profile(worker, "pf-7", nickname="Cumulus")

    send(kafka_bootstrap, factory, [{"op": "delete", "user_id": "pf-7"}])
    wait_until(
        lambda: profile(worker, "pf-7")[0] == 404, timeout_s=APPLY_TIMEOUT_S, what="pf-7 deleted"
    )

    assert search(worker, "pf-7")["total"] == 0
    assert search(worker, "cumulus")["total"] == 0


def test_invalid_changes_dead_lettered(profiles, kafka_bootstrap):
    factory, worker = profiles
    records = [
        (
            b"bad-1",
            orjson.dumps({"op": "upsert", "user_id": "bad-1", "phone_number": "821055550001"}),
        ),
        (b"bad-2", orjson.dumps({"op": "merge", "user_id": "bad-2"})),
        (b"bad-3", b'{"op": "upsert", "user_id": "bad-3", "phone_number": "+821055550003"'),
        (b"bad-4", b""),
        (b"bad-5", orjson.dumps({"op": "upsert", "user_id": "bad 5"})),
        (b"bad-6", orjson.dumps({"user_id": "bad-6"})),
        (b"ok-1", orjson.dumps({"op": "upsert", "user_id": "ok-1", "nickname": "Survivor"})),
    ]
    produce(kafka_bootstrap, factory.profiles_topic, [(key, value, None) for key, value in records])

    envelopes = dead_letters(kafka_bootstrap, factory, {key for key, _ in records[:6]})

    assert envelopes[b"bad-1"]["field"] == "phone_number"
    assert envelopes[b"bad-1"]["reason"].startswith(
        "field 'phone_number' is invalid: phone number '**********01' is missing + and country code"
    )
    assert (
        envelopes[b"bad-2"]["reason"]
        == "field 'op' is invalid: Input should be 'upsert' or 'delete'"
    )
    assert envelopes[b"bad-3"]["reason"].startswith("record value is not a JSON object")
    assert (
        envelopes[b"bad-4"]["reason"]
        == "record value is empty; send one JSON object per profile change"
    )
    assert envelopes[b"bad-5"]["field"] == "user_id"
    assert envelopes[b"bad-6"]["reason"] == "required field 'op' is missing"
    for key, value in records[:6]:
        assert envelopes[key]["source"]["topic"] == factory.profiles_topic
        assert base64.b64decode(envelopes[key]["value_base64"]) == value
    wait_for_profile(worker, "ok-1", nickname="Survivor")


def test_dead_letters_hide_phone(profiles, kafka_bootstrap):
    factory, worker = profiles
    truncated = b'{"op": "upsert", "user_id": "hide-1", "phone_number": "+821055550009"'
    produce(kafka_bootstrap, factory.profiles_topic, [(b"hide-1", truncated, None)])

    reason = dead_letters(kafka_bootstrap, factory, {b"hide-1"})[b"hide-1"]["reason"]
    log = worker.log_path.read_text(errors="replace")

    assert reason.startswith("record value is not a JSON object (starts with ")
    assert "+**********09" in reason
    assert "821055550009" not in reason
    assert "821055550009" not in log


def test_profiles_lag_reaches_zero(profiles, kafka_bootstrap):
    factory, worker = profiles
    send(
        kafka_bootstrap,
        factory,
        [
            {"op": "upsert", "user_id": f"lag-{index}", "nickname": f"Lag {index}"}
            for index in range(8)
        ],
    )
    wait_for_profile(worker, "lag-7", nickname="Lag 7")

    def lag_is_zero() -> bool:
        lag = consumer_lag(kafka_bootstrap, factory.app_id, factory.profiles_topic)
        return bool(lag) and all(value == 0 for value in lag.values())

    wait_until(
        lag_is_zero,
        timeout_s=APPLY_TIMEOUT_S,
        interval_s=1,
        what="profiles consumer lag to reach zero",
    )
