"""Build docs/benchmarks.md from benchmarks/results.json.

Everything in the doc is generated except the block between the ANALYSIS markers, which
holds the hand-written reading of the results and is kept as it is when the doc is rebuilt.
"""

from __future__ import annotations

import os
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import Any

ANALYSIS_BEGIN = "<!-- analysis:begin (hand-written; kept when the doc is regenerated) -->"
ANALYSIS_END = "<!-- analysis:end -->"
PACKAGES = (
    "faust-streaming",
    "aiokafka",
    "chdb",
    "clickhouse-connect",
    "phonenumbers",
    "rocksdict",
    "orjson",
    "pydantic",
)
ORDER = ("throughput", "delay", "stats", "search", "import", "memory", "scaling")


def environment(kafka_version: str) -> dict[str, Any]:
    """Return the machine, Python, package and broker versions of this run."""
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "kafka": kafka_version,
    }


def _met(value: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "–"}[value]


def _ratio(value: float) -> str:
    if value != value:  # NaN
        return "–"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def results_table(rows: dict[str, Any]) -> str:
    lines = [
        "| benchmark | figure | baseline (same run) | ratio | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    for row in _ordered(rows):
        lines.append(
            f"| {row['title']} | {row['figure_text']} | {row['baseline_text']} | "
            f"{_ratio(row['ratio'])} | {row['target']} | {_met(row['met'])} |"
        )
    return "\n".join(lines)


def _ordered(rows: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(
        rows.values(),
        key=lambda r: (ORDER.index(r["benchmark"]) if r["benchmark"] in ORDER else 99, r["key"]),
    )


def runs_table(runs: dict[str, Any]) -> str:
    lines = [
        "| benchmark | measured at | mode | 1-min load before → after | command |",
        "|---|---|---|---|---|",
    ]
    for name in (*ORDER, "profile"):
        run = runs.get(name)
        if run is None:
            continue
        before, after = run["load_average_before_after"]
        lines.append(
            f"| {name} | {run['measured_at']} | {run['mode']} | {before} → {after} "
            f"| `{run['command']}` |"
        )
    return "\n".join(lines)


def environment_section(env: dict[str, Any]) -> str:
    packages = ", ".join(f"{name} {version}" for name, version in env["packages"].items())
    return (
        f"- CPU: {env['cpu_model']} (from /proc/cpuinfo), {env['cores']} cores, "
        f"{env['ram_gib']} GiB RAM, "
        f"Linux {env['kernel']}\n"
        f"- Python {env['python']}; {packages}\n"
        f"- Kafka {env['kafka']} on 127.0.0.1, one broker, replication factor 1"
    )


def _raw(stored: dict[str, Any], name: str) -> dict[str, Any] | None:
    run = stored["runs"].get(name)
    return None if run is None else run["raw"]


def _quantiles(measured: dict[str, Any], name: str, prefix: str) -> dict[str, str]:
    summary = measured.get(name)
    if summary is None:
        return {f"{prefix}_p50": "n/a", f"{prefix}_p99": "n/a"}
    return {f"{prefix}_{q}": f"{summary[f'{q}_ms']:,.1f} ms" for q in ("p50", "p99")}


def _cycle(delay: dict[str, Any], quantile: str) -> str:
    cycle = delay.get("poll_cycle")
    return "n/a" if not cycle else f"{cycle[quantile]:,.0f} ms"


THROUGHPUT_METHOD = """
{records:,} records of the seeded demo stream (`pipeline/demo_stream.py`: duplicates from
several devices and provider retries, about 0.2% invalid records) are produced to a new topic
with 4 partitions before the worker starts. One `python -m pipeline.cli worker` subprocess then
runs with the product defaults (batch 5,000 rows, flush interval 1 s, RocksDB dedup store,
embedded ClickHouse in its own data folder); only topics, app id, data folder and port are the
run's own. The figure is the records produced divided by the time from the first `GET /readyz`
that answers ready to the first consumer-lag reading of 0 (`pipeline.topics.consumer_lag`,
polled every 0.25 s), so every record was validated, deduplicated, stored and its offset
committed. The lag at ready was {lag_at_ready:,}, so no record was committed before the clock
started. The worker's CPU time (utime + stime from /proc) over the same interval gives the
records per CPU-second, which depends less on other load on the machine. Baseline: a bare
aiokafka consumer in the benchmark process, assigned to the same partitions under a new group,
reads the same {baseline_records:,} records from the start and only decodes each value with
`orjson.loads`. A second row shows the framework's ceiling: a faust app with the worker's
faust settings and an agent that only decodes each value (`benchmarks/faust_ceiling.py`, its
own process and group), timed from its first record to its last.
"""

DELAY_METHOD = """
On the same worker, right after the throughput phase, a producer sends new demo records at
{target_rate:,.0f} records/s (half the measured throughput; achieved {achieved_rate:,.0f}/s)
for {produce_s:.0f} s. Every 0.5 s it also sends a marker: a `sent` event of a user id that
occurs nowhere else ({markers} markers, all ids with one prefix). A marker's delay runs from
just before the producer's `send` to the first response of `GET /api/v1/users/search?q=PREFIX`
whose summary counts it, since that search returns every marker's totals from the stats table
in one query. One poller sends that request while markers are pending, then sleeps 25 ms, so
the polling load stays at one query at a time. The delay is taken when the counting response
arrives, so it can be too long by up to one polling cycle (p50 cycle {cycle_p50}, p99
{cycle_p99}). Baseline: `GET /api/v1/users/{{id}}/stats` for a user stored earlier, every
100 ms during the same load, which is the API round trip alone.
"""

STORAGE_METHOD = """
One embedded ClickHouse (chDB) database in a child process. {event_rows:,} event rows
({messages:,} messages) are generated by `INSERT INTO notification_events SELECT … FROM
numbers(…)` in chunks of 2,000,000 messages (`benchmarks/storage.py`), so the materialized view
fills `user_event_stats` ({stats_rows:,} rows) as the pipeline's inserts do. Each message is a
`sent` row and a `delivered` or `failed` row, plus `viewed` and `clicked` rows at per-channel
rates. Channels are push 35%, AlimTalk 20%, in-app 15%, email 15%, SMS 10% and WhatsApp 5%,
and times spread over 90 days. 10% of messages go to every 100th user, so 1% of users have
about ten times the typical history. {users:,} user profiles with nicknames in Hangul, Latin,
full-width Latin, accented Latin, kana, Han and Cyrillic are inserted in Python batches built by
`directory.store.user_row`, so `nickname_search` is the project's own normalised form. Before
timing, the run waits until no background merge runs and each table has at most 20 active
parts (at most 900 s; it waited {merge_wait_s:.0f} s, active parts then: {parts}), then for the
1-minute load average to fall below `--quiet-load` (it was {load:.2f} when timing started). In
this bulk load every part contains rows of nearly every user, so every part adds to a lookup,
while each small insert of the pipeline contains few users.
"""

STATS_METHOD = """
{lookups:,} random users (seeded, after 50 warm-up lookups) are looked up one after another in
the same process: `queries.stats.fetch_user_stats`, then `queries.messages.fetch_messages`
(first page of 50), the reads behind a user's page. Each reads the user's event rows in one
query and folds them in Python, because every sampled user has at most 1,000 event rows
(`queries.user_rows`). The sampled users have a median of {median_rows} and at most {max_rows} event rows. Baseline:
`SELECT 1` through the same clickhouse-connect client. Parts, p50 / p99: `fetch_user_stats`
{stats_p50} / {stats_p99}, `fetch_messages` {messages_p50} / {messages_p99}; the cheapest
indexed read of the same user (`SELECT count() … WHERE user_id = …`) takes {point_p50} /
{point_p99}, which is about the engine's floor for one query.
"""

SEARCH_METHOD = """
{searches:,} calls of `queries.users.search_users`: half are nickname substrings of 2 to 4
characters in any of the scripts above (a fifth of them upper-cased, so the normalisation
matters), half are user ID prefixes of 9 to 12 characters (1,000 users down to one). Each call
runs three queries: the match over all of `users` with FINAL, then the profiles and the summary
counts of the page's 20 users. Median matches: {nickname_matches:,} for nicknames,
{prefix_matches:,} for ID prefixes. Baseline: `SELECT 1` through the same client.
"""

IMPORT_METHOD = """
A {mib:.1f} MiB UTF-8 file of {rows:,} valid, distinct users (`benchmarks/csv_import.py`):
Korean mobile numbers, 70% as E.164 and 30% as `+82 10-1234-5678`, and nicknames in several
scripts. `directory.store.import_users_csv` imports it into a new, empty database of an
embedded ClickHouse in a child process; the figure is the median of {repeat} imports. Baseline:
a loop that only parses the same bytes with the `csv` module and calls `phonenumbers.parse` and
`is_valid_number` on each number, run alternately with the imports.
"""

MEMORY_METHOD = """
This measures the dedup store, not a whole worker: pushing {keys:,} keys through a worker at
the measured throughput would take hours. A child process builds the worker's dedup table with
the worker's own `create_dedup_table` ({partitions} partitions as the default
`TOPIC_PARTITIONS`, tumbling 1 h window with 2 h expiry, window-prefixed keys and the
default 256 MiB memory budget shared by all partitions), opens each partition's RocksDB
through the store's options and writes {keys:,} keys shaped like the worker's: the key
`["user\\x1fmessage\\x1fevent", [window start, end]]` as faust's json serializer encodes it,
the value the JSON list of `DedupState.to_json()` from real states of the demo stream (mean
{value_bytes:.0f} bytes, each with its own event id). Keys spread over the three live windows,
50 per user, all of a user's keys in one partition. RSS is read from /proc every {every:,} keys
and every 5 s of a further {read_s:.0f} s of random point reads ({reads:,} reads). A second
child does the same on faust's own RocksDB store with faust's default options (a 2 GiB block
cache and three 64 MiB memtables per partition) and also calls faust's
`Table._maybe_set_key_ttl` for every key, as faust does when it expires windows itself: that
is how the worker ran before it had its own store. The worker's store counts as bounded when
its RSS over the empty store stays within its memory budget plus a quarter, because its cache
fills up to the budget and then stays there; whether the size stays flat while keys expire is
the long run below. The other store counts as flat when neither the RSS slope over the second
half of the keys times the key count, nor the growth during reads, exceeds 10% of the peak. Baseline: the same process with the store open and empty. The idle worker row is a
worker started on empty topics, read 15 s after it became ready.
"""

LONGRUN_METHOD = """
A child process (`benchmarks/dedup_longrun.py`) builds the same store with a retention
(window + expiry) of {ttl_s} s (window {window_s:.0f} s, expiry {expires_s:.0f} s) and writes
new keys, each into the current window, as fast as one Python thread can, so about rate ×
retention keys are live at any time. At {restart_s:.0f} s it exits. A second process opens the
same files and restores the keys of the last retention period through the store's changelog
path, each in its original window ({restored:,} keys in {restore_s:.0f} s), as faust's
recovery does, then writes new keys until {duration_s:.0f} s. In both processes a thread
deletes the expired windows and compacts their range every half retention, as the worker's
timer does ({compactions} times). RSS, the bytes on disk and RocksDB's key estimate are sampled
every {every_s:.0f} s. At the end of each phase 5,000 sampled keys within the retention are
read back: {readable_before:.1%} before and {readable_after:.1%} after the restart were found.
The figure is the RSS range over the samples taken at least one retention period after the
start or after the restart. Flat means the RSS and the disk size at the end are each at most
10% above their maximum before the restart.
"""

SCALING_METHOD = """
For 1, 2 and 4 partitions: new topics with that many partitions, and one worker per partition
in one consumer group. Each worker has its own data folder and so its own embedded ClickHouse,
because chDB allows one process per data path; workers that share storage need a ClickHouse
server (`USER_INSIGHTS_CLICKHOUSE_DSN=http://…`). The workers start together on the empty
topics; once all are ready and the group has settled for 5 s, {records:,} demo records are
produced as fast as the producer can, and the rate is the records divided by the time from the
first send to consumer lag 0. So no rebalance falls into the timed interval, and every
configuration is timed alike. If the group stalls (lag unchanged for 180 s), the attempt is
recorded and repeated once on new topics with the workers started one after another.
"""


def _paragraph(title: str, template: str, **values: Any) -> str:
    """Return a level-3 section whose body is `template` filled in and joined to one line."""
    return f"### {title}\n\n" + " ".join(template.format(**values).split())


def _quantiles(measured: dict[str, Any], name: str, prefix: str) -> dict[str, str]:
    summary = measured.get(name)
    if summary is None:
        return {f"{prefix}_p50": "n/a", f"{prefix}_p99": "n/a"}
    return {f"{prefix}_{q}": f"{summary[f'{q}_ms']:,.1f} ms" for q in ("p50", "p99")}


def _cycle(delay: dict[str, Any], quantile: str) -> str:
    cycle = delay.get("poll_cycle")
    return "n/a" if not cycle else f"{cycle[quantile]:,.0f} ms"


def method_section(stored: dict[str, Any]) -> str:
    """Return one paragraph per benchmark, with the sizes of the stored run filled in."""
    parts = []

    throughput = _raw(stored, "throughput")
    if throughput:
        parts.append(
            _paragraph(
                "Pipeline throughput",
                THROUGHPUT_METHOD,
                records=throughput["records"],
                lag_at_ready=throughput["lag_at_ready"],
                baseline_records=throughput["baseline"]["records"],
            )
        )

    delay = _raw(stored, "delay")
    if delay:
        parts.append(
            _paragraph(
                "End-to-end delay",
                DELAY_METHOD,
                target_rate=delay["target_rate_per_s"],
                achieved_rate=delay["achieved_rate_per_s"],
                produce_s=delay["produce_s"],
                markers=delay["markers"],
                cycle_p50=_cycle(delay, "p50_ms"),
                cycle_p99=_cycle(delay, "p99_ms"),
            )
        )

    storage = _raw(stored, "stats") or _raw(stored, "search")
    if storage:
        events = storage["events"]
        parts.append(
            _paragraph(
                "Storage data for stats and search",
                STORAGE_METHOD,
                event_rows=events["event_rows"],
                messages=events["messages"],
                stats_rows=events["user_event_stats_rows"],
                users=storage["users"]["users"],
                parts=storage["active_parts"],
                merge_wait_s=storage["merge_wait_s"],
                load=storage.get("load_before_timing", float("nan")),
            )
        )

    stats = _raw(stored, "stats")
    if stats and "stats" in stats:
        sampled = stats["stats"]["event_rows_of_sampled_users"]
        parts.append(
            _paragraph(
                "User stats lookup",
                STATS_METHOD,
                lookups=stats["stats"]["lookup"]["count"],
                median_rows=sampled["median"],
                max_rows=sampled["max"],
                **_quantiles(stats["stats"], "fetch_user_stats", "stats"),
                **_quantiles(stats["stats"], "fetch_messages", "messages"),
                **_quantiles(stats["stats"], "point_read", "point"),
            )
        )

    search = _raw(stored, "search")
    if search and "search" in search:
        matches = search["search"]["median_matches"]
        parts.append(
            _paragraph(
                "User search",
                SEARCH_METHOD,
                searches=search["search"]["search"]["count"],
                nickname_matches=matches["nickname"],
                prefix_matches=matches["user_id_prefix"],
            )
        )

    imported = _raw(stored, "import")
    if imported:
        parts.append(
            _paragraph(
                "CSV import",
                IMPORT_METHOD,
                mib=imported["file_bytes"] / 2**20,
                rows=imported["rows"],
                repeat=len(imported["import_s"]),
            )
        )

    memory = _raw(stored, "memory")
    if memory:
        store = memory["store"]
        parts.append(
            _paragraph(
                "Memory",
                MEMORY_METHOD,
                keys=store["keys"],
                partitions=store["partitions"],
                value_bytes=store["mean_value_bytes"],
                every=store["write_samples"][1]["keys"],
                read_s=store["read_seconds"],
                reads=store["reads"],
            )
        )
    longrun = _raw(stored, "longrun")
    if longrun:
        parts.append(
            _paragraph(
                "Dedup store over a long run",
                LONGRUN_METHOD,
                ttl_s=longrun["ttl_s"],
                window_s=longrun["ttl_s"] / 3,
                expires_s=2 * longrun["ttl_s"] / 3,
                duration_s=longrun["duration_s"],
                restart_s=longrun["restart_at_s"],
                restored=longrun["restored_keys"],
                compactions=len(longrun.get("compactions", [])),
                readable_before=longrun.get("readable_before_restart", float("nan")),
                readable_after=longrun.get("readable_after_restart", float("nan")),
                restore_s=longrun["restore_s"],
                every_s=longrun["samples"][1]["elapsed_s"] - longrun["samples"][0]["elapsed_s"],
            )
        )

    scaling = _raw(stored, "scaling")
    if scaling:
        parts.append(
            _paragraph(
                "Throughput scaling",
                SCALING_METHOD,
                records=scaling["configurations"][0]["records"],
            )
        )
    return "\n\n".join(parts)


def profile_section(stored: dict[str, Any]) -> str:
    profile = _raw(stored, "profile")
    if not profile:
        return "No profile was recorded yet: run `python -m benchmarks.run --only profile`."
    summary = profile["summary"]
    lines = [
        f"Command: `{profile['command']}` on the throughput worker while it drained a backlog of "
        f"{profile['records']:,} records (lag after the recording: "
        f"{profile['lag_after_recording']:,}, so it was busy throughout). Raw stacks: "
        f"`{profile['raw_file']}`; `python -m benchmarks.report` rebuilds this summary from "
        f"them. py-spy samples each thread at 100 Hz: {summary['total_samples']:,} samples.",
        "",
        "| thread | samples | waiting (idle) | busy |",
        "|---|---|---|---|",
    ]
    for kind, thread in summary["threads"].items():
        waiting = thread["waiting_samples"]
        share = 100 * waiting / thread["samples"] if thread["samples"] else 0
        lines.append(
            f"| {kind} | {thread['samples']:,} | {waiting:,} ({share:.0f}%) "
            f"| {thread['busy_samples']:,} |"
        )

    lines += [
        "",
        "Tasks of the event loop thread, as a share of its busy samples (each task inclusive):",
        "",
        "| task | share |",
        "|---|---|",
    ]
    for task, share in summary["main_thread_tasks"]:
        lines.append(f"| `{task}` | {share:.1f}% |")

    for parent, items in summary["breakdowns"].items():
        lines += ["", f"Inside `{parent}`, as a share of the event loop's busy samples:", ""]
        lines += ["| callee | share |", "|---|---|"]
        for child, share in items:
            lines.append(f"| `{child}` | {share:.1f}% |")

    lines += [
        "",
        "Named frames (inclusive), as a share of the busy samples of their thread:",
        "",
        "| what | frame | thread | share |",
        "|---|---|---|---|",
    ]
    for item in summary["named_frames"]:
        lines.append(
            f"| {item['label']} | `{item['frame']}` | {item['thread']} "
            f"| {item['share_of_busy']:.1f}% |"
        )
    return "\n".join(lines)


def missed_section(rows: dict[str, Any]) -> str:
    missed = [r for r in _ordered(rows) if r["met"] is False]
    if not missed:
        return "Every target with a figure was met."
    return "\n".join(f"- {r['title']}: {r['figure_text']}; target {r['target']}." for r in missed)


DEFAULT_ANALYSIS = "No analysis written yet."


def _existing_analysis(path: Path) -> str:
    if not path.exists():
        return DEFAULT_ANALYSIS
    match = re.search(
        re.escape(ANALYSIS_BEGIN) + r"\n(.*?)\n" + re.escape(ANALYSIS_END), path.read_text(), re.S
    )
    return match.group(1).strip() if match else DEFAULT_ANALYSIS


def write_doc(path: Path, stored: dict[str, Any]) -> None:
    """Write the doc from the stored results, keeping the hand-written analysis block."""
    analysis = _existing_analysis(path)
    rows = stored["rows"]
    names = ", ".join(f"`{name}`" for name in (*ORDER[:-1], "profile", "scaling"))
    text = f"""# Benchmarks

How fast user-insights is on one small machine, each figure next to a baseline measured in the
same run on the same machine. The numbers and tables below are written by the benchmark
runner from `benchmarks/results.json`; only the analysis section is written by hand.

```bash
python -m benchmarks.run                 # full sizes, about an hour on 2 cores
python -m benchmarks.run --quick         # small sizes, for development
python -m benchmarks.run --only stats search --bootstrap 127.0.0.1:9092
```

Benchmarks: {names}. The runner lowers
its own priority to nice 10 (its workers and child processes inherit it), waits before each
benchmark for the 1-minute load average to fall below 2.5 (at most 300 s by default; see
`--quiet-load` and `--quiet-wait-s`), and records the load before and after
each benchmark. It needs a Kafka broker (`--bootstrap`, default 127.0.0.1:9092, the broker of `deploy/kafka-local.sh`), creates its
own topics under a unique prefix and deletes them at the end. Data comes from fixed seeds.
Nothing asserts on time.

## Results

{results_table(rows)}

Ratio is figure / baseline. Shared machine: other engineers ran tests during these runs, so
look at the load averages below before comparing runs.

## Runs

{runs_table(stored["runs"])}

## Machine and versions

{environment_section(stored["environment"])}

## Method

{method_section(stored)}

## Where the worker's time goes

{profile_section(stored)}

## Targets not met

{missed_section(rows)}

## Analysis

{ANALYSIS_BEGIN}
{analysis}
{ANALYSIS_END}
"""
    path.write_text(text)


def main() -> None:
    """Rebuild docs/benchmarks.md from benchmarks/results.json without running anything.

    The profile summary is computed again from the kept raw py-spy file, so a change to
    `benchmarks/profile_summary.py` shows without a new recording.
    """
    import json

    from benchmarks.common import REPO_ROOT
    from benchmarks.profile_summary import summarise

    results_path = REPO_ROOT / "benchmarks" / "results.json"
    stored = json.loads(results_path.read_text())
    profile = stored["runs"].get("profile")
    if profile is not None:
        raw_file = REPO_ROOT / profile["raw"]["raw_file"]
        profile["raw"]["summary"] = summarise(raw_file)
        results_path.write_text(json.dumps(stored, indent=2, default=str) + "\n")
    write_doc(REPO_ROOT / "docs" / "benchmarks.md", stored)


if __name__ == "__main__":
    main()
