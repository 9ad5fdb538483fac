"""User stats lookup and user search on embedded ClickHouse with generated data.

Run as a child process (`python -m benchmarks.storage`), because chDB allows one data path
per process. The events are generated in SQL with one ``INSERT … SELECT … FROM numbers(…)``
per chunk straight into `notification_events`, so the materialized view fills
`user_event_stats` as the pipeline's inserts do. The users are built in Python with
`directory.store.user_row`, so `nickname_search` is the project's own normalised form.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import latency_summary_ms, load_average, log, rss_bytes, write_json

DATABASE = "bench"
EVENT_INSERT_CHUNK_MESSAGES = 2_000_000

# Shares of messages per channel, in percent, and the lifecycle rates of the generator.
# They follow the demo stream (pipeline/demo_stream.py): most failures on push, few views
# reported by SMS and AlimTalk.
CHANNEL_SHARES = (
    ("push", 35),
    ("alimtalk", 20),
    ("inapp", 15),
    ("email", 15),
    ("sms", 10),
    ("whatsapp", 5),
)
FAILURE_PERCENT = {"push": 8, "inapp": 8, "sms": 3, "alimtalk": 3, "whatsapp": 3, "email": 5}
VIEW_PERCENT = {"push": 40, "inapp": 40, "sms": 15, "alimtalk": 15, "whatsapp": 40, "email": 40}
CLICK_PERCENT = 10  # of delivered messages, with or without a reported view
HEAVY_USER_MESSAGE_PERCENT = 10  # share of messages that go to the heaviest 1% of users
DAYS = 90
TEMPLATES = (
    "order_shipped",
    "coupon_expiring",
    "weekly_digest",
    "cart_reminder",
    "flash_sale",
    "login_alert",
    "review_request",
    "payment_failed",
)


def expected_events_per_message() -> float:
    """Return the mean number of event rows one generated message produces."""
    total = 0.0
    for channel, share in CHANNEL_SHARES:
        delivered = 1 - FAILURE_PERCENT[channel] / 100
        views = delivered * VIEW_PERCENT[channel] / 100
        clicks = delivered * CLICK_PERCENT / 100
        total += share / 100 * (2 + views + clicks)  # sent, then delivered or failed
    return total


def _channel_expression(hash_expression: str) -> str:
    """Return SQL that picks a channel by CHANNEL_SHARES from a hash."""
    branches = []
    cumulative = 0
    for channel, share in CHANNEL_SHARES[:-1]:
        cumulative += share
        branches.append(f"{hash_expression} % 100 < {cumulative}, '{channel}'")
    return f"multiIf({', '.join(branches)}, '{CHANNEL_SHARES[-1][0]}')"


def _per_channel(mapping: dict[str, int]) -> str:
    """Return SQL that looks up a per-channel percentage for the `channel` column."""
    keys = ", ".join(f"'{c}'" for c in mapping)
    values = ", ".join(str(v) for v in mapping.values())
    return f"transform(channel, [{keys}], [{values}], 0)"


def events_insert_sql(
    database: str, *, users: int, first_message: int, messages: int, seed: int
) -> str:
    """Return one INSERT … SELECT that generates the event rows of `messages` messages.

    Each message is four candidate rows (number % 4): sent; delivered or failed; viewed;
    clicked. The WHERE clause keeps the viewed and clicked rows at the channel's rates, so a
    message has 2 to 4 rows (`expected_events_per_message`). 10% of messages go to every
    100th user, so 1% of users have about ten times the typical history. Times spread
    over DAYS days. All randomness is `cityHash64` of the message number and the seed.
    """
    heavy_users = max(1, users // 100)
    template_keys = ", ".join(f"'{t}'" for t in TEMPLATES)
    from sinks.clickhouse import EVENT_COLUMNS

    return f"""
INSERT INTO {database}.notification_events ({", ".join(EVENT_COLUMNS)})
SELECT
    user_id, message_id, event, channel,
    event_at, event_at AS first_occurred_at, event_at AS last_occurred_at,
    event_at + toIntervalMillisecond(150 + h4 % 2000) AS received_at,
    reports, devices, event_id, device_id,
    template_key, template_version, content_title, content_body, content_variables,
    action_button, action_url, failure_code, failure_detail,
    'notification-events' AS source_topic, toUInt32(h4 % 8) AS source_partition,
    number AS source_offset
FROM
(
    SELECT
        number,
        intDiv(number, 4) AS m,
        number % 4 AS slot,
        cityHash64(m, {seed}) AS h1,
        cityHash64(m, {seed}, 1) AS h2,
        cityHash64(m, {seed}, 2) AS h3,
        cityHash64(number, {seed}, 3) AS h4,
        if(h2 % 100 < {HEAVY_USER_MESSAGE_PERCENT},
           (h1 % {heavy_users}) * 100 % {users},
           h1 % {users}) AS user_number,
        concat('user-', leftPad(toString(user_number), 7, '0')) AS user_id,
        concat('msg-', hex(cityHash64(m, {seed}, 4))) AS message_id,
        {_channel_expression("h2")} AS channel,
        intDiv(h3, 100) % 100 < {_per_channel(FAILURE_PERCENT)} AS failed,
        intDiv(h3, 10000) % 100 < {_per_channel(VIEW_PERCENT)} AS viewed,
        intDiv(h3, 1000000) % 100 < {CLICK_PERCENT} AS clicked,
        multiIf(slot = 0, 'sent', slot = 1, if(failed, 'failed', 'delivered'),
                slot = 2, 'viewed', 'clicked') AS event,
        toDateTime64('2026-08-01 00:00:00', 3, 'UTC')
            + toIntervalMillisecond(h1 % {DAYS * 86_400_000}) AS sent_at,
        sent_at + toIntervalMillisecond(multiIf(
            slot = 0, 0,
            slot = 1, 500 + h4 % 30000,
            slot = 2, 60000 + h4 % 21600000,
            120000 + h4 % 28800000)) AS event_at,
        toUInt32(if(slot = 0, 1, 1 + h4 % 3)) AS reports,
        toUInt16(if(channel IN ('push', 'inapp'), 1 + h4 % 2, 0)) AS devices,
        lower(hex(cityHash64(number, {seed}, 5))) AS event_id,
        if(channel IN ('push', 'inapp'),
           concat('android-', lower(hex(h1 % 281474976710656))), '') AS device_id,
        arrayElement([{template_keys}], 1 + h1 % {len(TEMPLATES)}) AS template_key,
        if(slot = 0, toString(1 + h1 % 9), '') AS template_version,
        toString(h4 % 10000000) AS order_number,
        toString(1 + h4 % 5) AS days,
        if(slot = 0, concat('Order ', order_number, ' for ', user_id, ' has shipped'), '')
            AS content_title,
        if(slot = 0, concat('Your parcel left the warehouse and arrives in ', days,
                            ' days. Track it in the app, order ', order_number, '.'), '')
            AS content_body,
        if(slot = 0, concat('{{"order_id":"', order_number, '","days":', days, '}}'), '')
            AS content_variables,
        if(slot = 3, 'Track order', '') AS action_button,
        if(slot = 3, concat('https://shop.example.com/orders/', order_number), '') AS action_url,
        if(event = 'failed', 'carrier_rejected', '') AS failure_code,
        if(event = 'failed', 'carrier rejected the message', '') AS failure_detail
    FROM numbers({first_message * 4}, {messages * 4})
)
WHERE slot < 2 OR (NOT failed AND ((slot = 2 AND viewed) OR (slot = 3 AND clicked)))
SETTINGS max_threads = 2, max_insert_threads = 1
"""


def generate_events(
    client: Any, database: str, *, users: int, events: int, seed: int
) -> dict[str, Any]:
    """Insert about `events` generated event rows in chunks and return counts and timings."""
    messages = round(events / expected_events_per_message())
    started_s = time.perf_counter()
    for first in range(0, messages, EVENT_INSERT_CHUNK_MESSAGES):
        count = min(EVENT_INSERT_CHUNK_MESSAGES, messages - first)
        client.command(
            events_insert_sql(database, users=users, first_message=first, messages=count, seed=seed)
        )
        log(f"storage: inserted messages {first + count:,}/{messages:,}")
    insert_s = time.perf_counter() - started_s
    stored = int(client.command(f"SELECT count() FROM {database}.notification_events"))
    stats_rows = int(client.command(f"SELECT count() FROM {database}.user_event_stats"))
    users_with_events = int(
        client.command(f"SELECT uniqExact(user_id) FROM {database}.user_event_stats")
    )
    return {
        "messages": messages,
        "event_rows": stored,
        "user_event_stats_rows": stats_rows,
        "users_with_events": users_with_events,
        "insert_s": insert_s,
    }


# Nickname parts in several scripts. Each user gets a given name and a suffix, so
# substrings match a realistic share of users rather than all or none.
NICKNAME_PARTS: dict[str, tuple[str, ...]] = {
    "hangul": (
        "민지",
        "서준",
        "지우",
        "하은",
        "도윤",
        "서연",
        "예준",
        "지호",
        "하늘",
        "별빛",
        "바다",
        "사랑",
    ),
    "latin": ("Star", "Minji", "Sky", "Luna", "Blue", "Happy", "Tiger", "Coffee", "Moon", "Rose"),
    "latin_fullwidth": ("ＳＴＡＲ", "ＬＵＮＡ", "ＳＫＹ", "ＭＯＯＮ"),
    "accented": ("Éclair", "Straße", "Zoë", "Chloé", "José", "Ångström"),
    "kana": ("さくら", "ひかり", "ユキ", "ハナ", "ソラ", "ミク"),
    "han": ("王芳", "李娜", "张伟", "小龙", "美玲"),
    "cyrillic": ("Наташа", "Иван", "Ольга", "Саша"),
}
SCRIPT_WEIGHTS = (
    ("hangul", 50),
    ("latin", 25),
    ("latin_fullwidth", 3),
    ("accented", 7),
    ("kana", 7),
    ("han", 5),
    ("cyrillic", 3),
)


def nickname_for(rng: random.Random) -> tuple[str, str]:
    """Return a nickname and the script its main part is written in."""
    scripts = [s for s, _ in SCRIPT_WEIGHTS]
    weights = [w for _, w in SCRIPT_WEIGHTS]
    script = rng.choices(scripts, weights)[0]
    part = rng.choice(NICKNAME_PARTS[script])
    shape = rng.randrange(3)
    if shape == 0:
        return f"{part}{rng.randrange(10_000)}", script
    if shape == 1:
        return f"{part}_{rng.choice(NICKNAME_PARTS[rng.choice(scripts)])}", script
    return f"{rng.choice(('the', 'mr', 'ms', '꼬마', 'ちび'))}{part}", script


def generate_users(client: Any, database: str, *, users: int, seed: int) -> dict[str, Any]:
    """Insert `users` profiles built by `directory.store.user_row` (normalised search column)."""
    from directory.store import insert_user_rows, user_row

    rng = random.Random(seed)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    started_s = time.perf_counter()
    chunk: list[tuple[Any, ...]] = []
    chunk_rows = 100_000
    for number in range(users):
        nickname, _script = nickname_for(rng)
        phone = f"+8210{20_000_000 + number:08d}"
        chunk.append(user_row(f"user-{number:07d}", phone, nickname, source="csv", updated_at=now))
        if len(chunk) == chunk_rows:
            insert_user_rows(client, database, chunk, token=f"bench-users-{number}")
            chunk.clear()
            log(f"storage: inserted users {number + 1:,}/{users:,}")
    if chunk:
        insert_user_rows(client, database, chunk, token="bench-users-last")
    return {"users": users, "insert_s": time.perf_counter() - started_s}


def wait_for_merges(client: Any, database: str, *, max_wait_s: float) -> dict[str, int]:
    """Wait until no merge runs and each table has at most 20 active parts, or time out.

    Returns the active part count per table at the end. A freshly loaded table has many
    small parts; production tables are merged by the same background process. The merges of
    a bulk load of this size run for minutes and take both cores, so timing during them would
    measure the load, not the queries.
    """
    deadline = time.monotonic() + max_wait_s
    while True:
        rows = client.query(
            f"SELECT table, count() FROM system.parts WHERE database = '{database}' AND active "
            "GROUP BY table"
        ).result_rows
        parts = {table: int(count) for table, count in rows}
        merges = int(
            client.command(f"SELECT count() FROM system.merges WHERE database = '{database}'")
        )
        settled = merges == 0 and all(count <= 20 for count in parts.values())
        if settled or time.monotonic() > deadline:
            return parts
        time.sleep(2)


def wait_for_quiet(threshold: float, max_wait_s: float) -> float:
    """Wait until the 1-minute load average is below `threshold`; return the load then.

    The runner waits like this before it starts a benchmark, but the data load takes minutes,
    so the timed reads wait again.
    """
    deadline = time.monotonic() + max_wait_s
    load = load_average()[0]
    while load >= threshold and time.monotonic() < deadline:
        time.sleep(5)
        load = load_average()[0]
    return load


def time_calls(function: Any, arguments: list[Any]) -> list[float]:
    """Call `function(argument)` for each argument and return each call's seconds."""
    samples = []
    for argument in arguments:
        started_s = time.perf_counter()
        function(argument)
        samples.append(time.perf_counter() - started_s)
    return samples


def select_one_samples(client: Any, count: int) -> list[float]:
    """Time `SELECT 1` round trips through the same client, the baseline of both reads."""
    return time_calls(lambda _: client.query("SELECT 1").result_rows, list(range(count)))


def bench_stats_lookup(
    client: Any, database: str, *, users: int, lookups: int, seed: int
) -> dict[str, Any]:
    """Time `fetch_user_stats` plus the first page of `fetch_messages` for random users.

    Each part is also timed on its own, and so is the cheapest indexed read of the same user
    (`SELECT count() … WHERE user_id = …`), which shows the engine's floor per query.
    """
    from queries.messages import fetch_messages
    from queries.stats import fetch_user_stats

    rng = random.Random(seed)
    user_ids = [f"user-{rng.randrange(users):07d}" for _ in range(lookups)]
    point_read_sql = (
        f"SELECT count() FROM {database}.notification_events WHERE user_id = {{u:String}}"
    )

    for user_id in user_ids[:50]:  # warm-up: the first reads load marks and caches
        fetch_user_stats(client, database, user_id)
        fetch_messages(client, database, user_id)

    lookup: list[float] = []
    stats_part: list[float] = []
    messages_part: list[float] = []
    point_reads: list[float] = []
    for user_id in user_ids:
        started_s = time.perf_counter()
        fetch_user_stats(client, database, user_id)
        middle_s = time.perf_counter()
        fetch_messages(client, database, user_id)
        ended_s = time.perf_counter()
        client.query(point_read_sql, parameters={"u": user_id})
        point_reads.append(time.perf_counter() - ended_s)
        lookup.append(ended_s - started_s)
        stats_part.append(middle_s - started_s)
        messages_part.append(ended_s - middle_s)

    rows = client.query(
        f"SELECT count() FROM {database}.notification_events "
        "WHERE user_id IN {ids:Array(String)} GROUP BY user_id",
        parameters={"ids": user_ids},
    ).result_rows
    per_user = sorted(int(r[0]) for r in rows)
    return {
        "lookup": latency_summary_ms(lookup),
        "fetch_user_stats": latency_summary_ms(stats_part),
        "fetch_messages": latency_summary_ms(messages_part),
        "point_read": latency_summary_ms(point_reads),
        "select_one": latency_summary_ms(select_one_samples(client, lookups)),
        "event_rows_of_sampled_users": {
            "median": per_user[len(per_user) // 2] if per_user else 0,
            "max": per_user[-1] if per_user else 0,
        },
    }


def search_queries(rng: random.Random, users: int, count: int) -> list[tuple[str, str]]:
    """Return (kind, query) pairs: half nickname substrings, half user ID prefixes.

    Nickname queries are 2-4 character substrings of a nickname part in any script, some
    in upper case or full width so that the normalisation matters. ID prefixes are 9 to 12
    characters of `user-NNNNNNN`, matching 1,000 users down to one.
    """
    parts = [p for values in NICKNAME_PARTS.values() for p in values]
    queries: list[tuple[str, str]] = []
    for index in range(count):
        if index % 2 == 0:
            part = rng.choice(parts)
            length = min(len(part), rng.randint(2, 4))
            start = rng.randrange(len(part) - length + 1)
            text = part[start : start + length]
            if rng.random() < 0.2:
                text = text.upper()
            queries.append(("nickname", text))
        else:
            user_id = f"user-{rng.randrange(users):07d}"
            queries.append(("user_id_prefix", user_id[: rng.randint(9, 12)]))
    return queries


def bench_search(
    client: Any, database: str, *, users: int, searches: int, seed: int
) -> dict[str, Any]:
    """Time `search_users` for nickname substrings and user ID prefixes."""
    from queries.users import search_users

    rng = random.Random(seed)
    queries = search_queries(rng, users, searches)
    for _, text in queries[:20]:
        search_users(client, database, text)

    by_kind: dict[str, list[float]] = {"nickname": [], "user_id_prefix": []}
    totals: dict[str, list[int]] = {"nickname": [], "user_id_prefix": []}
    samples = []
    for kind, text in queries:
        started_s = time.perf_counter()
        found = search_users(client, database, text)
        elapsed_s = time.perf_counter() - started_s
        samples.append(elapsed_s)
        by_kind[kind].append(elapsed_s)
        totals[kind].append(int(found["total"]))
        if len(samples) % 100 == 0:
            log(f"storage: {len(samples):,}/{len(queries):,} searches")
    return {
        "search": latency_summary_ms(samples),
        "by_kind": {kind: latency_summary_ms(values) for kind, values in by_kind.items()},
        "median_matches": {kind: sorted(t)[len(t) // 2] for kind, t in totals.items()},
        "select_one": latency_summary_ms(select_one_samples(client, searches)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="fresh chDB data path")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--events", type=int, required=True, help="approximate event rows")
    parser.add_argument("--lookups", type=int, default=1000, help="users looked up (stats)")
    parser.add_argument("--searches", type=int, default=1000, help="search queries")
    parser.add_argument("--run", action="append", choices=("stats", "search"), required=True)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument(
        "--merge-wait-s",
        type=float,
        default=900.0,
        help="maximum wait for background merges before timing, in seconds",
    )
    parser.add_argument(
        "--quiet-load",
        type=float,
        default=2.5,
        help="before timing, wait until the 1-minute load average is below this",
    )
    parser.add_argument(
        "--quiet-wait-s",
        type=float,
        default=300.0,
        help="maximum wait for --quiet-load before timing, in seconds",
    )
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()

    from sinks.clickhouse import connect, create_schema

    client = connect(f"chdb://{args.data_dir.resolve()}", query_timeout_s=600)
    create_schema(client, DATABASE)
    result: dict[str, Any] = {"rss_start_bytes": rss_bytes()}
    result["events"] = generate_events(
        client, DATABASE, users=args.users, events=args.events, seed=args.seed
    )
    result["users"] = generate_users(client, DATABASE, users=args.users, seed=args.seed)
    merge_started_s = time.perf_counter()
    result["active_parts"] = wait_for_merges(client, DATABASE, max_wait_s=args.merge_wait_s)
    result["merge_wait_s"] = time.perf_counter() - merge_started_s
    log(f"storage: data ready {result['events']} parts={result['active_parts']}")
    result["load_before_timing"] = wait_for_quiet(args.quiet_load, args.quiet_wait_s)

    if "stats" in args.run:
        result["stats"] = bench_stats_lookup(
            client, DATABASE, users=args.users, lookups=args.lookups, seed=args.seed + 1
        )
        log(f"storage: stats {result['stats']['lookup']}")
    if "search" in args.run:
        result["search"] = bench_search(
            client, DATABASE, users=args.users, searches=args.searches, seed=args.seed + 2
        )
        log(f"storage: search {result['search']['search']}")
    result["rss_end_bytes"] = rss_bytes()
    write_json(args.output, result)


if __name__ == "__main__":
    main()
