"""Every read endpoint of the HTTP API against one worker fed with a known set of events.

The module starts one worker (max_page_size 5), produces the events below to its topic,
waits until they are stored, imports two users from a CSV file, and then checks exact
response bodies. User `alice` has six messages on five channels. User `bob` has no profile
and one delivery without a `sent` record. User `dave` has a profile and no events.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from tests.support.kafka import produce
from tests.support.workers import WorkerFactory, WorkerProcess, wait_until

pytestmark = pytest.mark.integration

MAX_PAGE_SIZE = 5
ZERO = {"sent": 0, "delivered": 0, "viewed": 0, "clicked": 0, "failed": 0}


def _event(
    user_id: str, event: str, message_id: str, channel: str, occurred_at: str, **fields: Any
) -> tuple[bytes, bytes, None]:
    value = {
        "event": event,
        "user_id": user_id,
        "message_id": message_id,
        "channel": channel,
        "occurred_at": occurred_at,
        **fields,
    }
    return (user_id.encode(), orjson.dumps(value), None)


EVENTS = [
    # m-push-1: the full lifecycle; four delivery reports from three devices; 120 s to click.
    _event(
        "alice",
        "sent",
        "m-push-1",
        "push",
        "2026-11-10T09:00:00Z",
        event_id="ev-1",
        template={"key": "welcome", "version": 3},
        content={"title": "Hello", "body": "Hi Alice", "variables": {"name": "Alice", "count": 2}},
    ),
    _event("alice", "delivered", "m-push-1", "push", "2026-11-10T09:00:05Z", device_id="d1"),
    _event("alice", "delivered", "m-push-1", "push", "2026-11-10T09:00:06Z", device_id="d2"),
    _event("alice", "delivered", "m-push-1", "push", "2026-11-10T09:00:07Z", device_id="d3"),
    _event("alice", "delivered", "m-push-1", "push", "2026-11-10T09:00:08Z", device_id="d1"),
    _event("alice", "viewed", "m-push-1", "push", "2026-11-10T09:01:00Z", device_id="d1"),
    _event(
        "alice",
        "clicked",
        "m-push-1",
        "push",
        "2026-11-10T09:02:00Z",
        device_id="d1",
        action={"button": "Open", "url": "https://example.com/welcome"},
    ),
    # m-push-2: 300 s to click.
    _event(
        "alice",
        "sent",
        "m-push-2",
        "push",
        "2026-11-11T10:00:00Z",
        template={"key": "promo", "version": "2026-11"},
        content={"title": "Sale", "body": "20% off"},
    ),
    _event("alice", "delivered", "m-push-2", "push", "2026-11-11T10:00:02Z"),
    _event(
        "alice",
        "clicked",
        "m-push-2",
        "push",
        "2026-11-11T10:05:00Z",
        action={"url": "https://example.com/sale"},
    ),
    # m-inapp-1: sent half a second before midnight, clicked 60 s later on the next day.
    _event(
        "alice",
        "sent",
        "m-inapp-1",
        "inapp",
        "2026-11-11T23:59:59.500Z",
        template={"key": "banner"},
        content={"title": "Tonight"},
    ),
    _event(
        "alice",
        "clicked",
        "m-inapp-1",
        "inapp",
        "2026-11-12T00:00:59.500Z",
        action={"button": "Dismiss"},
    ),
    # m-sms-1: failed with a reason.
    _event(
        "alice",
        "sent",
        "m-sms-1",
        "sms",
        "2026-11-12T08:00:00Z",
        template={"key": "otp", "version": 2},
        content={"body": "Your code is 123456"},
    ),
    _event(
        "alice",
        "failed",
        "m-sms-1",
        "sms",
        "2026-11-12T08:00:03Z",
        reason={"code": "carrier_rejected", "detail": "number unreachable"},
    ),
    # m-email-1: only sent.
    _event(
        "alice",
        "sent",
        "m-email-1",
        "email",
        "2026-11-13T12:00:00Z",
        template={"key": "digest", "version": 1},
        content={"title": "Your week"},
    ),
    # m-alim-1: sent, delivered, viewed, never clicked.
    _event(
        "alice",
        "sent",
        "m-alim-1",
        "alimtalk",
        "2026-11-14T06:30:00Z",
        template={"key": "order_shipped", "version": 5},
        content={"title": "Shipped"},
    ),
    _event("alice", "delivered", "m-alim-1", "alimtalk", "2026-11-14T06:30:01Z"),
    _event("alice", "viewed", "m-alim-1", "alimtalk", "2026-11-14T06:31:00Z"),
    # bob: a delivery whose `sent` record never arrived.
    _event("bob", "delivered", "m-wa-1", "whatsapp", "2026-11-15T08:00:00Z", device_id="b-phone"),
]
TOTALS = {"sent": 6, "delivered": 4, "viewed": 2, "clicked": 3, "failed": 1}
ALICE_NEWEST_FIRST = ["m-alim-1", "m-email-1", "m-sms-1", "m-inapp-1", "m-push-2", "m-push-1"]

USERS_CSV = (
    b"user_id,phone_number,nickname\n"
    b"alice,+821011112222,Alice Kim\n"
    b"dave,+821020000000,Dave\n"
)


@dataclass(frozen=True)
class LoadedApi:
    worker: WorkerProcess
    import_status: int
    import_body: Any

    def get(self, path: str) -> tuple[int, Any]:
        return self.worker.request("GET", path)


@pytest.fixture(scope="module")
def api(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedApi]:
    factory = WorkerFactory(
        kafka_bootstrap, tmp_path_factory.mktemp("api-endpoints"), uuid.uuid4().hex[:10]
    )
    try:
        worker = factory.start(max_page_size=str(MAX_PAGE_SIZE))
        produce(kafka_bootstrap, factory.events_topic, EVENTS)

        def all_stored() -> bool:
            totals = worker.get("/api/v1/totals")["unique_messages_by_event"]
            status, details = worker.request("GET", "/api/v1/users/alice/messages/m-push-1")
            if totals != TOTALS or status != 200:
                return False
            delivered = next(e for e in details["timeline"] if e["event"] == "delivered")
            return delivered["reports"] == 4

        wait_until(all_stored, timeout_s=60, what="the hand-made events to be stored")
        status, body = worker.request(
            "POST", "/api/v1/users/import", USERS_CSV, {"Content-Type": "text/csv"}
        )
        yield LoadedApi(worker, status, body)
    finally:
        factory.stop_all()


def _rate(value: float | None, numerator: str, denominator: str) -> dict[str, Any]:
    return {"value": value, "numerator": numerator, "denominator": denominator}


def _rates(delivery: float | None, view: float | None, click: float | None, failure: float | None):
    return {
        "delivery_rate": _rate(delivery, "delivered", "sent"),
        "view_rate": _rate(view, "viewed", "delivered"),
        "click_rate": _rate(click, "clicked", "delivered"),
        "failure_rate": _rate(failure, "failed", "sent"),
    }


def _message_ids(body: dict[str, Any]) -> list[str]:
    return [message["message_id"] for message in body["messages"]]


def _error_code(response: tuple[int, Any]) -> tuple[int, str]:
    status, body = response
    return status, body["error"]["code"]


# Health, totals and the user import.


def test_healthz_returns_ok(api: LoadedApi):
    assert api.get("/healthz") == (200, {"status": "ok"})


def test_readyz_reports_every_check(api: LoadedApi):
    # /readyz returns 503 while a consumer rebalance runs, so wait for a 200.
    status, body = wait_until(
        lambda: (response := api.get("/readyz"))[0] == 200 and response,
        timeout_s=30,
        what="GET /readyz to return 200",
    )

    assert status == 200
    assert body["ready"] is True
    assert body["checks"]
    assert all(body["checks"].values())


def test_totals_sum_all_users(api: LoadedApi):
    assert api.get("/api/v1/totals") == (200, {"unique_messages_by_event": TOTALS})


def test_import_creates_two_users(api: LoadedApi):
    assert api.import_status == 200
    assert api.import_body == {
        "created": 2,
        "updated": 0,
        "skipped": 0,
        "imported": True,
        "errors": [],
        "warnings": [],
    }


# Stats: counts, rates, median time to click, time ranges.


def test_stats_total_counts_and_rates(api: LoadedApi):
    status, body = api.get("/api/v1/users/alice/stats")

    assert status == 200
    assert body["user_id"] == "alice"
    total = body["total"]
    assert total["counts"] == {"sent": 6, "delivered": 3, "viewed": 2, "clicked": 3, "failed": 1}
    assert total["rates"] == _rates(0.5, 0.6667, 1.0, 0.1667)
    assert total["first_event_at"] == "2026-11-10T09:00:00Z"
    assert total["last_event_at"] == "2026-11-14T06:31:00Z"


def test_stats_median_over_three_clicks(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/stats")

    # Sent to click: 120 s (m-push-1), 300 s (m-push-2), 60 s (m-inapp-1).
    assert body["total"]["median_sent_to_click_s"] == 120.0
    assert body["total"]["clicks_timed"] == 3


def test_stats_median_of_two_clicks(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/stats")

    # An even count takes the mean of the middle two: (120 + 300) / 2.
    assert body["by_channel"]["push"]["median_sent_to_click_s"] == 210.0
    assert body["by_channel"]["push"]["clicks_timed"] == 2


def test_stats_per_channel(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/stats")
    channels = body["by_channel"]

    assert sorted(channels) == ["alimtalk", "email", "inapp", "push", "sms"]
    assert channels["push"]["counts"] == {
        **ZERO,
        "sent": 2,
        "delivered": 2,
        "viewed": 1,
        "clicked": 2,
    }
    assert channels["push"]["rates"] == _rates(1.0, 0.5, 1.0, 0.0)
    assert channels["sms"]["counts"] == {**ZERO, "sent": 1, "failed": 1}
    assert channels["sms"]["rates"] == _rates(0.0, None, None, 1.0)
    assert channels["alimtalk"]["counts"] == {**ZERO, "sent": 1, "delivered": 1, "viewed": 1}
    assert channels["alimtalk"]["median_sent_to_click_s"] is None
    assert channels["alimtalk"]["clicks_timed"] == 0
    assert channels["email"]["first_event_at"] == "2026-11-13T12:00:00Z"
    assert channels["email"]["last_event_at"] == "2026-11-13T12:00:00Z"


def test_click_rate_null_without_deliveries(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/stats")
    inapp = body["by_channel"]["inapp"]

    assert inapp["counts"] == {**ZERO, "sent": 1, "clicked": 1}
    assert inapp["rates"]["click_rate"] == _rate(None, "clicked", "delivered")
    assert inapp["rates"]["view_rate"] == _rate(None, "viewed", "delivered")
    assert inapp["median_sent_to_click_s"] == 60.0


def test_delivery_rate_null_without_sent(api: LoadedApi):
    status, body = api.get("/api/v1/users/bob/stats")

    assert status == 200
    assert body["total"]["counts"] == {**ZERO, "delivered": 1}
    assert body["total"]["rates"] == _rates(None, 0.0, 0.0, None)
    assert body["total"]["median_sent_to_click_s"] is None
    assert list(body["by_channel"]) == ["whatsapp"]


def test_stats_date_range_one_day(api: LoadedApi):
    status, body = api.get("/api/v1/users/alice/stats?since=2026-11-11&until=2026-11-11")

    assert status == 200
    total = body["total"]
    assert total["counts"] == {**ZERO, "sent": 2, "delivered": 1, "clicked": 1}
    assert total["first_event_at"] == "2026-11-11T10:00:00Z"
    assert total["last_event_at"] == "2026-11-11T23:59:59.500000Z"
    # m-inapp-1 was clicked on the next day, so only m-push-2 is timed.
    assert total["median_sent_to_click_s"] == 300.0
    assert total["clicks_timed"] == 1
    assert sorted(body["by_channel"]) == ["inapp", "push"]


def test_stats_time_range_bounds(api: LoadedApi):
    # since is inclusive (the click at 09:02:00), until exclusive (the send at 10:00:00).
    _, body = api.get(
        "/api/v1/users/alice/stats?since=2026-11-10T09:02:00Z&until=2026-11-11T10:00:00Z"
    )

    assert body["total"]["counts"] == {**ZERO, "clicked": 1}
    assert body["total"]["clicks_timed"] == 0


def test_stats_range_below_total(api: LoadedApi):
    _, everything = api.get("/api/v1/users/alice/stats")
    _, wide = api.get("/api/v1/users/alice/stats?since=2026-11-01&until=2026-11-30")
    _, later = api.get("/api/v1/users/alice/stats?since=2026-11-12")

    assert wide["total"] == everything["total"]
    assert later["total"]["counts"] == {
        "sent": 3,
        "delivered": 1,
        "viewed": 1,
        "clicked": 1,
        "failed": 1,
    }


def test_stats_unknown_user_zero(api: LoadedApi):
    status, body = api.get("/api/v1/users/nobody/stats")

    assert status == 200
    assert body["total"]["counts"] == ZERO
    assert body["total"]["first_event_at"] is None
    assert body["by_channel"] == {}


# Events and activity.


def test_events_oldest_first(api: LoadedApi):
    status, body = api.get("/api/v1/users/alice/events")

    assert status == 200
    assert body["user_id"] == "alice"
    assert [(e["message_id"], e["event"]) for e in body["events"]] == [
        ("m-push-1", "sent"),
        ("m-push-1", "delivered"),
        ("m-push-1", "viewed"),
        ("m-push-1", "clicked"),
        ("m-push-2", "sent"),
        ("m-push-2", "delivered"),
        ("m-push-2", "clicked"),
        ("m-inapp-1", "sent"),
        ("m-inapp-1", "clicked"),
        ("m-sms-1", "sent"),
        ("m-sms-1", "failed"),
        ("m-email-1", "sent"),
        ("m-alim-1", "sent"),
        ("m-alim-1", "delivered"),
        ("m-alim-1", "viewed"),
    ]


def test_events_show_dedup_counts(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/events")
    delivered = body["events"][1]

    assert delivered["reports"] == 4
    assert delivered["devices"] == 3
    assert delivered["device_id"] == "d1"
    assert delivered["first_occurred_at"] == "2026-11-10T09:00:05Z"
    assert delivered["last_occurred_at"] == "2026-11-10T09:00:08Z"


def test_events_keep_payload_columns(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/events")
    sent = body["events"][0]
    failed = body["events"][10]

    assert sent["event_id"] == "ev-1"
    assert sent["template_key"] == "welcome"
    assert sent["template_version"] == "3"
    assert sent["content_title"] == "Hello"
    assert orjson.loads(sent["content_variables"]) == {"name": "Alice", "count": 2}
    assert failed["failure_code"] == "carrier_rejected"
    assert failed["failure_detail"] == "number unreachable"


def test_activity_per_day(api: LoadedApi):
    status, body = api.get("/api/v1/users/alice/activity")

    assert status == 200
    assert body == {
        "user_id": "alice",
        "days": [
            {"day": "2026-11-10", **ZERO, "sent": 1, "delivered": 1, "viewed": 1, "clicked": 1},
            {"day": "2026-11-11", **ZERO, "sent": 2, "delivered": 1, "clicked": 1},
            {"day": "2026-11-12", **ZERO, "sent": 1, "clicked": 1, "failed": 1},
            {"day": "2026-11-13", **ZERO, "sent": 1},
            {"day": "2026-11-14", **ZERO, "sent": 1, "delivered": 1, "viewed": 1},
        ],
    }


# Message list: pages, order and filters.


def test_messages_default_page_capped(api: LoadedApi):
    status, body = api.get("/api/v1/users/alice/messages")

    assert status == 200
    assert body["total"] == 6
    assert body["limit"] == MAX_PAGE_SIZE
    assert body["offset"] == 0
    assert _message_ids(body) == ALICE_NEWEST_FIRST[:MAX_PAGE_SIZE]


def test_messages_second_page(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/messages?limit=2&offset=2")

    assert body["total"] == 6
    assert body["limit"] == 2
    assert body["offset"] == 2
    assert _message_ids(body) == ["m-sms-1", "m-inapp-1"]


def test_messages_last_partial_page(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/messages?limit=5&offset=5")

    assert body["total"] == 6
    assert _message_ids(body) == ["m-push-1"]


def test_messages_page_after_end(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/messages?offset=6")

    assert body["total"] == 6
    assert body["messages"] == []


def test_messages_pages_cover_all(api: LoadedApi):
    _, first = api.get("/api/v1/users/alice/messages?limit=4&offset=0")
    _, second = api.get("/api/v1/users/alice/messages?limit=4&offset=4")

    assert _message_ids(first) + _message_ids(second) == ALICE_NEWEST_FIRST


def test_message_summary_fields(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/messages?channel=push")

    assert body["messages"][1] == {
        "message_id": "m-push-1",
        "channel": "push",
        "first_event_at": "2026-11-10T09:00:00Z",
        "last_event_at": "2026-11-10T09:02:00Z",
        "events": ["sent", "delivered", "viewed", "clicked"],
        "template": {"key": "welcome", "version": "3"},
        "title": "Hello",
    }


def test_message_summary_without_version(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/messages?channel=inapp")

    assert body["messages"] == [
        {
            "message_id": "m-inapp-1",
            "channel": "inapp",
            "first_event_at": "2026-11-11T23:59:59.500000Z",
            "last_event_at": "2026-11-12T00:00:59.500000Z",
            "events": ["sent", "clicked"],
            "template": {"key": "banner", "version": None},
            "title": "Tonight",
        }
    ]


def test_message_summary_without_sent(api: LoadedApi):
    _, body = api.get("/api/v1/users/bob/messages")

    assert body["total"] == 1
    assert body["messages"][0]["template"] is None
    assert body["messages"][0]["title"] is None
    assert body["messages"][0]["events"] == ["delivered"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("channel=push", ["m-push-2", "m-push-1"]),
        ("channel=whatsapp", []),
        ("event=clicked", ["m-inapp-1", "m-push-2", "m-push-1"]),
        ("event=failed", ["m-sms-1"]),
        ("channel=push&event=viewed", ["m-push-1"]),
        ("since=2026-11-12", ["m-alim-1", "m-email-1", "m-sms-1"]),
        ("until=2026-11-11", ["m-inapp-1", "m-push-2", "m-push-1"]),
        ("until=2026-11-11T23:59:59.500Z", ["m-push-2", "m-push-1"]),
        ("since=2026-11-11T23:59:59.500Z", ["m-alim-1", "m-email-1", "m-sms-1", "m-inapp-1"]),
        ("since=2026-11-11T10:00:00Z&until=2026-11-11", ["m-inapp-1", "m-push-2"]),
        ("since=2026-11-14T15:30:00%2B09:00", ["m-alim-1"]),
        ("since=2026-11-14T15:30:00.001%2B09:00", []),
    ],
)
def test_messages_filters(api: LoadedApi, query: str, expected: list[str]):
    status, body = api.get(f"/api/v1/users/alice/messages?{query}")

    assert status == 200
    assert _message_ids(body) == expected
    assert body["total"] == len(expected)


def test_messages_filter_with_page(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/messages?event=clicked&limit=1&offset=1")

    assert body["total"] == 3
    assert _message_ids(body) == ["m-push-2"]


# Message details.


def test_details_full_lifecycle(api: LoadedApi):
    status, body = api.get("/api/v1/users/alice/messages/m-push-1")

    assert status == 200
    for entry in body["timeline"]:
        assert entry.pop("received_at") is not None, entry["event"]
    assert body == {
        "user_id": "alice",
        "message_id": "m-push-1",
        "channel": "push",
        "template": {"key": "welcome", "version": "3"},
        "content": {
            "title": "Hello",
            "body": "Hi Alice",
            "variables": {"name": "Alice", "count": 2},
        },
        "sent_reported": True,
        "timeline": [
            {
                "event": "sent",
                "status": "reported",
                "first_occurred_at": "2026-11-10T09:00:00Z",
                "event_at": "2026-11-10T09:00:00Z",
                "reports": 1,
                "devices": 0,
                "device_id": None,
                "event_id": "ev-1",
            },
            {
                "event": "delivered",
                "status": "reported",
                "first_occurred_at": "2026-11-10T09:00:05Z",
                "event_at": "2026-11-10T09:00:05Z",
                "reports": 4,
                "devices": 3,
                "device_id": "d1",
                "event_id": None,
            },
            {
                "event": "viewed",
                "status": "reported",
                "first_occurred_at": "2026-11-10T09:01:00Z",
                "event_at": "2026-11-10T09:01:00Z",
                "reports": 1,
                "devices": 1,
                "device_id": "d1",
                "event_id": None,
            },
            {
                "event": "clicked",
                "status": "reported",
                "first_occurred_at": "2026-11-10T09:02:00Z",
                "event_at": "2026-11-10T09:02:00Z",
                "reports": 1,
                "devices": 1,
                "device_id": "d1",
                "event_id": None,
            },
        ],
        "arrived_out_of_order": False,
        "click_action": {"button": "Open", "url": "https://example.com/welcome"},
        "failure_reason": None,
    }


def test_details_failure_reason(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/messages/m-sms-1")

    assert body["failure_reason"] == {"code": "carrier_rejected", "detail": "number unreachable"}
    assert [(e["event"], e["status"]) for e in body["timeline"]] == [
        ("sent", "reported"),
        ("failed", "reported"),
    ]
    assert body["click_action"] is None
    assert body["content"] == {"title": None, "body": "Your code is 123456", "variables": {}}


def test_details_click_url_only(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice/messages/m-push-2")

    assert body["click_action"] == {"button": None, "url": "https://example.com/sale"}
    assert body["template"] == {"key": "promo", "version": "2026-11"}


# Profiles and search, with phone masking.


def test_profile_masks_phone(api: LoadedApi):
    status, body = api.get("/api/v1/users/alice")

    assert status == 200
    assert body["user_id"] == "alice"
    assert body["nickname"] == "Alice Kim"
    assert body["phone_number"] == "+82********22"
    assert body["has_profile"] is True


def test_profile_shows_phone_on_request(api: LoadedApi):
    _, body = api.get("/api/v1/users/alice?show_phone=true")

    assert body["phone_number"] == "+821011112222"


def test_profile_stats_match_stats(api: LoadedApi):
    _, profile = api.get("/api/v1/users/alice")
    _, stats = api.get("/api/v1/users/alice/stats")

    assert profile["stats"] == stats


def test_profile_without_events(api: LoadedApi):
    status, body = api.get("/api/v1/users/dave")

    assert status == 200
    assert body["phone_number"] == "+82********00"
    assert body["has_profile"] is True
    assert body["stats"]["total"]["counts"] == ZERO
    assert body["stats"]["total"]["last_event_at"] is None


def test_profile_without_directory_entry(api: LoadedApi):
    status, body = api.get("/api/v1/users/bob")

    assert status == 200
    assert body["has_profile"] is False
    assert body["nickname"] is None
    assert body["phone_number"] is None
    assert body["stats"]["total"]["counts"] == {**ZERO, "delivered": 1}


def test_search_exact_id_masked(api: LoadedApi):
    status, body = api.get("/api/v1/users/search?q=alice")

    assert status == 200
    assert body["query"] == "alice"
    assert body["total"] == 1
    result = body["results"][0]
    assert result["user_id"] == "alice"
    assert result["match"] == "user_id"
    assert result["nickname"] == "Alice Kim"
    assert result["phone_number"] == "+82********22"
    assert result["summary"] == {"sent": 6, "delivered": 3, "viewed": 2, "clicked": 3, "failed": 1}


def test_search_shows_phone_on_request(api: LoadedApi):
    _, body = api.get("/api/v1/users/search?q=alice&show_phone=true")

    assert body["results"][0]["phone_number"] == "+821011112222"


def test_search_by_nickname(api: LoadedApi):
    _, body = api.get("/api/v1/users/search?q=kim")

    assert [(r["user_id"], r["match"]) for r in body["results"]] == [("alice", "nickname")]


def test_search_by_id_prefix(api: LoadedApi):
    _, body = api.get("/api/v1/users/search?q=da")

    assert [(r["user_id"], r["match"]) for r in body["results"]] == [("dave", "user_id_prefix")]
    assert body["results"][0]["summary"] == ZERO
    assert body["results"][0]["last_event_at"] is None


def test_search_finds_events_only_user(api: LoadedApi):
    _, body = api.get("/api/v1/users/search?q=bob")

    assert body["total"] == 1
    result = body["results"][0]
    assert result["match"] == "user_id"
    assert result["nickname"] is None
    assert result["phone_number"] is None
    assert result["summary"] == {**ZERO, "delivered": 1}


def test_search_empty_query(api: LoadedApi):
    status, body = api.get("/api/v1/users/search?q=")

    assert status == 200
    assert body["total"] == 0
    assert body["results"] == []


# Errors.


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/a!b/stats",
        "/api/v1/users/a!b/events",
        "/api/v1/users/a!b/activity",
        "/api/v1/users/a!b/messages",
        "/api/v1/users/a!b/messages/m-push-1",
        "/api/v1/users/a!b",
        "/api/v1/users/" + "u" * 81 + "/stats",
    ],
)
def test_invalid_user_id_400(api: LoadedApi, path: str):
    assert _error_code(api.get(path)) == (400, "invalid_user_id")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("channel=fax", "channel='fax' is not one of push, inapp, sms, alimtalk, whatsapp, email"),
        ("event=opened", "event='opened' is not one of sent, delivered, viewed, clicked, failed"),
        ("limit=0", "limit=0 is out of range; use 1 to 5"),
        ("limit=6", "limit=6 is out of range; use 1 to 5"),
        ("limit=two", "limit='two' is not a whole number"),
        ("offset=-1", "offset=-1 is out of range; use 0 to 10000000"),
    ],
)
def test_messages_invalid_parameter_400(api: LoadedApi, query: str, message: str):
    status, body = api.get(f"/api/v1/users/alice/messages?{query}")

    assert status == 400
    assert body == {"error": {"code": "invalid_parameter", "message": message}}


@pytest.mark.parametrize(
    "query",
    [
        "since=2026-11-12&until=2026-11-11",
        "since=2026-11-11T10:00:00Z&until=2026-11-11T10:00:00Z",
        "since=2026-11-11T10:00:01Z&until=2026-11-11T10:00:00Z",
        "since=yesterday",
        "since=2026-11-11T10:00:00",
        "until=2026-13-01",
        "until=2300-01-01T00:00:00Z",
        "since=1899-12-31T23:59:59Z",
    ],
)
@pytest.mark.parametrize("endpoint", ["stats", "messages"])
def test_invalid_time_range_400(api: LoadedApi, endpoint: str, query: str):
    assert _error_code(api.get(f"/api/v1/users/alice/{endpoint}?{query}")) == (
        400,
        "invalid_parameter",
    )


def test_one_day_range_accepted(api: LoadedApi):
    # since and until on the same date mean that whole day, so the range is not empty.
    status, body = api.get("/api/v1/users/alice/messages?since=2026-11-13&until=2026-11-13")

    assert status == 200
    assert _message_ids(body) == ["m-email-1"]


def test_message_id_too_long_400(api: LoadedApi):
    assert _error_code(api.get("/api/v1/users/alice/messages/" + "m" * 129)) == (
        400,
        "invalid_message_id",
    )


def test_message_id_max_length_404(api: LoadedApi):
    assert _error_code(api.get("/api/v1/users/alice/messages/" + "m" * 128)) == (
        404,
        "message_not_found",
    )


def test_message_id_control_char_400(api: LoadedApi):
    assert _error_code(api.get("/api/v1/users/alice/messages/m-push-1%0A")) == (
        400,
        "invalid_message_id",
    )


def test_unknown_message_404(api: LoadedApi):
    status, body = api.get("/api/v1/users/alice/messages/m-missing")

    assert status == 404
    assert body == {
        "error": {
            "code": "message_not_found",
            "message": "user 'alice' has no events for message 'm-missing'; check both ids",
        }
    }


def test_message_of_other_user_404(api: LoadedApi):
    assert _error_code(api.get("/api/v1/users/bob/messages/m-push-1")) == (404, "message_not_found")


def test_unknown_user_profile_404(api: LoadedApi):
    assert _error_code(api.get("/api/v1/users/nobody")) == (404, "user_not_found")


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v2/totals", "/nothing-here"])
def test_unknown_path_404(api: LoadedApi, path: str):
    assert _error_code(api.get(path)) == (404, "not_found")
