"""User search on the embedded ClickHouse: ranking, nickname normalisation, literal IDs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from agents.dedup import RecordPosition, merge_report
from directory.deletion import delete_user
from directory.store import import_users_csv
from queries.users import search_users
from schemas.events import NotificationEvent
from sinks.clickhouse import EventWriter, build_event_row

OCCURRED_AT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
NO_EVENTS = {"sent": 0, "delivered": 0, "viewed": 0, "clicked": 0, "failed": 0}

MIXED_SCRIPT_NICKNAMES = {
    "n-1": "ЗВЕЗДА_7",
    "n-2": "Straße-Fan",
    "n-3": "ÉCLAIR99",
    "n-4": "ＳＴＡＲ",
    "n-5": "하늘별",
    "n-6": "ゆめ",
}


def phone(index: int) -> str:
    """Return the distinct valid Korean mobile number +8210 followed by `index` as 8 digits."""
    return f"+8210{index:08d}"


def import_users(client, database: str, users: list[tuple[str, str]]) -> None:
    """Import (user_id, nickname) pairs, each with its own phone number, and fail on a row error."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["user_id", "phone_number", "nickname"])
    for index, (user_id, nickname) in enumerate(users):
        writer.writerow([user_id, phone(index), nickname])

    report = import_users_csv(client, database, buffer.getvalue().encode(), partial=False)

    assert report.errors == []
    assert report.imported is True


def insert_events(client, database: str, events: list[tuple[str, str, str, str]]) -> None:
    """Store (user_id, message_id, event, channel) events as the dedup agent would."""
    rows = []
    for offset, (user_id, message_id, event_type, channel) in enumerate(events):
        event = NotificationEvent(
            event=event_type,
            user_id=user_id,
            message_id=message_id,
            channel=channel,
            occurred_at=OCCURRED_AT,
        )
        position = RecordPosition("events", 0, offset, int(OCCURRED_AT.timestamp() * 1000))
        state, _ = merge_report(None, event, position)
        rows.append(build_event_row(event, state, position))
    EventWriter(client, database).insert(rows, token=f"events-{rows[0][0]}-{len(rows)}")


def found(page: dict) -> list[tuple[str, str]]:
    return [(result["user_id"], result["match"]) for result in page["results"]]


@pytest.fixture
def mixed_script_users(chdb_client, clickhouse_db) -> None:
    import_users(chdb_client, clickhouse_db, list(MIXED_SCRIPT_NICKNAMES.items()))


# Nickname normalisation.


@pytest.mark.parametrize(
    ("query", "nickname"),
    [
        ("звезда", "ЗВЕЗДА_7"),
        ("éclair", "ÉCLAIR99"),
        ("e\u0301clair", "ÉCLAIR99"),
        ("star", "ＳＴＡＲ"),
        ("하늘", "하늘별"),
        ("ゆ", "ゆめ"),
        ("STRASSE", "Straße-Fan"),
        ("straße", "Straße-Fan"),
        ("STRAẞE", "Straße-Fan"),
    ],
)
def test_normalised_nickname_found(chdb_client, clickhouse_db, mixed_script_users, query, nickname):
    page = search_users(chdb_client, clickhouse_db, query)

    assert [result["nickname"] for result in page["results"]] == [nickname]
    assert page["results"][0]["match"] == "nickname"
    assert page["total"] == 1


@pytest.mark.parametrize("query", ["звезда_8", "stars", "하늘별!", "ゆめゆめ", "strasse-fan-club"])
def test_near_nickname_not_found(chdb_client, clickhouse_db, mixed_script_users, query):
    page = search_users(chdb_client, clickhouse_db, query)

    assert page == {"total": 0, "results": []}


def test_nickname_result_fields(chdb_client, clickhouse_db, mixed_script_users):
    page = search_users(chdb_client, clickhouse_db, "하늘")

    assert page["results"] == [
        {
            "user_id": "n-5",
            "nickname": "하늘별",
            "phone_number": phone(4),
            "match": "nickname",
            "summary": NO_EVENTS,
            "last_event_at": None,
        }
    ]


# Ranking and literal user IDs.


def test_exact_id_prefix_nickname_order(chdb_client, clickhouse_db):
    import_users(
        chdb_client,
        clickhouse_db,
        [
            ("u-9", "ＳＴＡＲ"),
            ("star-2", ""),
            ("u-8", "Superstar"),
            ("star", "x"),
            ("star-1", "Star"),
            ("my-star", ""),
        ],
    )

    page = search_users(chdb_client, clickhouse_db, "star")

    assert found(page) == [
        ("star", "user_id"),
        ("star-1", "user_id_prefix"),
        ("star-2", "user_id_prefix"),
        ("u-8", "nickname"),
        ("u-9", "nickname"),
    ]
    assert page["total"] == 5


def test_underscore_matches_literally(chdb_client, clickhouse_db):
    import_users(chdb_client, clickhouse_db, [("a_b.c", ""), ("aXb.c", "")])

    page = search_users(chdb_client, clickhouse_db, "a_b")

    assert found(page) == [("a_b.c", "user_id_prefix")]


@pytest.mark.parametrize("query", ["%", "a%", "\\", "\\\\", "a_b%", "_", "a.b"])
def test_wildcards_find_nothing(chdb_client, clickhouse_db, query):
    import_users(chdb_client, clickhouse_db, [("a_b.c", ""), ("aXb.c", "")])

    page = search_users(chdb_client, clickhouse_db, query)

    assert page == {"total": 0, "results": []}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("%", ["p.1"]),
        ("50%", ["p.1"]),
        ("50_off", []),
        ("x_o", ["p.2"]),
        ("\\", ["p.3"]),
        ("\\\\", []),
        ("c:\\d", ["p.3"]),
    ],
)
def test_nickname_wildcards_literal(chdb_client, clickhouse_db, query, expected):
    import_users(
        chdb_client, clickhouse_db, [("p.1", "50%off"), ("p.2", "50x_off"), ("p.3", "c:\\dir")]
    )

    page = search_users(chdb_client, clickhouse_db, query)

    assert [result["user_id"] for result in page["results"]] == expected


def test_user_ids_case_sensitive(chdb_client, clickhouse_db):
    import_users(chdb_client, clickhouse_db, [("U-7001", ""), ("u-7001", "")])

    assert found(search_users(chdb_client, clickhouse_db, "U-7001")) == [("U-7001", "user_id")]
    assert found(search_users(chdb_client, clickhouse_db, "u-7001")) == [("u-7001", "user_id")]
    assert found(search_users(chdb_client, clickhouse_db, "U-")) == [("U-7001", "user_id_prefix")]
    assert found(search_users(chdb_client, clickhouse_db, "u-")) == [("u-7001", "user_id_prefix")]


def test_query_trimmed_before_matching(chdb_client, clickhouse_db):
    import_users(chdb_client, clickhouse_db, [("t-1", "")])

    page = search_users(chdb_client, clickhouse_db, "  t-1\t")

    assert found(page) == [("t-1", "user_id")]


# Pagination.


@pytest.mark.parametrize(
    ("limit", "offset", "expected_ids"),
    [
        (10, 0, [f"pg-{index:02d}" for index in range(10)]),
        (10, 10, [f"pg-{index:02d}" for index in range(10, 20)]),
        (10, 20, [f"pg-{index:02d}" for index in range(20, 25)]),
        (1, 24, ["pg-24"]),
        (10, 25, []),
        (10, 100, []),
    ],
)
def test_pagination_pages_and_total(chdb_client, clickhouse_db, limit, offset, expected_ids):
    import_users(chdb_client, clickhouse_db, [(f"pg-{index:02d}", "") for index in range(25)])

    page = search_users(chdb_client, clickhouse_db, "pg-", limit=limit, offset=offset)

    assert [result["user_id"] for result in page["results"]] == expected_ids
    assert page["total"] == 25


# Blank and hostile queries.


@pytest.mark.parametrize("query", ["", " ", "\t\n", "\u3000"])
def test_blank_query_finds_nothing(chdb_client, clickhouse_db, query):
    import_users(chdb_client, clickhouse_db, [("b-1", "Blank")])

    page = search_users(chdb_client, clickhouse_db, query)

    assert page == {"total": 0, "results": []}


@pytest.mark.parametrize(
    "query",
    [
        "'",
        "' OR 1=1 --",
        "'); DROP TABLE users; --",
        '" OR ""="',
        "\\'",
        "{q:String}",
        "x" * 200,
        "가" * 200,
        "😀",
        "👨‍👩‍👧",
        "\u202e",
        "\x00",
        "a\x00b",
        "\x1b[31m",
    ],
)
def test_hostile_query_finds_nothing(chdb_client, clickhouse_db, query):
    import_users(chdb_client, clickhouse_db, [("h-1", "Kim")])

    page = search_users(chdb_client, clickhouse_db, query)

    assert page == {"total": 0, "results": []}
    assert found(search_users(chdb_client, clickhouse_db, "h-1")) == [("h-1", "user_id")]


def test_quotes_in_nickname_found(chdb_client, clickhouse_db):
    import_users(chdb_client, clickhouse_db, [("q-1", 'it\'s "quoted"'), ("q-2", "plain")])

    for query in ("'", '"', "it's", '"quoted"'):
        assert found(search_users(chdb_client, clickhouse_db, query)) == [("q-1", "nickname")]


# Users known from events.


def test_event_only_user_found(chdb_client, clickhouse_db):
    insert_events(
        chdb_client,
        clickhouse_db,
        [
            ("ev-1", "m-1", "sent", "push"),
            ("ev-1", "m-1", "delivered", "push"),
            ("ev-1", "m-1", "clicked", "push"),
            ("ev-1", "m-2", "sent", "sms"),
            ("ev-1", "m-2", "failed", "sms"),
        ],
    )

    page = search_users(chdb_client, clickhouse_db, "ev-1")

    assert page["total"] == 1
    result = page["results"][0]
    assert result["user_id"] == "ev-1"
    assert result["match"] == "user_id"
    assert result["nickname"] is None
    assert result["phone_number"] is None
    assert result["summary"] == {"sent": 2, "delivered": 1, "viewed": 0, "clicked": 1, "failed": 1}


def test_event_only_user_by_prefix(chdb_client, clickhouse_db):
    insert_events(chdb_client, clickhouse_db, [("ev-2", "m-1", "delivered", "push")])

    assert found(search_users(chdb_client, clickhouse_db, "ev-")) == [("ev-2", "user_id_prefix")]
    assert found(search_users(chdb_client, clickhouse_db, "EV-2")) == []


def test_imported_user_summary_counts(chdb_client, clickhouse_db):
    import_users(chdb_client, clickhouse_db, [("s-1", "Summer"), ("s-2", "Autumn")])
    events = [
        ("s-1", "m-1", "sent", "push"),
        ("s-1", "m-1", "delivered", "push"),
        ("s-1", "m-1", "viewed", "push"),
        ("s-1", "m-2", "sent", "sms"),
        ("s-1", "m-2", "delivered", "sms"),
    ]
    insert_events(chdb_client, clickhouse_db, events)
    insert_events(chdb_client, clickhouse_db, events[:2])

    by_nickname = search_users(chdb_client, clickhouse_db, "summer")
    by_id = search_users(chdb_client, clickhouse_db, "s-1")

    expected = {"sent": 2, "delivered": 2, "viewed": 1, "clicked": 0, "failed": 0}
    assert found(by_nickname) == [("s-1", "nickname")]
    assert by_nickname["results"][0]["summary"] == expected
    assert found(by_id) == [("s-1", "user_id")]
    assert by_id["results"][0]["summary"] == expected
    assert by_id["results"][0]["phone_number"] == phone(0)
    assert search_users(chdb_client, clickhouse_db, "autumn")["results"][0]["summary"] == NO_EVENTS


# Profile versions and deletions.


def test_changed_nickname_not_found(chdb_client, clickhouse_db):
    # With merges stopped, both versions stay in separate parts, so only the read picks one.
    chdb_client.command(f"SYSTEM STOP MERGES {clickhouse_db}.users")
    import_users(chdb_client, clickhouse_db, [("v-1", "Marigold")])
    import_users(chdb_client, clickhouse_db, [("v-1", "Tulip")])

    by_old = search_users(chdb_client, clickhouse_db, "marigold")
    by_new = search_users(chdb_client, clickhouse_db, "tulip")
    by_id = search_users(chdb_client, clickhouse_db, "v-1")

    assert by_old == {"total": 0, "results": []}
    assert found(by_new) == [("v-1", "nickname")]
    assert [result["nickname"] for result in by_id["results"]] == ["Tulip"]
    assert by_id["total"] == 1


def test_deleted_user_not_found(chdb_client, clickhouse_db):
    import_users(chdb_client, clickhouse_db, [("d-1", "Violet"), ("d-2", "Violetta")])
    insert_events(chdb_client, clickhouse_db, [("d-1", "m-1", "sent", "push")])

    delete_user(chdb_client, clickhouse_db, "d-1")

    assert found(search_users(chdb_client, clickhouse_db, "violet")) == [("d-2", "nickname")]
    assert search_users(chdb_client, clickhouse_db, "d-1") == {"total": 0, "results": []}
    assert found(search_users(chdb_client, clickhouse_db, "d-")) == [("d-2", "user_id_prefix")]


def test_profile_and_event_only_by_prefix(chdb_client, clickhouse_db):
    import_users(chdb_client, clickhouse_db, [("mx-1", "Maple")])
    insert_events(
        chdb_client,
        clickhouse_db,
        [("mx-1", "m-1", "sent", "push"), ("mx-2", "m-2", "sent", "sms")],
    )

    page = search_users(chdb_client, clickhouse_db, "mx-")

    assert found(page) == [("mx-1", "user_id_prefix"), ("mx-2", "user_id_prefix")]
    assert page["total"] == 2
    assert [result["nickname"] for result in page["results"]] == ["Maple", None]
    assert page["results"][0]["phone_number"] == phone(0)
    assert page["results"][1]["phone_number"] is None
    assert [result["summary"]["sent"] for result in page["results"]] == [1, 1]
