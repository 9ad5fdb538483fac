"""The RocksDB store behind the dedup table: bounded in memory and in size.

Memory: every partition's database of one worker shares a single LRU block cache. Data
blocks, index and filter blocks and (through a write buffer manager) the memtables are all
charged to that cache, so ``USER_INSIGHTS_DEDUP_STORE_MEMORY_MIB`` caps RocksDB's memory per
worker however many partitions it owns. faust's own default is a 2 GiB block cache and three
64 MiB memtables per partition, with index and filter blocks outside any cache.

Size: each stored key starts with its window's start time (8 bytes, big-endian
milliseconds), followed by faust's own key encoding, so keys sort by window. Expiry deletes
the range of windows older than window + expiry with one range deletion per partition
(`delete_windows_before`) and then compacts that range, every half of that period. Keys
restored from the changelog get the same prefix from their window (`apply_changelog_batch`),
so they expire by their window's time, on any worker and after any restart. The changelog
topic is ``compact,delete`` with the same retention.

RocksDB's own TTL (rocksdict's TTL access type) is not used, because with rocksdict 0.3.29 it
lost keys that were still within the TTL. A database opened again in the same process lost
every key. After a restart, a database that an earlier process had written kept only 23% of
the keys written since (`benchmarks/dedup_longrun.py`). faust's own windowed-key expiry is
not used either, because it keeps every live key in a Python set (about 230 bytes per key)
and writes a changelog tombstone for each expired key.

The store is registered with faust under the URL scheme of ``STORE_URL``; the worker sets
it as the app's store (`faust_store_url`), because faust ignores a table's own store URL
when that URL has no host or path.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import faust
import rocksdict
from faust.stores import STORES
from faust.stores.rocksdb import RocksDBOptions
from faust.stores.rocksdb import Store as RocksDBStore

log = logging.getLogger(__name__)

STORE_URL = "dedup-rocksdb://"
MEMORY_BUDGET_OPTION = "memory_budget_bytes"

# Memtable size per partition; the write buffer manager flushes earlier when the shared
# budget is reached.
WRITE_BUFFER_BYTES = 16 * 1024**2
BLOOM_FILTER_BITS_PER_KEY = 10.0
# Stored keys start with the window start in milliseconds, big-endian. Timestamps up to year
# 10,000 keep the first byte 0x00, below faust's own metadata keys ("__faust...").
WINDOW_PREFIX = struct.Struct(">Q")
# A new folder name, so databases of the earlier TTL store (values with a 4-byte timestamp
# suffix) are never opened by this one.
STORE_FOLDER = "dedup-windows-v2"


def faust_store_url(table_store: str) -> str:
    """Return the faust app store URL for the `table_store` setting."""
    return STORE_URL if table_store == "rocksdb://" else table_store


_shared_lock = threading.Lock()
_shared: dict[int, tuple[rocksdict.Cache, rocksdict.WriteBufferManager]] = {}


def shared_memory(budget_bytes: int) -> tuple[rocksdict.Cache, rocksdict.WriteBufferManager]:
    """Return this process's block cache and write buffer manager for `budget_bytes`.

    Memtables may use up to half of the budget and are charged to the same cache.
    """
    with _shared_lock:
        if budget_bytes not in _shared:
            cache = rocksdict.Cache(budget_bytes)
            manager = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
                budget_bytes // 2, False, cache
            )
            _shared[budget_bytes] = (cache, manager)
        return _shared[budget_bytes]


class BoundedRocksDBOptions(RocksDBOptions):
    """faust's RocksDB options with one memory budget shared by all partitions."""

    def __init__(self, *, memory_budget_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.memory_budget_bytes = memory_budget_bytes
        self.write_buffer_size = min(WRITE_BUFFER_BYTES, memory_budget_bytes // 4)
        self.max_write_buffer_number = 2

    def as_options(self) -> rocksdict.Options:
        cache, manager = shared_memory(self.memory_budget_bytes)
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_max_open_files(self.max_open_files)
        options.set_write_buffer_size(self.write_buffer_size)
        options.set_max_write_buffer_number(self.max_write_buffer_number)
        options.set_target_file_size_base(self.target_file_size_base)
        options.set_write_buffer_manager(manager)

        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(BLOOM_FILTER_BITS_PER_KEY, False)
        table.set_block_cache(cache)
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        options.set_block_based_table_factory(table)
        return options

    def open(self, path: Path, *, read_only: bool = False) -> rocksdict.Rdict:
        access = (
            rocksdict.AccessType.read_only() if read_only else rocksdict.AccessType.read_write()
        )
        db = rocksdict.Rdict(str(path), options=self.as_options(), access_type=access)
        db.set_read_options(rocksdict.ReadOptions())
        return db


def window_prefix(window_start_s: float) -> bytes:
    """Return the 8-byte prefix that sorts stored keys by their window's start."""
    return WINDOW_PREFIX.pack(max(0, int(window_start_s * 1000)))


def stored_key(faust_key: bytes) -> bytes:
    """Return the stored form of a key as faust encodes it: ``[key, [start, end]]`` JSON."""
    _key, window = orjson.loads(faust_key)
    return window_prefix(window[0]) + faust_key


class DedupStore(RocksDBStore):
    """faust's RocksDB table store with window-prefixed keys and `BoundedRocksDBOptions`.

    The table passes ``memory_budget_bytes`` in its ``options``.
    """

    def __init__(self, url: Any, app: Any, table: Any, **kwargs: Any) -> None:
        super().__init__(url, app, table, driver="rocksdict", **kwargs)
        options = dict(self.options or {})
        budget = int(options.pop(MEMORY_BUDGET_OPTION))
        self.rocksdb_options = BoundedRocksDBOptions(
            memory_budget_bytes=budget, use_rocksdict=True, **options
        )

    def partition_path(self, partition: int) -> Path:
        default = super().partition_path(partition)
        return default.parent / STORE_FOLDER / default.name

    def _encode_key(self, key: Any) -> bytes:
        _dedup_key, window = key
        return window_prefix(window[0]) + super()._encode_key(key)

    def _decode_key(self, key: bytes | None) -> Any:
        return super()._decode_key(None if key is None else key[WINDOW_PREFIX.size :])

    def apply_changelog_batch(
        self,
        batch: Iterable[Any],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        """Write changelog records to the partition databases, keys in their stored form.

        The same steps as faust's RocksDB store (faust-streaming 0.15.3), except that each
        changelog key, faust's JSON encoding, gets its window prefix.
        """
        batches: defaultdict[int, rocksdict.WriteBatch] = defaultdict(
            lambda: rocksdict.WriteBatch(raw_mode=True)
        )
        tp_offsets: dict[Any, int] = {}
        for event in batch:
            message = event.message
            tp_offsets[message.tp] = max(message.offset, tp_offsets.get(message.tp, -1))
            key = stored_key(message.key)
            if message.value is None:
                batches[message.partition].delete(key)
            else:
                batches[message.partition].put(key, message.value)

        for partition, write_batch in batches.items():
            self._db_for_partition(partition).write(write_batch)
        for tp, offset in tp_offsets.items():
            self.set_persisted_offset(tp, offset)

    def delete_windows_before(self, cutoff_s: float) -> int:
        """Delete every key of windows that start before `cutoff_s`, in every open database.

        Returns the number of databases. A range deletion costs one write per database; the
        space returns at compaction, which `compact_expired` forces for that range.
        """
        databases = list(self._dbs.values())
        end = window_prefix(cutoff_s)
        for database in databases:
            database.delete_range(window_prefix(0), end)
        return len(databases)

    def compact_expired(self, cutoff_s: float) -> None:
        """Compact the deleted range of windows before `cutoff_s`, so its space returns.

        RocksDB releases the GIL while it compacts, so a worker runs this in a thread.
        """
        end = window_prefix(cutoff_s)
        for database in list(self._dbs.values()):
            database.compact_range(window_prefix(0), end)


def expiry_interval_s(retention_s: float) -> float:
    """Return how often the worker deletes expired windows: half the retention, 60 s or more."""
    return max(60.0, retention_s / 2)


class WindowPrefixTable(faust.Table):
    """A faust table whose windowed keys expire by the store's range deletions only.

    faust-streaming 0.15.3 turns a missing window expiry into 0.0 in its compiled window
    classes, so its own expiry would still index every key in memory and never delete one.
    """

    def _should_expire_keys(self) -> bool:
        return False


STORES.aliases.setdefault(STORE_URL.removesuffix("://"), f"{__name__}:DedupStore")
