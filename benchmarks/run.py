"""Run the benchmarks, print each figure with its baseline and target, update docs/benchmarks.md.

    python -m benchmarks.run [--quick] [--only NAME ...] [--bootstrap host:port]

The run lowers its own CPU priority (nice 10, inherited by the workers and child processes
it starts), so engineers' test runs on the same machine keep precedence. Results are merged
into benchmarks/results.json by benchmark, so `--only` replaces only the named rows, and the
doc is rebuilt from that file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.common import REPO_ROOT, Result, load_average, log, ratio, run_child

BENCHMARKS = (
    "throughput",
    "delay",
    "profile",
    "stats",
    "search",
    "import",
    "memory",
    "longrun",
    "scaling",
)
RESULTS_PATH = REPO_ROOT / "benchmarks" / "results.json"
DOC_PATH = REPO_ROOT / "docs" / "benchmarks.md"
NICENESS = 10
# A candidate product setting for the dedup table, measured beside the defaults.
GIB = 2**30


@dataclass(frozen=True)
class Sizes:
    """Data sizes of one mode; --quick uses the small set for development runs."""

    throughput_records: int
    delay_duration_s: float
    scaling_records: int
    scaling_partitions: tuple[int, ...]
    storage_users: int
    storage_events: int
    lookups: int
    searches: int
    import_rows: int
    import_repeat: int
    memory_keys: int
    memory_sample_every: int
    memory_read_s: float
    longrun_ttl_s: int
    longrun_duration_s: float
    longrun_restart_at_s: float
    longrun_sample_every_s: float


FULL = Sizes(
    throughput_records=100_000,
    delay_duration_s=30.0,
    scaling_records=60_000,
    scaling_partitions=(1, 2, 4),
    storage_users=1_000_000,
    storage_events=50_000_000,
    lookups=1000,
    searches=600,
    import_rows=100_000,
    import_repeat=5,
    memory_keys=10_000_000,
    memory_sample_every=1_000_000,
    memory_read_s=30.0,
    longrun_ttl_s=180,
    longrun_duration_s=900.0,
    longrun_restart_at_s=450.0,
    longrun_sample_every_s=15.0,
)
QUICK = Sizes(
    throughput_records=10_000,
    delay_duration_s=10.0,
    scaling_records=8_000,
    scaling_partitions=(1, 2, 4),
    storage_users=100_000,
    storage_events=5_000_000,
    lookups=1000,
    searches=400,
    import_rows=20_000,
    import_repeat=3,
    memory_keys=1_000_000,
    memory_sample_every=100_000,
    memory_read_s=10.0,
    longrun_ttl_s=20,
    longrun_duration_s=80.0,
    longrun_restart_at_s=40.0,
    longrun_sample_every_s=5.0,
)
SEED = 20261204


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Run the user-insights benchmarks and update docs/benchmarks.md.",
    )
    parser.add_argument("--quick", action="store_true", help="small data sizes, for development")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only these: {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--bootstrap",
        default="127.0.0.1:9092",
        help="Kafka bootstrap host:port (default: %(default)s)",
    )
    parser.add_argument(
        "--kafka-version",
        default="4.0.2 (local KRaft broker)",
        help="broker version written to the doc",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="folder for data, logs and profiles (default: a new temporary folder)",
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the work folder and this run's Kafka topics"
    )
    parser.add_argument(
        "--quiet-load",
        type=float,
        default=2.5,
        help="before each benchmark, wait until the 1-minute load average is below this "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--quiet-wait-s",
        type=float,
        default=300.0,
        help="maximum wait for --quiet-load per benchmark, in seconds; then it runs anyway "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--no-doc",
        action="store_true",
        help="print results only; leave results.json and the doc alone",
    )
    return parser.parse_args(argv)


def lower_priority() -> None:
    """Raise this process's niceness to NICENESS; children inherit it."""
    current = os.nice(0)
    if current < NICENESS:
        os.nice(NICENESS - current)


def wait_for_quiet(threshold: float, max_wait_s: float) -> float:
    """Wait until the 1-minute load average drops below `threshold`; returns the load then."""
    deadline = time.monotonic() + max_wait_s
    load = load_average()[0]
    if load >= threshold:
        log(
            f"load average {load:.1f} >= {threshold}; "
            f"waiting up to {max_wait_s:.0f} s for a quieter machine"
        )
    while load >= threshold and time.monotonic() < deadline:
        time.sleep(10)
        load = load_average()[0]
    return load


class Runner:
    """Runner of the selected benchmarks, with the rows and raw measurements it collected."""

    def __init__(self, args: argparse.Namespace, command: str) -> None:
        self.args = args
        self.sizes = QUICK if args.quick else FULL
        self.command = command
        self.run_id = f"uibench-{int(time.time())}-{os.getpid()}"
        self.work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="user-insights-bench-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.rows: list[Result] = []
        self.runs: dict[str, dict[str, Any]] = {}
        self.environment: dict[str, Any] | None = None

    def selected(self, *names: str) -> bool:
        chosen = self.args.only or BENCHMARKS
        return any(name in chosen for name in names)

    def record(
        self, benchmark: str, raw: dict[str, Any], rows: list[Result], load_before: float
    ) -> None:
        load_after = load_average()[0]
        measured_at = datetime.now().astimezone().isoformat(timespec="seconds")
        for row in rows:
            row.measured_at = measured_at
            row.load_average = [round(load_before, 2), round(load_after, 2)]
        self.rows.extend(rows)
        self.runs[benchmark] = {
            "measured_at": measured_at,
            "command": self.command,
            "mode": "quick" if self.args.quick else "full",
            "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
            "raw": raw,
        }
        for row in rows:
            print_row(row)
        self.persist()

    def persist(self) -> None:
        """Merge what ran so far into results.json and rebuild the doc, unless --no-doc."""
        if self.args.no_doc:
            return
        if self.environment is None:
            self.environment = report.environment(self.args.kafka_version)
        stored = merge_results(self, self.environment)
        RESULTS_PATH.write_text(json.dumps(stored, indent=2, default=str) + "\n")
        report.write_doc(DOC_PATH, stored)

    def quiet(self) -> float:
        return wait_for_quiet(self.args.quiet_load, self.args.quiet_wait_s)

    def run(self) -> None:
        if self.selected("throughput", "delay", "profile"):
            self.run_pipeline_session()
        if self.selected("scaling"):
            self.run_scaling()
        if self.selected("memory"):
            self.run_memory()
        if self.selected("longrun"):
            self.run_longrun()
        if self.selected("stats", "search"):
            self.run_storage()
        if self.selected("import"):
            self.run_import()

    # Broker benchmarks.

    def run_pipeline_session(self) -> None:
        from benchmarks import pipeline_bench
        from benchmarks.profile_summary import summarise

        session = pipeline_bench.PipelineSession(
            self.args.bootstrap, self.work_dir / "pipeline", f"{self.run_id}-pipe"
        )
        session.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            load = self.quiet()
            throughput = pipeline_bench.run_throughput(
                session, records_count=self.sizes.throughput_records, seed=SEED
            )
            self.record("throughput", throughput, throughput_rows(throughput), load)
            rate = throughput["records_per_s"]

            if self.selected("delay"):
                load = self.quiet()
                delay = pipeline_bench.run_delay(
                    session,
                    rate_per_s=rate / 2,
                    duration_s=self.sizes.delay_duration_s,
                    seed=SEED + 100,
                )
                self.record("delay", delay, delay_rows(delay), load)

            if self.selected("profile"):
                load = self.quiet()
                output = session.work_dir / "py-spy-worker.txt"
                profile = pipeline_bench.run_profile(
                    session, rate_per_s=rate, seed=SEED + 200, output=output
                )
                profile["summary"] = summarise(output)
                kept = REPO_ROOT / "benchmarks" / "profiles"
                kept.mkdir(exist_ok=True)
                shutil.copy(output, kept / "worker-hot-path.txt")
                profile["raw_file"] = "benchmarks/profiles/worker-hot-path.txt"
                self.record("profile", profile, [], load)
        finally:
            session.close()

    def run_scaling(self) -> None:
        from benchmarks import pipeline_bench

        load = self.quiet()
        results = []
        for partitions in self.sizes.scaling_partitions:
            results.append(
                pipeline_bench.run_scaling(
                    self.args.bootstrap,
                    self.work_dir / "scaling",
                    f"{self.run_id}-scale",
                    partitions=partitions,
                    records_count=self.sizes.scaling_records,
                    seed=SEED + 300,
                )
            )
        self.record("scaling", {"configurations": results}, scaling_rows(results), load)

    # Child-process benchmarks.

    def run_memory(self) -> None:
        from benchmarks import pipeline_bench

        load = self.quiet()
        idle = pipeline_bench.run_idle_worker_rss(
            self.args.bootstrap, self.work_dir / "idle", f"{self.run_id}-idle"
        )
        stores = {}
        variants = (
            ("store", ["--store", "product"]),
            ("faust_store_and_expiry_index", ["--store", "faust-default", "--expiry-index"]),
        )
        for variant, extra in variants:
            data_dir = self.work_dir / f"dedup-{variant}"
            stores[variant] = run_child(
                "benchmarks.dedup_memory",
                [
                    "--data-dir",
                    str(data_dir),
                    "--keys",
                    str(self.sizes.memory_keys),
                    "--sample-every",
                    str(self.sizes.memory_sample_every),
                    "--read-seconds",
                    str(self.sizes.memory_read_s),
                    "--seed",
                    str(SEED),
                    *extra,
                ],
                work_dir=self.work_dir,
                timeout_s=7200,
            )
            shutil.rmtree(data_dir, ignore_errors=True)
        raw = {"idle_worker": idle, **stores}
        self.record("memory", raw, memory_rows(raw), load)

    def run_longrun(self) -> None:
        load = self.quiet()
        data_dir = self.work_dir / "dedup-longrun"
        sizes = self.sizes
        common = [
            "--data-dir",
            str(data_dir),
            "--ttl-s",
            str(sizes.longrun_ttl_s),
            "--duration-s",
            str(sizes.longrun_duration_s),
            "--restart-at-s",
            str(sizes.longrun_restart_at_s),
            "--sample-every-s",
            str(sizes.longrun_sample_every_s),
            "--seed",
            str(SEED),
        ]
        timeout_s = sizes.longrun_duration_s * 3 + 600
        first = run_child(
            "benchmarks.dedup_longrun",
            ["--phase", "first", *common],
            work_dir=self.work_dir,
            timeout_s=timeout_s,
        )
        first_path = self.work_dir / "dedup-longrun-first.json"
        first_path.write_text(json.dumps(first))
        raw = run_child(
            "benchmarks.dedup_longrun",
            ["--phase", "second", "--first-phase", str(first_path), *common],
            work_dir=self.work_dir,
            timeout_s=timeout_s,
        )
        shutil.rmtree(data_dir, ignore_errors=True)
        self.record("longrun", raw, [longrun_row(raw)], load)

    def run_storage(self) -> None:
        load = self.quiet()
        runs = [name for name in ("stats", "search") if self.selected(name)]
        data_dir = self.work_dir / "storage-chdb"
        raw = run_child(
            "benchmarks.storage",
            [
                "--data-dir",
                str(data_dir),
                "--users",
                str(self.sizes.storage_users),
                "--events",
                str(self.sizes.storage_events),
                "--lookups",
                str(self.sizes.lookups),
                "--searches",
                str(self.sizes.searches),
                "--seed",
                str(SEED),
                "--quiet-load",
                str(self.args.quiet_load),
                "--quiet-wait-s",
                str(self.args.quiet_wait_s),
                *[item for name in runs for item in ("--run", name)],
            ],
            work_dir=self.work_dir,
            timeout_s=14_400,
        )
        if not self.args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
        # The data load takes minutes, so the load that counts is the one the child saw when
        # its timed reads started.
        load = raw.get("load_before_timing", load)
        if "stats" in raw:
            self.record("stats", raw, stats_rows(raw), load)
        if "search" in raw:
            self.record("search", raw, search_rows(raw), load)

    def run_import(self) -> None:
        load = self.quiet()
        data_dir = self.work_dir / "import-chdb"
        raw = run_child(
            "benchmarks.csv_import",
            [
                "--data-dir",
                str(data_dir),
                "--rows",
                str(self.sizes.import_rows),
                "--repeat",
                str(self.sizes.import_repeat),
                "--seed",
                str(SEED),
            ],
            work_dir=self.work_dir,
            timeout_s=3600,
        )
        shutil.rmtree(data_dir, ignore_errors=True)
        self.record("import", raw, import_rows(raw), load)

    def cleanup(self) -> None:
        if self.args.keep_data:
            log(f"kept the work folder {self.work_dir} and topics starting with {self.run_id}")
            return
        from benchmarks.workers import delete_topics_with_prefix

        try:
            deleted = delete_topics_with_prefix(self.args.bootstrap, self.run_id)
            if deleted:
                log(f"deleted this run's {len(deleted)} topics")
        except Exception as exc:  # the broker may be unreachable; the results still count
            log(f"could not delete this run's topics (prefix {self.run_id}): {exc}")
        if self.args.work_dir is None:
            shutil.rmtree(self.work_dir, ignore_errors=True)


# Rows: how each benchmark's raw measurements become table rows.


def _ms(value: float) -> str:
    return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def _mib(value: float) -> str:
    return f"{value / 2**20:,.0f} MiB"


def throughput_rows(raw: dict[str, Any]) -> list[Result]:
    figure = raw["records_per_s"]
    baseline = raw["baseline"]["records_per_s"]
    share = ratio(figure, baseline)
    per_cpu = raw["records_per_cpu_s"] or 0.0
    return [
        Result(
            key="throughput",
            benchmark="throughput",
            title="Pipeline throughput, one worker",
            figure=figure,
            figure_text=f"{figure:,.0f} records/s ({per_cpu:,.0f} per worker CPU-second)",
            baseline=baseline,
            baseline_text=f"{baseline:,.0f} records/s (bare aiokafka consumer + orjson)",
            ratio=share,
            target="≥ 0.5 × baseline and ≥ 20,000 records/s on one core",
            met=share >= 0.5 and figure >= 20_000,
        ),
        *faust_ceiling_rows(raw, figure),
    ]


def faust_ceiling_rows(raw: dict[str, Any], pipeline_rate: float) -> list[Result]:
    """Return the row of the bare faust agent, whose rate bounds the pipeline's rate."""
    ceiling = raw.get("faust_ceiling")
    if ceiling is None:  # results stored before this row existed
        return []
    rate = ceiling["records_per_s"]
    per_cpu = ceiling["records_per_cpu_s"] or 0.0
    baseline = raw["baseline"]["records_per_s"]
    return [
        Result(
            key="throughput-faust-ceiling",
            benchmark="throughput",
            title="Bare faust agent, same records (framework ceiling)",
            figure=rate,
            figure_text=(
                f"{rate:,.0f} records/s ({per_cpu:,.0f} per CPU-second); the pipeline reaches "
                f"{ratio(pipeline_rate, rate):.2f} of it"
            ),
            baseline=baseline,
            baseline_text=f"{baseline:,.0f} records/s (bare aiokafka consumer + orjson)",
            ratio=ratio(rate, baseline),
            target="none; context for the pipeline's target",
            met=None,
        )
    ]


def delay_rows(raw: dict[str, Any]) -> list[Result]:
    delay = raw["delay"]
    api = raw["api_round_trip"]
    if delay is None:
        figure, text = math.inf, "no marker became visible"
    else:
        figure = delay["p99_ms"]
        text = f"p99 {_ms(figure)} (p50 {_ms(delay['p50_ms'])})"
    missed = raw["markers_not_visible"]
    if missed:
        text += f"; {missed} of {raw['markers']} markers not visible within 60 s"
    return [
        Result(
            key="delay",
            benchmark="delay",
            title=f"End-to-end delay at {raw['target_rate_per_s']:,.0f} records/s",
            figure=figure,
            figure_text=text,
            baseline=api["p99_ms"],
            baseline_text=(
                f"p99 {_ms(api['p99_ms'])} (p50 {_ms(api['p50_ms'])}), stats API round trip"
            ),
            ratio=ratio(figure, api["p99_ms"]),
            target="p99 < 2 s",
            met=missed == 0 and figure < 2000,
        )
    ]


def stats_rows(raw: dict[str, Any]) -> list[Result]:
    lookup = raw["stats"]["lookup"]
    select_one = raw["stats"]["select_one"]
    scale = f"{raw['users']['users']:,} users, {raw['events']['event_rows']:,} events"
    rows = []
    for quantile, limit in (("p50", 5.0), ("p99", 20.0)):
        figure = lookup[f"{quantile}_ms"]
        baseline = select_one[f"{quantile}_ms"]
        rows.append(
            Result(
                key=f"stats-{quantile}",
                benchmark="stats",
                title=f"User stats + first message page, {quantile} ({scale})",
                figure=figure,
                figure_text=_ms(figure),
                baseline=baseline,
                baseline_text=f"{_ms(baseline)} (`SELECT 1`)",
                ratio=ratio(figure, baseline),
                target=f"{quantile} < {limit:g} ms",
                met=figure < limit,
            )
        )
    return rows


def search_rows(raw: dict[str, Any]) -> list[Result]:
    search = raw["search"]
    figure = search["search"]["p99_ms"]
    baseline = search["select_one"]["p99_ms"]
    by_kind = search["by_kind"]
    return [
        Result(
            key="search-p99",
            benchmark="search",
            title=f"User search p99 ({raw['users']['users']:,} users)",
            figure=figure,
            figure_text=(
                f"{_ms(figure)} (nickname {_ms(by_kind['nickname']['p99_ms'])}, "
                f"ID prefix {_ms(by_kind['user_id_prefix']['p99_ms'])})"
            ),
            baseline=baseline,
            baseline_text=f"{_ms(baseline)} (`SELECT 1` p99)",
            ratio=ratio(figure, baseline),
            target="p99 < 50 ms",
            met=figure < 50,
        )
    ]


def import_rows(raw: dict[str, Any]) -> list[Result]:
    figure = raw["import_median_s"]
    baseline = raw["baseline_median_s"]
    share = ratio(figure, baseline)
    return [
        Result(
            key="import",
            benchmark="import",
            title=f"CSV import of {raw['rows']:,} users",
            figure=figure,
            figure_text=f"{figure:.2f} s (median of {len(raw['import_s'])})",
            baseline=baseline,
            baseline_text=f"{baseline:.2f} s (csv + phonenumbers loop)",
            ratio=share,
            target="≤ 1.3 × baseline",
            met=share <= 1.3,
        )
    ]


def rss_growth(raw: dict[str, Any]) -> dict[str, float]:
    """Return the write-phase slope over the second half of the keys and the read-phase growth.

    Flat means neither grows by more than 10% of the peak: the slope times the key count, and
    the RSS change over the read phase.
    """
    samples = raw["write_samples"]
    half = [s for s in samples if s["keys"] >= raw["keys"] / 2]
    first, last = half[0], half[-1]
    keys = last["keys"] - first["keys"]
    slope = (last["rss_bytes"] - first["rss_bytes"]) / keys if keys else 0.0
    read_growth = raw["read_samples"][-1]["rss_bytes"] - samples[-1]["rss_bytes"]
    peak = raw["peak_rss_bytes"]
    flat = slope * raw["keys"] < 0.1 * peak and read_growth < 0.1 * peak
    return {"bytes_per_key": slope, "read_growth_bytes": read_growth, "flat": flat}


def memory_rows(raw: dict[str, Any]) -> list[Result]:
    rows = []
    labels = {
        "store": "Dedup store (the worker's RocksDB store, 256 MiB budget)",
        "faust_store_and_expiry_index": (
            "faust's default RocksDB store + its in-memory expiry index (the earlier setting)"
        ),
    }
    for variant, label in labels.items():
        data = raw.get(variant)
        if data is None:
            continue
        growth = rss_growth(data)
        peak = data["peak_rss_bytes"]
        empty = data["rss_store_open_bytes"]
        slope_text = (
            f"writes {growth['bytes_per_key']:,.0f} B/key over the second half, "
            f"reads {growth['read_growth_bytes'] / 2**20:+,.0f} MiB"
        )
        budget = data.get("memory_budget_bytes")
        if budget:
            # A budgeted store grows until its cache is full, then stays there, so it is
            # judged by whether the growth stayed within the budget plus a quarter.
            bounded = peak - empty <= 1.25 * budget
            shape = f"{'within' if bounded else 'over'} the {_mib(budget)} budget"
            target = "< 1 GiB, bounded by the memory budget"
        else:
            bounded = growth["flat"]
            shape = "flat" if bounded else "growing"
            target = "< 1 GiB and flat"
        rows.append(
            Result(
                key=f"memory-{variant}",
                benchmark="memory",
                title=f"{label}, {data['keys']:,} live keys, peak RSS",
                figure=peak,
                figure_text=f"{_mib(peak)} ({shape}: {slope_text})",
                baseline=empty,
                baseline_text=f"{_mib(empty)} (same process, store open, no keys)",
                ratio=ratio(peak, empty),
                target=target,
                met=peak < GIB and bounded,
            )
        )
    idle = raw["idle_worker"]["rss_bytes"]
    rows.append(
        Result(
            key="memory-idle-worker",
            benchmark="memory",
            title="Idle worker (empty topics), RSS",
            figure=idle,
            figure_text=_mib(idle),
            baseline=raw["store"]["rss_at_start_bytes"],
            baseline_text=(
                f"{_mib(raw['store']['rss_at_start_bytes'])} (bare Python child at start)"
            ),
            ratio=ratio(idle, raw["store"]["rss_at_start_bytes"]),
            target="no target",
            met=None,
        )
    )
    return rows


def longrun_steady(raw: dict[str, Any]) -> dict[str, float]:
    """Return RSS and disk ranges over the samples taken once a whole TTL of keys is live.

    Those are the samples at least one TTL after the start and after the restart. Flat means
    the RSS and the disk size at the end of the run are each at most 10% above the maximum
    seen before the restart: a store whose expired or restored keys stayed would keep growing.
    """
    ttl_s = raw["ttl_s"]
    restart_s = raw["restart_at_s"]
    before = [s for s in raw["samples"] if ttl_s <= s["elapsed_s"] < restart_s]
    after = [s for s in raw["samples"] if s["elapsed_s"] >= restart_s + ttl_s]
    steady = before + after
    end = raw["samples"][-1]
    max_before_rss = max(s["rss_bytes"] for s in before)
    max_before_disk = max(s["disk_bytes"] for s in before)
    return {
        "max_rss_bytes": max(s["rss_bytes"] for s in steady),
        "min_rss_bytes": min(s["rss_bytes"] for s in steady),
        "max_disk_bytes": max(s["disk_bytes"] for s in steady),
        "min_disk_bytes": min(s["disk_bytes"] for s in steady),
        "mean_keys_within_ttl": sum(s["keys_within_ttl"] for s in steady) / len(steady),
        "end_rss_bytes": end["rss_bytes"],
        "end_disk_bytes": end["disk_bytes"],
        "flat": (
            end["rss_bytes"] <= 1.1 * max_before_rss
            and end["disk_bytes"] <= 1.1 * max_before_disk
        ),
    }


def longrun_row(raw: dict[str, Any]) -> Result:
    steady = longrun_steady(raw)
    start_rss = raw["samples"][0]["rss_bytes"]
    # A store that loses live keys would look small, so every sampled key must be found.
    readable = min(raw.get("readable_before_restart", 0.0), raw.get("readable_after_restart", 0.0))
    peak = steady["max_rss_bytes"]
    return Result(
        key="longrun",
        benchmark="longrun",
        title=(
            f"Dedup store over {raw['duration_s']:.0f} s with expiring keys "
            f"(retention {raw['ttl_s']} s, about {steady['mean_keys_within_ttl']:,.0f} keys "
            f"within it, {raw['keys_written']:,} written, restart and restore at "
            f"{raw['restart_at_s']:.0f} s), RSS"
        ),
        figure=peak,
        figure_text=(
            f"{_mib(steady['min_rss_bytes'])} to {_mib(peak)} "
            f"({'flat' if steady['flat'] else 'growing'}; disk "
            f"{_mib(steady['min_disk_bytes'])} to {_mib(steady['max_disk_bytes'])}; "
            f"at the end RSS {_mib(steady['end_rss_bytes'])}, disk "
            f"{_mib(steady['end_disk_bytes'])}; {readable:.1%} of sampled live keys found)"
        ),
        baseline=start_rss,
        baseline_text=f"{_mib(start_rss)} (same process, store open, no keys)",
        ratio=ratio(peak, start_rss),
        target="< 1 GiB and flat",
        met=peak < GIB and steady["flat"] and readable == 1.0,
    )


def scaling_rows(results: list[dict[str, Any]]) -> list[Result]:
    base = next((r for r in results if r["partitions"] == 1 and not r["stalled"]), None)
    base_rate = base["records_per_s"] if base else math.nan
    base_text = (
        f"{base_rate:,.0f} records/s (1 partition, 1 worker)" if base else "1 partition stalled"
    )
    rows = []
    for result in results:
        stalled_attempts = sum(1 for attempt in result["attempts"] if attempt["stalled"])
        if result["stalled"]:
            figure = math.nan
            text = f"stalled: lag by partition {result['stalled_lag']} stayed unchanged for 180 s"
        else:
            figure = result["records_per_s"]
            text = f"{figure:,.0f} records/s"
            if result["staggered_start"]:
                text += " (workers started one by one"
                text += "; the simultaneous start stalled)" if stalled_attempts else ")"
        rows.append(
            Result(
                key=f"scaling-p{result['partitions']}",
                benchmark="scaling",
                title=f"Throughput, {result['partitions']} partition(s) and worker(s), 2 cores",
                figure=figure,
                figure_text=text,
                baseline=base_rate,
                baseline_text=base_text,
                ratio=ratio(figure, base_rate) if base else math.nan,
                target=f"no target; linear would be ×{result['partitions']}",
                met=None,
            )
        )
    return rows


def print_row(row: Result) -> None:
    met = {True: "met", False: "NOT met", None: "-"}[row.met]
    print(
        f"{row.title}\n"
        f"    figure:   {row.figure_text}\n"
        f"    baseline: {row.baseline_text}\n"
        f"    ratio:    {row.ratio:,.2f}\n"
        f"    target:   {row.target} -> {met}",
        flush=True,
    )


def merge_results(runner: Runner, environment: dict[str, Any]) -> dict[str, Any]:
    """Replace the rows and runs of the benchmarks that ran in results.json; keep the others."""
    stored: dict[str, Any] = {"rows": {}, "runs": {}, "environment": {}}
    if RESULTS_PATH.exists():
        stored = json.loads(RESULTS_PATH.read_text())
    for benchmark in runner.runs:
        stored["rows"] = {k: v for k, v in stored["rows"].items() if v["benchmark"] != benchmark}
    for row in runner.rows:
        stored["rows"][row.key] = row.to_json()
    stored["runs"].update(runner.runs)
    stored["environment"] = environment
    return stored


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m benchmarks.run" + (
        "" if argv is None and len(sys.argv) <= 1 else " " + " ".join(argv or sys.argv[1:])
    )
    lower_priority()
    runner = Runner(args, command)
    log(
        f"run {runner.run_id}: mode {'quick' if args.quick else 'full'}, "
        f"work folder {runner.work_dir}"
    )
    try:
        runner.run()
    finally:
        runner.cleanup()

    if not args.no_doc and runner.runs:
        log(f"updated {RESULTS_PATH.relative_to(REPO_ROOT)} and {DOC_PATH.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
