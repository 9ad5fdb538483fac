"""The dedup table's RocksDB store: the worker's options, the shared memory cap, the TTL."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import faust
import pytest

from agents.dedup_store import (
    BoundedRocksDBOptions,
    DedupStore,
    TtlWindowedTable,
    faust_store_url,
    shared_memory,
)
from agents.notification_events import create_dedup_table
from pipeline.settings import Settings

MIB = 1024**2


def _table(tmp_path, **settings_values):
    settings = Settings(data_dir=tmp_path, topic_partitions=4, _env_file=None, **settings_values)
    app = faust.App(
        "dedup-store-test",
        store=faust_store_url(settings.table_store),
        datadir=str(tmp_path / "faust"),
        autodiscover=False,
        web_enabled=False,
    )
    return create_dedup_table(app, settings).table, settings


def test_worker_table_uses_dedup_store(tmp_path):
    table, settings = _table(tmp_path, dedup_window_s=60, dedup_expires_s=120)

    store = table.data
    assert isinstance(store, DedupStore)
    assert isinstance(store.rocksdb_options, BoundedRocksDBOptions)
    assert store.rocksdb_options.ttl == 180
    assert store.rocksdb_options.memory_budget_bytes == settings.dedup_store_memory_mib * MIB


def test_worker_table_has_no_faust_expiry(tmp_path):
    table, _settings = _table(tmp_path, dedup_window_s=60, dedup_expires_s=120)

    # faust's own expiry keeps every live key in a Python set; the TTL replaces it.
    assert isinstance(table, TtlWindowedTable)
    assert not table._should_expire_keys()
    table._maybe_set_key_ttl(("key", (0.0, 60.0)), 0)
    assert not table._partition_timestamp_keys


def test_changelog_config_deletes_by_time(tmp_path):
    table, _settings = _table(tmp_path, dedup_window_s=60, dedup_expires_s=120)

    config = table.extra_topic_configs
    assert config["cleanup.policy"] == "compact,delete"
    assert config["retention.ms"] == "180000"
    assert config["segment.ms"] == "60000"


def test_memory_store_keeps_faust_expiry(tmp_path):
    table, _settings = _table(
        tmp_path, table_store="memory://", dedup_window_s=60, dedup_expires_s=120
    )

    assert not isinstance(table, TtlWindowedTable)
    assert table.window.expires == 120
    assert table._should_expire_keys()


def test_partitions_share_one_cache(tmp_path):
    table, settings = _table(tmp_path, dedup_store_memory_mib=16)
    store = table.data
    budget = settings.dedup_store_memory_mib * MIB
    databases = [store.rocksdb_options.open(store.partition_path(p)) for p in range(4)]

    value = b"x" * 200
    for index in range(200_000):
        databases[index % 4].put(f"key-{index:08d}".encode(), value)
    for index in range(0, 200_000, 7):
        assert databases[index % 4].get(f"key-{index:08d}".encode()) == value

    cache, _manager = shared_memory(budget)
    assert shared_memory(budget)[0] is cache
    # Memtables, data blocks, index and filter blocks of all four databases are charged to
    # the one cache; 200,000 × 200 bytes is about 40 MiB, so without the cap it would be more.
    # The cache's capacity is a soft limit, so pinned blocks may take it a little over.
    assert 0 < cache.get_usage() <= budget * 1.5


# With rocksdict 0.3.29, dropping one TTL database can make later compactions in the same
# process delete fresh keys of other TTL databases. Tests of expiry therefore run their
# RocksDB steps in child processes, as a worker owns its databases for its whole life.
_WRITE_OLD = """
import sys
from agents.dedup_store import BoundedRocksDBOptions
options = BoundedRocksDBOptions(memory_budget_bytes=16 * 1024**2, ttl=2, use_rocksdict=True)
db = options.open(sys.argv[1])
db.put(b"old", b"state")
db.close()
"""

_RESTORE_THEN_COMPACT = """
import json, sys, time
from agents.dedup_store import BoundedRocksDBOptions
options = BoundedRocksDBOptions(memory_budget_bytes=16 * 1024**2, ttl=2, use_rocksdict=True)
db = options.open(sys.argv[1])
db.put(b"restored", b"state")
time.sleep(3.5)
db.put(b"fresh", b"state")
db.compact_range(None, None)
print(json.dumps({k: db.get(k.encode()) is not None for k in ("old", "restored", "fresh")}))
"""


def _run_child(code: str, *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    return completed.stdout


def test_restored_keys_expire(tmp_path):
    path = str(tmp_path / "partition-0.db")

    # A worker wrote "old" and stopped. The next worker process restores from the
    # changelog, which writes each key again, then keeps writing.
    _run_child(_WRITE_OLD, path)
    present = json.loads(_run_child(_RESTORE_THEN_COMPACT, path))

    assert present["old"] is False
    assert present["restored"] is False
    assert present["fresh"] is True


@pytest.mark.parametrize("budget_mib", [16, 256])
def test_write_buffers_fit_budget(budget_mib):
    options = BoundedRocksDBOptions(memory_budget_bytes=budget_mib * MIB, use_rocksdict=True)

    assert options.write_buffer_size <= budget_mib * MIB // 4
    assert options.max_write_buffer_number == 2


_REOPEN_IN_PROCESS = """
import gc, json, sys
from agents.dedup_store import BoundedRocksDBOptions
options = BoundedRocksDBOptions(memory_budget_bytes=16 * 1024**2, ttl=3600, use_rocksdict=True)
db = options.open(sys.argv[1])
db.put(b"before", b"state")
del db
gc.collect()
db = options.open(sys.argv[1])
db.put(b"after", b"state")
db.compact_range(None, None)
print(json.dumps({k: db.get(k.encode()) is not None for k in ("before", "after")}))
"""

_REVOKE_AND_REASSIGN = """
import gc, json, sys
from pathlib import Path
from faust.types import TP
from tests.agents.test_dedup_store import _table
table, _settings = _table(Path(sys.argv[1]), dedup_window_s=60, dedup_expires_s=120)
store = table.data
db = store._db_for_partition(0)
db.put(b"before", b"state")
store.revoke_partitions(table, {TP(table.changelog_topic.get_topic_name(), 0)})
del db
gc.collect()
db = store._db_for_partition(0)
db.put(b"after", b"state")
db.compact_range(None, None)
print(json.dumps({k: db.get(k.encode()) is not None for k in ("before", "after")}))
"""


def test_ttl_database_reopened_in_process_loses_keys(tmp_path):
    # The rocksdict 0.3.29 behaviour that DedupStore.revoke_partitions works around. If
    # this starts failing, the workaround may no longer be needed.
    present = json.loads(_run_child(_REOPEN_IN_PROCESS, str(tmp_path / "partition-0.db")))

    assert present["before"] is False
    assert present["after"] is False


def test_revoked_partition_keeps_keys(tmp_path):
    present = json.loads(_run_child(_REVOKE_AND_REASSIGN, str(tmp_path)))

    assert present["before"] is True
    assert present["after"] is True
