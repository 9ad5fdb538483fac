"""The dedup table's RocksDB store: the worker's options, the memory cap, window expiry."""

from __future__ import annotations

import gc
import time
from types import SimpleNamespace

import faust
import orjson
import pytest
from faust.types import TP

from agents.dedup_store import (
    BoundedRocksDBOptions,
    DedupStore,
    WindowPrefixTable,
    faust_store_url,
    shared_memory,
    stored_key,
    window_prefix,
)
from agents.notification_events import create_dedup_table, expire_windows
from pipeline.settings import Settings

MIB = 1024**2
WINDOW_S = 60
EXPIRES_S = 120


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


def _window(start_s: float) -> tuple[float, float]:
    return (float(start_s), float(start_s + WINDOW_S) - 0.1)


def test_worker_table_uses_dedup_store(tmp_path):
    table, settings = _table(tmp_path, dedup_window_s=WINDOW_S, dedup_expires_s=EXPIRES_S)

    store = table.data
    assert isinstance(store, DedupStore)
    assert isinstance(store.rocksdb_options, BoundedRocksDBOptions)
    assert store.rocksdb_options.ttl is None
    assert store.rocksdb_options.memory_budget_bytes == settings.dedup_store_memory_mib * MIB
    assert store.partition_path(0).parent.name == "dedup-windows-v2"


def test_worker_table_has_no_faust_expiry(tmp_path):
    table, _settings = _table(tmp_path, dedup_window_s=WINDOW_S, dedup_expires_s=EXPIRES_S)

    # faust's own expiry keeps every live key in a Python set; range deletions replace it.
    assert isinstance(table, WindowPrefixTable)
    assert not table._should_expire_keys()
    table._maybe_set_key_ttl(("key", _window(0)), 0)
    assert not table._partition_timestamp_keys


def test_changelog_config_deletes_by_time(tmp_path):
    table, _settings = _table(tmp_path, dedup_window_s=WINDOW_S, dedup_expires_s=EXPIRES_S)

    config = table.extra_topic_configs
    assert config["cleanup.policy"] == "compact,delete"
    assert config["retention.ms"] == "180000"
    assert config["segment.ms"] == "60000"


def test_memory_store_keeps_faust_expiry(tmp_path):
    table, _settings = _table(
        tmp_path, table_store="memory://", dedup_window_s=WINDOW_S, dedup_expires_s=EXPIRES_S
    )

    assert not isinstance(table, WindowPrefixTable)
    assert table.window.expires == EXPIRES_S
    assert table._should_expire_keys()


def test_window_prefix_sorts_by_time():
    prefixes = [window_prefix(start) for start in (0, 59.9, 60, 1_800_000_000, 1_800_003_600)]

    assert prefixes == sorted(prefixes)
    assert len(set(prefixes)) == len(prefixes)
    # Below faust's metadata keys, so a range deletion of windows never reaches them.
    assert window_prefix(253_402_300_799) < b"__faust"


def test_stored_key_matches_store_encoding(tmp_path):
    table, _settings = _table(tmp_path, dedup_window_s=WINDOW_S, dedup_expires_s=EXPIRES_S)
    store = table.data
    key = ("u-1\x1fm-1\x1fdelivered", _window(1_800_000_000))

    encoded = store._encode_key(key)

    assert encoded[:8] == window_prefix(1_800_000_000)
    assert stored_key(encoded[8:]) == encoded
    assert store._decode_key(encoded) == ["u-1\x1fm-1\x1fdelivered", list(key[1])]


def test_partitions_share_one_cache(tmp_path):
    table, settings = _table(tmp_path, dedup_store_memory_mib=16)
    store = table.data
    budget = settings.dedup_store_memory_mib * MIB
    databases = [store._db_for_partition(p) for p in range(4)]

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


def _changelog_event(partition: int, offset: int, key: tuple, value: bytes | None):
    message = SimpleNamespace(
        tp=TP("app-notification-dedup-changelog", partition),
        partition=partition,
        offset=offset,
        key=orjson.dumps([key[0], list(key[1])]),
        value=value,
    )
    return SimpleNamespace(message=message)


async def test_expiry_deletes_old_windows_only(tmp_path):
    table, _settings = _table(tmp_path, dedup_window_s=WINDOW_S, dedup_expires_s=EXPIRES_S)
    store = table.data
    now_s = 1_800_000_000
    old, recent = _window(now_s - 600), _window(now_s - 120)
    # Recovery writes changelog records, with faust's key encoding, into the store.
    store.apply_changelog_batch(
        [
            _changelog_event(0, 10, ("u-1\x1fm-1\x1fsent", old), b"[1]"),
            _changelog_event(0, 11, ("u-1\x1fm-2\x1fsent", recent), b"[2]"),
            _changelog_event(1, 5, ("u-2\x1fm-3\x1fsent", old), b"[3]"),
        ],
        to_key=None,
        to_value=None,
    )
    db0, db1 = store._db_for_partition(0), store._db_for_partition(1)
    assert db0.get(store._encode_key(("u-1\x1fm-1\x1fsent", old))) == b"[1]"

    await expire_windows(store, now_s - (WINDOW_S + EXPIRES_S))

    assert db0.get(store._encode_key(("u-1\x1fm-1\x1fsent", old))) is None
    assert db1.get(store._encode_key(("u-2\x1fm-3\x1fsent", old))) is None
    assert db0.get(store._encode_key(("u-1\x1fm-2\x1fsent", recent))) == b"[2]"
    assert store.persisted_offset(TP("app-notification-dedup-changelog", 0)) == 11
    assert store.persisted_offset(TP("app-notification-dedup-changelog", 1)) == 5


def test_changelog_tombstone_deletes_key(tmp_path):
    table, _settings = _table(tmp_path, dedup_window_s=WINDOW_S, dedup_expires_s=EXPIRES_S)
    store = table.data
    key = ("u-1\x1fm-1\x1fsent", _window(1_800_000_000))

    store.apply_changelog_batch([_changelog_event(0, 1, key, b"[1]")], None, None)
    store.apply_changelog_batch([_changelog_event(0, 2, key, None)], None, None)

    assert store._db_for_partition(0).get(store._encode_key(key)) is None


def test_reopened_database_keeps_keys(tmp_path):
    # faust drops a revoked partition's handle and opens the path again when it returns.
    table, _settings = _table(tmp_path, dedup_window_s=WINDOW_S, dedup_expires_s=EXPIRES_S)
    store = table.data
    changelog_tp = TP(table.changelog_topic.get_topic_name(), 0)
    store._db_for_partition(0).put(b"before", b"state")

    store.revoke_partitions(table, {changelog_tp})
    gc.collect()
    database = store._db_for_partition(0)
    database.put(b"after", b"state")
    database.compact_range(None, None)

    assert database.get(b"before") == b"state"
    assert database.get(b"after") == b"state"


def test_expiry_keeps_fresh_keys_after_time(tmp_path):
    table, _settings = _table(tmp_path, dedup_window_s=WINDOW_S, dedup_expires_s=EXPIRES_S)
    store = table.data
    database = store._db_for_partition(0)
    now_s = time.time()
    fresh = store._encode_key(("u-1\x1fm-1\x1fsent", _window(now_s - now_s % WINDOW_S)))
    database.put(fresh, b"[1]")

    store.delete_windows_before(now_s - (WINDOW_S + EXPIRES_S))
    store.compact_expired(now_s - (WINDOW_S + EXPIRES_S))

    assert database.get(fresh) == b"[1]"


@pytest.mark.parametrize("budget_mib", [16, 256])
def test_write_buffers_fit_budget(budget_mib):
    options = BoundedRocksDBOptions(memory_budget_bytes=budget_mib * MIB, use_rocksdict=True)

    assert options.write_buffer_size <= budget_mib * MIB // 4
    assert options.max_write_buffer_number == 2
