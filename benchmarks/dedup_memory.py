"""Memory of the dedup store with many live keys, measured on the store, not a whole worker.

Run as a child process (`python -m benchmarks.dedup_memory`) so its RSS is the store's
alone. It builds the worker's dedup table with faust (`--store product`: the worker's own
`create_dedup_table`, so the same store, key encoding and memory budget) and opens each partition's
database through the store's options, as the worker does. Values are encoded by the table's
own serializer, and keys as it encodes them (checked at start).

`--store faust-default` builds the table on faust's RocksDB store with faust's default
options instead (a 2 GiB block cache per partition), and `--expiry-index` then also calls
faust's `Table._maybe_set_key_ttl` for every key, as `Table.on_key_set` does when faust
expires windows itself. That is how the worker ran before it had its own store: faust keeps
every live windowed key in a Python set until its window expires.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import log, rss_bytes, write_json

WINDOW_S = 3600.0  # USER_INSIGHTS_DEDUP_WINDOW_S default
EXPIRES_S = 7200.0  # USER_INSIGHTS_DEDUP_EXPIRES_S default
KEYS_PER_USER = 50  # about the events per user of the storage benchmarks
EVENT_ID_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


def state_pool(seed: int, store: Any) -> list[tuple[str, bytes]]:
    """Return (event type, encoded state) pairs built by the real dedup code from a demo stream.

    Each state's event_id is the placeholder, which `value_for` replaces per key, so no two
    stored values are equal (RocksDB would otherwise compress them unrealistically well).
    """
    from agents.dedup import RecordPosition, merge_report
    from pipeline.demo_stream import DemoConfig, generate_demo_stream
    from pipeline.errors import InvalidEventError
    from schemas.events import parse_event

    stream = generate_demo_stream(DemoConfig(users=2000, seed=seed))
    states: dict[str, Any] = {}
    events: dict[str, str] = {}
    for offset, record in enumerate(stream.records):
        try:
            event = parse_event(record.value)
        except InvalidEventError:
            continue
        position = RecordPosition("notification-events", 0, offset, 1_800_000_000_000 + offset)
        state, _counted = merge_report(states.get(event.dedup_key), event, position)
        states[event.dedup_key] = state
        events[event.dedup_key] = event.event

    pool = []
    for key, state in states.items():
        data = state.to_json()
        data[8] = EVENT_ID_PLACEHOLDER
        pool.append((events[key], store._encode_value(data)))
    return pool


def _faust_json(value: Any) -> str:
    # Compact JSON as faust's json codec writes it. That codec writes UTF-8 rather than
    # escapes, which only matches here because keys are ASCII; main() checks the equality.
    return json.dumps(value, separators=(",", ":"))


def stored_key_bytes(store: Any, dedup_key: str, window: Any) -> bytes:
    """Return the key as `store` writes it, built without faust's slower serializer call."""
    faust_key = _faust_json([dedup_key, list(window)]).encode()
    if hasattr(store, "delete_windows_before"):  # the worker's store prefixes the window
        from agents.dedup_store import window_prefix

        return window_prefix(window[0]) + faust_key
    return faust_key


def message_id_for(index: int) -> str:
    digest = hashlib.blake2b(index.to_bytes(8, "little"), digest_size=16).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def key_for(index: int, pool: list[tuple[str, bytes]]) -> tuple[str, int, int]:
    """Return the dedup key of key number `index`, its user number and its pool entry."""
    user = index // KEYS_PER_USER
    entry = index % len(pool)
    event = pool[entry][0]
    return f"user-{user:07d}\x1f{message_id_for(index)}\x1f{event}", user, entry


def value_for(index: int, entry: int, pool: list[tuple[str, bytes]]) -> bytes:
    event_id = message_id_for(index + 1_000_000_000)
    return pool[entry][1].replace(EVENT_ID_PLACEHOLDER.encode(), event_id.encode(), 1)


def open_table(data_dir: Path, partitions: int, store_kind: str) -> tuple[Any, Any]:
    """Create the worker's dedup table on a faust app that is never started.

    `store_kind` "product" builds the table as the worker does (`create_dedup_table`);
    "faust-default" builds it on faust's own RocksDB store with faust's default options, as
    the worker did before it had its own store. Returns the table and its RocksDB store,
    whose options open the partition databases.
    """
    import faust

    from agents.dedup_store import faust_store_url
    from agents.notification_events import create_dedup_table
    from pipeline.settings import Settings

    app = faust.App(
        "dedup-memory-bench",
        store=faust_store_url("rocksdb://") if store_kind == "product" else "rocksdb://",
        datadir=str(data_dir),
        autodiscover=False,
        web_enabled=False,
        topic_partitions=partitions,
    )
    if store_kind == "product":
        settings = Settings(
            data_dir=data_dir,
            topic_partitions=partitions,
            dedup_window_s=WINDOW_S,
            dedup_expires_s=EXPIRES_S,
            _env_file=None,
        )
        table = create_dedup_table(app, settings).table
        return table, table.data

    window = app.Table(
        "notification-dedup",
        default=list,
        partitions=partitions,
        options={"ttl": int(WINDOW_S + EXPIRES_S)},
    ).tumbling(timedelta(seconds=WINDOW_S), expires=timedelta(seconds=EXPIRES_S))
    table = window.table
    return table, table.data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="fresh folder for RocksDB")
    parser.add_argument("--keys", type=int, default=10_000_000)
    parser.add_argument("--partitions", type=int, default=8, help="the worker's default is 8")
    parser.add_argument("--sample-every", type=int, default=1_000_000)
    parser.add_argument("--read-seconds", type=float, default=30.0)
    parser.add_argument(
        "--expiry-index", action="store_true", help="also keep faust's expiry index"
    )
    parser.add_argument(
        "--store",
        choices=("product", "faust-default"),
        default="product",
        help="the worker's dedup store, or faust's RocksDB store with faust's default options",
    )
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()

    rss_at_start = rss_bytes()
    table, store = open_table(args.data_dir, args.partitions, args.store)
    pool = state_pool(args.seed, store)
    databases = [
        store.rocksdb_options.open(store.partition_path(p)) for p in range(args.partitions)
    ]
    rss_empty = rss_bytes()
    log(
        f"memory: {len(pool):,} real states in the pool, store open, "
        f"RSS {rss_empty / 2**20:.0f} MiB"
    )

    # Three windows are live with the defaults: the current one and two closed ones kept
    # for the expiry, so keys spread over the current hour and the two before it.
    now_s = time.time()
    windows = [next(iter(table._window_ranges(now_s - back * WINDOW_S))) for back in range(3)]
    sample_key = key_for(0, pool)[0]
    if store._encode_key((sample_key, windows[0])) != stored_key_bytes(
        store, sample_key, windows[0]
    ):
        raise RuntimeError("the key encoding here no longer matches faust's; update _faust_json")

    samples = [{"keys": 0, "rss_bytes": rss_empty, "elapsed_s": 0.0}]
    started_s = time.perf_counter()
    for index in range(args.keys):
        dedup_key, user, entry = key_for(index, pool)
        window = windows[index % 3]
        partition = user % args.partitions
        databases[partition].put(
            stored_key_bytes(store, dedup_key, window), value_for(index, entry, pool)
        )
        if args.expiry_index:
            table._maybe_set_key_ttl((dedup_key, window), partition)
        if (index + 1) % args.sample_every == 0:
            samples.append(
                {
                    "keys": index + 1,
                    "rss_bytes": rss_bytes(),
                    "elapsed_s": time.perf_counter() - started_s,
                }
            )
            log(f"memory: {index + 1:,} keys, RSS {samples[-1]['rss_bytes'] / 2**20:.0f} MiB")
    write_s = time.perf_counter() - started_s

    # Random point reads of stored keys, as the agent's lookups in two windows do.
    rng = random.Random(args.seed)
    read_samples = []
    reads = found = 0
    read_started_s = time.perf_counter()
    next_sample_s = read_started_s + 5
    while time.perf_counter() - read_started_s < args.read_seconds:
        index = rng.randrange(args.keys)
        dedup_key, user, _entry = key_for(index, pool)
        key = stored_key_bytes(store, dedup_key, windows[index % 3])
        if databases[user % args.partitions].get(key) is not None:
            found += 1
        reads += 1
        if time.perf_counter() >= next_sample_s:
            read_samples.append({"reads": reads, "rss_bytes": rss_bytes()})
            next_sample_s += 5
    read_samples.append({"reads": reads, "rss_bytes": rss_bytes()})

    disk_bytes = sum(f.stat().st_size for f in args.data_dir.rglob("*") if f.is_file())
    write_json(
        args.output,
        {
            "keys": args.keys,
            "partitions": args.partitions,
            "expiry_index": args.expiry_index,
            "store": args.store,
            "pool_states": len(pool),
            "mean_value_bytes": sum(len(v) for _, v in pool) / len(pool),
            "rss_at_start_bytes": rss_at_start,
            "rss_store_open_bytes": rss_empty,
            "write_samples": samples,
            "write_s": write_s,
            "read_seconds": args.read_seconds,
            "read_samples": read_samples,
            "reads": reads,
            "reads_found": found,
            "peak_rss_bytes": max(s["rss_bytes"] for s in samples + read_samples),
            "disk_bytes": disk_bytes,
            "block_cache_bytes_per_partition": store.rocksdb_options.block_cache_size,
            "memory_budget_bytes": getattr(store.rocksdb_options, "memory_budget_bytes", None),
            "write_buffer_bytes": store.rocksdb_options.write_buffer_size,
            "max_write_buffers": store.rocksdb_options.max_write_buffer_number,
        },
    )


if __name__ == "__main__":
    main()
