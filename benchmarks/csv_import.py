"""CSV import of users through `import_users_csv` against a bare parse-and-validate loop.

Run as a child process (`python -m benchmarks.csv_import`), because the import writes to an
embedded ClickHouse path of its own. Each repetition imports into a new, empty database, so
every run creates all users instead of updating them.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import statistics
import time
from pathlib import Path
from typing import Any

import phonenumbers

from benchmarks.common import log, write_json
from benchmarks.storage import nickname_for


def build_csv(rows: int, seed: int) -> bytes:
    """Return a UTF-8 CSV file of `rows` valid, distinct users with Korean mobile numbers.

    Numbers are +82 10 followed by 2000 0000 to 4999 9999 in a seeded order, 70% written
    as E.164 and 30% in the spaced and dashed form people type (``+82 10-2345-6789``).
    """
    rng = random.Random(seed)
    subscribers = rng.sample(range(20_000_000, 50_000_000), rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["user_id", "phone_number", "nickname"])
    for number, subscriber in enumerate(subscribers):
        digits = f"{subscriber:08d}"
        spaced = rng.random() >= 0.7
        phone = f"+82 10-{digits[:4]}-{digits[4:]}" if spaced else f"+8210{digits}"
        nickname, _script = nickname_for(rng)
        writer.writerow([f"user-{number:07d}", phone, nickname])
    return buffer.getvalue().encode("utf-8")


def bare_parse_and_validate(data: bytes) -> int:
    """Parse the CSV with the csv module and validate each number with phonenumbers.

    This is the minimum any import must do. Returns the count of valid numbers.
    """
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    next(reader)
    valid = 0
    for _user_id, phone, _nickname in reader:
        number = phonenumbers.parse(phone, None)
        if phonenumbers.is_valid_number(number):
            valid += 1
    return valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="fresh chDB data path")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()

    from directory.store import import_users_csv
    from sinks.clickhouse import connect, create_schema

    data = build_csv(args.rows, args.seed)
    client = connect(f"chdb://{args.data_dir.resolve()}", query_timeout_s=600)

    baseline_s: list[float] = []
    import_s: list[float] = []
    import_cpu_s: list[float] = []
    baseline_cpu_s: list[float] = []
    reports: list[dict[str, Any]] = []
    # Alternate the two, so a change in machine load affects both alike.
    for repetition in range(args.repeat):
        started_s, started_cpu = time.perf_counter(), time.process_time()
        valid = bare_parse_and_validate(data)
        baseline_s.append(time.perf_counter() - started_s)
        baseline_cpu_s.append(time.process_time() - started_cpu)
        if valid != args.rows:
            raise RuntimeError(f"the generated file has {args.rows - valid} invalid numbers")

        database = f"bench_import_{repetition}"
        create_schema(client, database)
        started_s, started_cpu = time.perf_counter(), time.process_time()
        report = import_users_csv(client, database, data, partial=False)
        import_s.append(time.perf_counter() - started_s)
        import_cpu_s.append(time.process_time() - started_cpu)
        stored = int(client.command(f"SELECT count() FROM {database}.users"))
        reports.append({"created": report.created, "errors": len(report.errors), "stored": stored})
        log(
            f"import: repetition {repetition}: import {import_s[-1]:.2f} s, "
            f"bare loop {baseline_s[-1]:.2f} s"
        )

    write_json(
        args.output,
        {
            "rows": args.rows,
            "file_bytes": len(data),
            "import_s": import_s,
            "baseline_s": baseline_s,
            "import_cpu_s": import_cpu_s,
            "baseline_cpu_s": baseline_cpu_s,
            "import_median_s": statistics.median(import_s),
            "baseline_median_s": statistics.median(baseline_s),
            "reports": reports,
        },
    )


if __name__ == "__main__":
    main()
