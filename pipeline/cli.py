"""The `user-insights` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import orjson
from pydantic import ValidationError

from pipeline.errors import UserInsightsError
from pipeline.logging_setup import configure_logging
from pipeline.settings import Settings

log = logging.getLogger("user_insights.cli")

Command = Callable[[argparse.Namespace, Settings], int]


def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.worker import run_worker

    return run_worker(settings)


def _cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.api_only import run_api

    return run_api(settings)


def _cmd_produce(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.produce import read_lines, record_key, send_records
    from pipeline.topics import ensure_topics

    path = Path(args.file)
    if not path.is_file():
        raise UserInsightsError(f"file {str(path)!r} does not exist; pass a file of records")
    topic = args.topic or settings.events_topic
    records = [(record_key(line), line) for line in read_lines(path)]

    async def produce() -> int:
        await ensure_topics(settings, [topic])
        return await send_records(settings.kafka_bootstrap_servers, topic, records)

    sent = asyncio.run(produce())
    print(f"sent {sent} records to {topic}")
    return 0


def _cmd_init_schema(args: argparse.Namespace, settings: Settings) -> int:
    from sinks.clickhouse import connect, create_schema, redact_dsn

    cluster = settings.clickhouse_cluster
    client = connect(settings.resolved_clickhouse_dsn, cluster=cluster)
    create_schema(client, settings.clickhouse_database, cluster)
    print(f"schema ready in {redact_dsn(settings.resolved_clickhouse_dsn)}")
    return 0


def _cmd_create_topics(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.topics import ensure_topics, project_topics

    asyncio.run(ensure_topics(settings))
    print("topics ready: " + ", ".join(project_topics(settings)))
    return 0


def _cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.local_reads import read_user_stats
    from pipeline.render import render_user_stats

    since = date.fromisoformat(args.since) if args.since else None
    until = date.fromisoformat(args.until) if args.until else None
    stats = read_user_stats(settings, args.user_id, since=since, until=until)
    if args.json:
        print(orjson.dumps(stats.as_cli_json()).decode())
    else:
        print(render_user_stats(stats))
    return 0


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.demo import run_demo

    return run_demo(settings, users=args.users, seed=args.seed, timeout_s=args.timeout_s)


def _cmd_import_users(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.directory_cli import (
        import_users_file,
        mask_report_phones,
        render_import,
        write_error_report,
    )

    report = import_users_file(settings, Path(args.file), partial=args.partial)
    if not args.show_phone:
        report = mask_report_phones(report)
    if args.report:
        write_error_report(Path(args.report), report)
    if args.json:
        print(orjson.dumps(report).decode())
    else:
        print(render_import(report, show_phone=args.show_phone))
    return 0 if report["imported"] else 1


def _cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.directory_cli import find_users, mask_results, render_search

    page = find_users(
        settings, args.query, limit=args.limit, offset=args.offset, show_phone=args.show_phone
    )
    results = mask_results(page, show_phone=args.show_phone)
    if args.json:
        print(orjson.dumps(results).decode())
    else:
        print(render_search(args.query, page, results))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="user-insights",
        description="Per-user notification insights: Kafka events deduplicated into ClickHouse. "
        "Settings come from USER_INSIGHTS_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("worker", help="run the faust worker: agents, sink and HTTP API")

    sub.add_parser("api", help="serve the HTTP API only (for a ClickHouse server deployment)")

    produce = sub.add_parser("produce", help="send each line of FILE as one record value")
    produce.add_argument("file", help="file with one record value per line")
    produce.add_argument("--topic", help="topic to send to (default: the events topic)")

    sub.add_parser("init-schema", help="create the ClickHouse database and tables if missing")
    sub.add_parser("create-topics", help="create the Kafka topics if missing")

    stats = sub.add_parser("stats", help="print one user's unique counts and rates")
    stats.add_argument("user_id")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.add_argument("--since", help="first day to count, YYYY-MM-DD (UTC)")
    stats.add_argument("--until", help="last day to count, YYYY-MM-DD (UTC)")

    imports = sub.add_parser("import-users", help="import users from a CSV file")
    imports.add_argument("file", help="CSV with user_id and phone_number columns (nickname optional)")
    imports.add_argument(
        "--partial", action="store_true", help="import the valid rows even if some are invalid"
    )
    imports.add_argument("--report", help="write the row errors to this CSV file")
    imports.add_argument("--json", action="store_true", help="print the result as one JSON object")
    imports.add_argument(
        "--show-phone",
        action="store_true",
        help="show phone numbers unmasked in the output and in the --report file",
    )

    search = sub.add_parser("search", help="find users by user ID or nickname")
    search.add_argument("query")
    search.add_argument("--json", action="store_true", help="print a JSON list of users")
    search.add_argument("--show-phone", action="store_true", help="show full phone numbers")
    search.add_argument("--limit", type=int, default=20, help="results per page")
    search.add_argument("--offset", type=int, default=0, help="results to skip")

    demo = sub.add_parser("demo", help="stream a realistic demo through the pipeline")
    demo.add_argument("--users", type=int, default=3000, help="number of demo users")
    demo.add_argument("--seed", type=int, default=20261204, help="random seed of the stream")
    demo.add_argument(
        "--timeout-s", type=float, default=300.0, help="time to wait for storage, in seconds"
    )
    return parser


COMMANDS: dict[str, Command] = {
    "worker": _cmd_worker,
    "api": _cmd_api,
    "produce": _cmd_produce,
    "init-schema": _cmd_init_schema,
    "create-topics": _cmd_create_topics,
    "stats": _cmd_stats,
    "demo": _cmd_demo,
    "import-users": _cmd_import_users,
    "search": _cmd_search,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"error: invalid settings: {exc}", file=sys.stderr)
        return 2

    configure_logging(settings.log_level, settings.log_format)
    try:
        return COMMANDS[args.command](args, settings)
    except UserInsightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
