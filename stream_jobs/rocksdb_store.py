"""Faust's RocksDB store (through rocksdict) usable outside stream iteration, and table rows read and
written by partition.

Faust's store picks the partition's database from the event being processed, and our writes come
from a batch or a timer, with no current event. Our table uses the default partitioner for its
changelog (use_partitioner=True), so the partition of a key is known from the key itself: murmur2,
as Kafka's and aiokafka's default partitioner compute it (the timer's way). The batch path knows
each key's partition, the one its events arrived on, and goes straight to that partition's database.

Rows are written without RocksDB's write-ahead log (a put costs a quarter of the time): a store a crash left is
deleted and rebuilt from the changelog (stream_jobs.store_checkpoint), and a database this store lets go of, at a
revoke or at its stop, is flushed to disk first; the clean stop's checkpoint vouches only for a flushed store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from aiokafka.structs import ConsumerRecord
from faust.stores import STORES
from faust.stores.memory import Store as MemoryStore
from faust.stores.rocksdb import Store
from faust.types import TP, CollectionT, StoreT
from rocksdict import Rdict, WriteBatch, WriteOptions

from stream_jobs.kafka_partitioner import partition_of

STORE_URL = "clickpulse-rocksdb://"


def _without_log() -> WriteOptions:
    options = WriteOptions()
    options.disable_wal = True
    return options


class KeyPartitionedRocksDBStore(Store):
    _row_write = _without_log()
    flushed_at_stop = False

    def _set(self, key: bytes, value: bytes | None) -> None:
        self.set_in(partition_of(key, self.table.partitions), key, value)

    def get_in(self, partition: int, key: bytes) -> bytes | None:
        return self._db_for_partition(partition).get(key)

    def set_in(self, partition: int, key: bytes, value: bytes | None) -> None:
        # Faust's _key_index, an LRU of the keys' partitions, is left out: a write costs 5 us more with it, and every
        # read of ours names the partition.
        self._db_for_partition(partition).put(key, value, self._row_write)

    def restore(self, tp: TP, records: Sequence[ConsumerRecord]) -> None:
        batch = WriteBatch(raw_mode=True)
        for record in records:
            if record.value is None:
                batch.delete(record.key)
            else:
                batch.put(record.key, record.value)
        self._db_for_partition(tp.partition).write(batch, self._row_write)
        self.set_persisted_offset(tp, records[-1].offset)

    def active_databases(self) -> list[tuple[int, Rdict]]:
        """The partition databases of the changelog partitions this worker is active for (Faust's
        _dbs_for_actives, with their partitions)."""
        actives = self.app.assignor.assigned_actives()
        topic = self.table.changelog_topic.get_topic_name()
        return [(partition, db) for partition, db in self._dbs.items() if TP(topic, partition) in actives]

    def revoke_partitions(self, table: CollectionT, tps: set[TP]) -> None:
        for tp in tps:
            if tp.topic in table.changelog_topic.topics and tp.partition in self._dbs:
                self._dbs[tp.partition].flush()
        super().revoke_partitions(table, tps)

    async def stop(self) -> None:
        for db in self._dbs.values():
            db.flush()
        self.flushed_at_stop = True
        await super().stop()

    def persist_offset_if_held(self, tp: TP, offset: int) -> None:
        """set_persisted_offset, into a partition's database the store still holds only: a changelog record
        acknowledged after its partition was revoked, or after the store stopped, must not open it again."""
        if tp.partition in self._dbs:
            self.set_persisted_offset(tp, offset)


def read_row(store: StoreT, partition: int, key: bytes) -> bytes | None:
    """A raw table row, by the partition its key lives in (no serializer layers: keys and values are bytes)."""
    if isinstance(store, KeyPartitionedRocksDBStore):
        return store.get_in(partition, key)
    assert isinstance(store, MemoryStore)
    return store.data.get(key)


def held_rows(store: StoreT) -> Iterator[tuple[bytes, int]]:
    """The key and partition of each row in the partitions this worker holds, read as they are consumed (a full
    sweep lets the loop run between them: listing millions at once would block it). Each database's iterator reads
    a snapshot taken when it starts, so rows written meanwhile are safe, and a rebalance does not disturb the list
    of databases, taken first."""
    if isinstance(store, KeyPartitionedRocksDBStore):
        for partition, db in store.active_databases():
            yield from ((key, partition) for key in store._visible_keys(db))
    else:
        assert isinstance(store, MemoryStore)
        partitions = store.table.partitions
        yield from [(key, partition_of(key, partitions)) for key in store.data]


def write_row(store: StoreT, partition: int, key: bytes, value: bytes) -> None:
    if isinstance(store, KeyPartitionedRocksDBStore):
        store.set_in(partition, key, value)
    else:
        assert isinstance(store, MemoryStore)
        store.data[key] = value


def restore_rows(store: StoreT, tp: TP, records: Sequence[ConsumerRecord]) -> None:
    """A changelog partition's records, in offset order, written into the store at once (a record without a value
    deletes its row), and how far the store now holds the changelog: Faust's apply_changelog_batch, without an
    Event per record."""
    if isinstance(store, KeyPartitionedRocksDBStore):
        store.restore(tp, records)
        return
    assert isinstance(store, MemoryStore)
    for record in records:
        if record.value is None:
            store.data.pop(record.key, None)
        else:
            store.data[record.key] = record.value


def flushed_at_stop(store: StoreT) -> bool:
    """Everything written is on disk: what a clean stop's checkpoint may vouch for (a memory store keeps nothing)."""
    return not isinstance(store, KeyPartitionedRocksDBStore) or store.flushed_at_stop


def persist_offset(store: StoreT, tp: TP, offset: int) -> None:
    """What Faust's own table write does once its changelog record is out: the local store remembers how far the
    changelog it holds goes, so a restart replays only the rest (a memory store keeps nothing across one)."""
    if isinstance(store, KeyPartitionedRocksDBStore):
        store.persist_offset_if_held(tp, offset)


STORES.aliases["clickpulse-rocksdb"] = f"{__name__}:KeyPartitionedRocksDBStore"
