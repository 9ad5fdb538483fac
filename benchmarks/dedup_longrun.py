"""Size of the dedup store over a long run in which keys expire, across a restart.

Run as two child processes (`python -m benchmarks.dedup_longrun --phase …`), because a
restart is a new process. Each builds the worker's dedup table (`create_dedup_table`, so the
worker's store, key encoding and memory budget). Its window and expiry add up to the
retention `--ttl-s`. Each process writes new keys as fast as it can, each into the current
window, so that about rate × retention keys are live at any time. Every `--sample-every-s` it records
RSS, the bytes on disk and RocksDB's estimate of the key count. A thread deletes expired
windows and compacts their range every half retention, as the worker's timer does.

Phase "first" writes until `--restart-at-s` and exits. Phase "second" opens the same files in
a new process, writes the keys of the last retention period again through the store's
changelog path (`apply_changelog_batch`), as faust's recovery does, and writes new keys until
`--duration-s`. At the end of each phase it checks that sampled keys within the retention are
still stored. If keys written before the restart, or restored ones, did not expire, the size
would keep growing after the restart.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from agents.dedup_store import expiry_interval_s
from benchmarks.common import log, rss_bytes, write_json
from benchmarks.dedup_memory import _faust_json, key_for, state_pool, stored_key_bytes, value_for

PARTITIONS = 8
BATCH_KEYS = 1000
RESTORE_CHUNK_KEYS = 10_000
CHANGELOG_TOPIC = "dedup-longrun-bench-notification-dedup-changelog"


def open_product_table(data_dir: Path, ttl_s: int) -> tuple[Any, Any]:
    """Return the worker's dedup table and store with a retention of `ttl_s` (window ttl/3)."""
    import faust

    from agents.dedup_store import faust_store_url
    from agents.notification_events import create_dedup_table
    from pipeline.settings import Settings

    app = faust.App(
        "dedup-longrun-bench",
        store=faust_store_url("rocksdb://"),
        datadir=str(data_dir),
        autodiscover=False,
        web_enabled=False,
        topic_partitions=PARTITIONS,
    )
    settings = Settings(
        data_dir=data_dir,
        topic_partitions=PARTITIONS,
        dedup_window_s=ttl_s / 3,
        dedup_expires_s=2 * ttl_s / 3,
        _env_file=None,
    )
    table = create_dedup_table(app, settings).table
    return table, table.data


def disk_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


class LongRun:
    """Writes keys at full speed and samples RSS and disk size."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.table, self.store = open_product_table(args.data_dir, args.ttl_s)
        self.pool = state_pool(args.seed, self.store)
        self.databases = self.open_databases()
        # Wall-clock time of each batch of BATCH_KEYS keys; key i is in batch i // BATCH_KEYS.
        # Wall-clock, because the second phase runs in another process.
        self.batch_written_at_s: list[float] = []
        self.samples: list[dict[str, Any]] = []
        self.started_s = time.time()
        self.compactions: list[dict[str, float]] = []
        self.first_key_after_restore = 0
        self.stopped = threading.Event()
        self.compactor = threading.Thread(target=self.compact_periodically, daemon=True)
        self.compactor.start()

    def open_databases(self) -> list[Any]:
        # Through the store, as the worker opens them, so its expiry reaches them.
        return [self.store._db_for_partition(p) for p in range(PARTITIONS)]

    def compact_periodically(self) -> None:
        """Delete expired windows every half retention in a thread, as the worker's timer does."""
        interval_s = expiry_interval_s(self.args.ttl_s)
        while not self.stopped.wait(interval_s):
            started_s = time.time()
            cutoff_s = started_s - self.args.ttl_s
            self.store.delete_windows_before(cutoff_s)
            self.store.compact_expired(cutoff_s)
            self.compactions.append(
                {"at_s": started_s - self.started_s, "elapsed_s": time.time() - started_s}
            )

    def changelog_event(self, index: int) -> SimpleNamespace:
        """Return key `index` as a changelog record: faust's key encoding, original window."""
        dedup_key, user, entry = key_for(index, self.pool)
        written_at_s = self.batch_written_at_s[index // BATCH_KEYS]
        window = next(iter(self.table._window_ranges(written_at_s)))
        partition = user % PARTITIONS
        message = SimpleNamespace(
            tp=TP(CHANGELOG_TOPIC, partition),
            partition=partition,
            offset=index,
            key=_faust_json([dedup_key, list(window)]).encode(),
            value=value_for(index, entry, self.pool),
        )
        return SimpleNamespace(message=message)

    @property
    def keys_written(self) -> int:
        return len(self.batch_written_at_s) * BATCH_KEYS

    def first_key_within_ttl(self, now_s: float) -> int:
        times = self.batch_written_at_s
        return _first_at_or_after(times, now_s - self.args.ttl_s) * BATCH_KEYS

    def put(self, index: int) -> None:
        dedup_key, user, entry = key_for(index, self.pool)
        window = next(iter(self.table._window_ranges(time.time())))
        key = stored_key_bytes(self.store, dedup_key, window)
        self.databases[user % PARTITIONS].put(key, value_for(index, entry, self.pool))

    def readable_fraction(self, first_index: int, checks: int = 5000) -> float:
        """Return the share of sampled keys from `first_index` on that the store still returns.

        Keys are looked up in the window of their batch's write time or the window before,
        since a batch may straddle a window boundary. Every sampled key is within the retention.
        """
        first_index = max(first_index, self.first_key_within_ttl(time.time()))
        if first_index >= self.keys_written:
            return 1.0
        rng = random.Random(self.args.seed)
        found = 0
        for _ in range(checks):
            index = rng.randrange(first_index, self.keys_written)
            dedup_key, user, _entry = key_for(index, self.pool)
            written_at_s = self.batch_written_at_s[index // BATCH_KEYS]
            database = self.databases[user % PARTITIONS]
            for at_s in (written_at_s, written_at_s - 1.0):
                window = next(iter(self.table._window_ranges(at_s)))
                if database.get(stored_key_bytes(self.store, dedup_key, window)) is not None:
                    found += 1
                    break
        return found / checks

    def sample(self, phase: str) -> None:
        now_s = time.time()
        live = self.keys_written - self.first_key_within_ttl(now_s)
        self.samples.append(
            {
                "elapsed_s": now_s - self.started_s,
                "phase": phase,
                "keys_written": self.keys_written,
                "keys_within_ttl": live,
                "rss_bytes": rss_bytes(),
                "disk_bytes": disk_bytes(self.args.data_dir),
                "estimated_keys": sum(
                    int(db.property_int_value("rocksdb.estimate-num-keys") or 0)
                    for db in self.databases
                ),
            }
        )
        last = self.samples[-1]
        log(
            f"longrun: {last['elapsed_s']:.0f} s {phase}, {last['keys_written']:,} keys "
            f"written, {live:,} within the TTL, RSS {last['rss_bytes'] / 2**20:.0f} MiB, "
            f"disk {last['disk_bytes'] / 2**20:.0f} MiB, "
            f"RocksDB estimates {last['estimated_keys']:,} keys"
        )

    def write_until(self, until_s: float, phase: str) -> None:
        next_sample_s = time.time() + self.args.sample_every_s
        while time.time() - self.started_s < until_s:
            first = self.keys_written
            for index in range(first, first + BATCH_KEYS):
                self.put(index)
            self.batch_written_at_s.append(time.time())
            if time.time() >= next_sample_s:
                self.sample(phase)
                next_sample_s += self.args.sample_every_s

    def resume(self, first_phase: dict[str, Any]) -> dict[str, Any]:
        """Take over the first phase's clock and keys, then restore the keys of the last
        retention period through the store's changelog path, each in its original window."""
        self.started_s = first_phase["started_s"]
        self.batch_written_at_s = first_phase["batch_written_at_s"]
        self.samples = first_phase["samples"]
        self.compactions = first_phase["compactions"] + self.compactions

        restore_started_s = time.time()
        first = self.first_key_within_ttl(restore_started_s)
        for chunk_start in range(first, self.keys_written, RESTORE_CHUNK_KEYS):
            chunk_end = min(chunk_start + RESTORE_CHUNK_KEYS, self.keys_written)
            events = [self.changelog_event(index) for index in range(chunk_start, chunk_end)]
            self.store.apply_changelog_batch(events, None, None)
        restored = self.keys_written - first
        self.first_key_after_restore = self.keys_written
        restore_s = time.time() - restore_started_s
        log(f"longrun: restart restored {restored:,} keys in {restore_s:.0f} s")
        return {"restored_keys": restored, "restore_s": restore_s}


def _first_at_or_after(times: list[float], at_s: float) -> int:
    low, high = 0, len(times)
    while low < high:
        middle = (low + high) // 2
        if times[middle] < at_s:
            low = middle + 1
        else:
            high = middle
    return low


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=("first", "second"), required=True)
    parser.add_argument("--data-dir", type=Path, required=True, help="folder for RocksDB")
    parser.add_argument("--ttl-s", type=int, default=240, help="window + expiry, in seconds")
    parser.add_argument("--duration-s", type=float, default=1200.0, help="total write time")
    parser.add_argument("--restart-at-s", type=float, default=600.0, help="time of the restart")
    parser.add_argument("--sample-every-s", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--first-phase", type=Path, help="output of the first phase")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()

    run = LongRun(args)
    result: dict[str, Any] = {
        "ttl_s": args.ttl_s,
        "duration_s": args.duration_s,
        "restart_at_s": args.restart_at_s,
        "partitions": PARTITIONS,
        "memory_budget_bytes": run.store.rocksdb_options.memory_budget_bytes,
    }
    if args.phase == "first":
        run.sample("start")
        run.write_until(args.restart_at_s, "before restart")
        result["readable_before_restart"] = run.readable_fraction(0)
        result["started_s"] = run.started_s
        result["batch_written_at_s"] = run.batch_written_at_s
    else:
        first_phase = json.loads(args.first_phase.read_text())
        result.update(run.resume(first_phase))
        run.sample("after restore")
        run.write_until(args.duration_s, "after restart")
        run.sample("end")
        result["readable_before_restart"] = first_phase["readable_before_restart"]
        result["readable_after_restart"] = run.readable_fraction(run.first_key_after_restore)

    run.stopped.set()
    run.compactor.join()
    result["compactions"] = run.compactions
    result["keys_written"] = run.keys_written
    result["samples"] = run.samples
    write_json(args.output, result)


if __name__ == "__main__":
    main()
