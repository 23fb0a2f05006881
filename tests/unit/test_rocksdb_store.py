"""The worker's table store: rows by partition in RocksDB, and the changelog offset it remembers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import faust
from aiokafka.structs import ConsumerRecord
from faust.types import TP
from rocksdict import AccessType, Rdict

from stream_jobs.kafka_partitioner import partition_of
from stream_jobs.rocksdb_store import (
    STORE_URL,
    KeyPartitionedRocksDBStore,
    flushed_at_stop,
    persist_offset,
    read_row,
    restore_rows,
    write_row,
)


def store_in(tmp_path: Path) -> tuple[KeyPartitionedRocksDBStore, str]:
    app = faust.App("store-test", store=STORE_URL, datadir=str(tmp_path), web_enabled=False)
    table = app.Table("visitors", partitions=4, use_partitioner=True, key_type=bytes, value_type=bytes)
    store = table.data
    assert isinstance(store, KeyPartitionedRocksDBStore)
    return store, table.changelog_topic.get_topic_name()


def test_a_row_is_read_back_from_the_partition_its_key_is_written_to(tmp_path: Path) -> None:
    store, _ = store_in(tmp_path)
    write_row(store, 2, b"site:v1", b"state")
    assert read_row(store, 2, b"site:v1") == b"state"
    assert read_row(store, 3, b"site:v1") is None
    assert partition_of(b"site:v1", 4) in range(4)


def test_the_changelog_offset_is_remembered_only_for_a_partition_still_held(tmp_path: Path) -> None:
    store, changelog = store_in(tmp_path)
    held, revoked = TP(changelog, 1), TP(changelog, 3)
    write_row(store, 1, b"a", b"1")
    write_row(store, 3, b"b", b"2")
    store.revoke_partitions(store.table, {revoked})
    persist_offset(store, held, 41)
    persist_offset(store, revoked, 7)  # acknowledged after the rebalance took it: not opened again
    assert store.persisted_offset(held) == 41
    assert 3 not in store._dbs


def test_rows_written_without_the_log_are_on_disk_after_a_revoke_and_after_the_stop(tmp_path: Path) -> None:
    store, changelog = store_in(tmp_path)
    write_row(store, 1, b"revoked", b"a")
    write_row(store, 2, b"held", b"b")
    still_open = list(store._dbs.values())  # as a sweep's iterator would: no garbage collection closes them
    store.revoke_partitions(store.table, {TP(changelog, 1)})
    assert not flushed_at_stop(store)
    asyncio.run(store.stop())
    assert flushed_at_stop(store)
    for partition, key, value in ((1, b"revoked", b"a"), (2, b"held", b"b")):
        # What a process started afresh finds: the rows went into no write-ahead log, so they are in table files.
        path = tmp_path / "v1" / "tables" / f"visitors-{partition}.db"
        on_disk = Rdict(str(path), access_type=AccessType.read_only())
        assert on_disk.get(key) == value
        on_disk.close()
    assert len(still_open) == 2


def changelog_record(changelog: str, partition: int, offset: int, key: bytes, value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord(changelog, partition, offset, 0, 0, key, value, None, 0, 0, [])


def test_restored_changelog_records_leave_each_keys_last_value_and_the_offset_of_the_last(tmp_path: Path) -> None:
    store, changelog = store_in(tmp_path)
    tp = TP(changelog, 2)
    records = [
        changelog_record(changelog, 2, 10, b"a", b"1"),
        changelog_record(changelog, 2, 11, b"b", b"1"),
        changelog_record(changelog, 2, 12, b"a", b"2"),
        changelog_record(changelog, 2, 13, b"b", None),  # a tombstone: the row was erased
    ]
    restore_rows(store, tp, records)
    assert read_row(store, 2, b"a") == b"2"
    assert read_row(store, 2, b"b") is None
    assert store.persisted_offset(tp) == 13


def test_restored_changelog_records_go_into_a_memory_store_too() -> None:
    app = faust.App("memory-restore-test", store="memory://", web_enabled=False)
    table = app.Table("visitors", partitions=4, use_partitioner=True, key_type=bytes, value_type=bytes)
    changelog = table.changelog_topic.get_topic_name()
    records = [changelog_record(changelog, 0, 0, b"a", b"1"), changelog_record(changelog, 0, 1, b"a", None)]
    restore_rows(table.data, TP(changelog, 0), records[:1])
    assert read_row(table.data, 0, b"a") == b"1"
    restore_rows(table.data, TP(changelog, 0), records[1:])
    assert read_row(table.data, 0, b"a") is None
