"""The RocksDB store behind the dedup table: bounded in memory and in size.

Memory: every partition's database of one worker shares a single LRU block cache. Data
blocks, index and filter blocks and (through a write buffer manager) the memtables are all
charged to that cache, so ``USER_INSIGHTS_DEDUP_STORE_MEMORY_MIB`` caps RocksDB's memory per
worker however many partitions it owns. faust's own default is a 2 GiB block cache and three
64 MiB memtables per partition, with index and filter blocks outside any cache.

Size: databases are opened with a RocksDB TTL of window + expiry (rocksdict's TTL access
type), and the changelog topic is ``compact,delete`` with the same retention. Compaction
drops entries older than the TTL, and a key restored from the changelog after a restart is
written again with a fresh timestamp, so it expires too. RocksDB's own compactions reach the
oldest files late (the disk size kept growing for 450 s in a benchmark with a 240 s TTL), so
the worker also compacts every partition database every half TTL (`compact_all`). faust's own windowed-key expiry is
not used with this store, because it keeps every live key in a Python set (about 230 bytes
per key) and writes a changelog tombstone for each expired key.

The store is registered with faust under the URL scheme of ``STORE_URL``; the worker sets
it as the app's store (`faust_store_url`), because faust ignores a table's own store URL
when that URL has no host or path.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

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
            rocksdict.AccessType.read_write()
            if self.ttl is None
            else rocksdict.AccessType.with_ttl(self.ttl)
        )
        db = rocksdict.Rdict(str(path), options=self.as_options(), access_type=access)
        db.set_read_options(rocksdict.ReadOptions())
        return db


class DedupStore(RocksDBStore):
    """faust's RocksDB table store, opened with `BoundedRocksDBOptions`.

    The table passes ``ttl`` (seconds) and ``memory_budget_bytes`` in its ``options``.

    A partition database stays open when its partition is revoked. faust drops the handle
    and opens the path again if the partition comes back, but with rocksdict 0.3.29 a TTL
    database reopened in the same process lost every key, fresh ones included, at its next
    compaction (tests/agents/test_dedup_store.py shows it). A restart in a new process is
    not affected. The open handles cost no extra memory beyond the shared budget.
    """

    def compact_all(self) -> int:
        """Compact every open partition database, dropping entries older than the TTL.

        Returns the number of databases. RocksDB releases the GIL while it compacts, so a
        worker runs this in a thread.
        """
        databases = list(self._dbs.values())
        for database in databases:
            database.compact_range(None, None)
        return len(databases)

    def revoke_partitions(self, table: Any, tps: Any) -> None:
        for tp in tps:
            if tp.topic in table.changelog_topic.topics:
                log.info(
                    "Partition revoked; its dedup database stays open for a reassignment "
                    "partition=%d",
                    tp.partition,
                )

    def __init__(self, url: Any, app: Any, table: Any, **kwargs: Any) -> None:
        super().__init__(url, app, table, driver="rocksdict", **kwargs)
        options = dict(self.options or {})
        budget = int(options.pop(MEMORY_BUDGET_OPTION))
        self.rocksdb_options = BoundedRocksDBOptions(
            memory_budget_bytes=budget, use_rocksdict=True, **options
        )


def compaction_interval_s(ttl_s: float) -> float:
    """Return how often the worker compacts the dedup store: half the TTL, at least 60 s."""
    return max(60.0, ttl_s / 2)


class TtlWindowedTable(faust.Table):
    """A faust table whose windowed keys expire through the store's TTL only.

    faust-streaming 0.15.3 turns a missing window expiry into 0.0 in its compiled window
    classes, so its own expiry would still index every key in memory and never delete one.
    """

    def _should_expire_keys(self) -> bool:
        return False


STORES.aliases.setdefault(STORE_URL.removesuffix("://"), f"{__name__}:DedupStore")
