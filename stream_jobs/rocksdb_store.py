"""Faust's RocksDB store (through rocksdict), usable outside stream iteration.

Faust's store picks the partition's database from the event being processed, so a write from a
timer (closing idle sessions) or from a batch taken with take_events fails. Our table uses the
default partitioner for its changelog (use_partitioner=True), so the partition of a key is known
from the key itself: murmur2, as Kafka's and aiokafka's default partitioner compute it.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2
from faust.stores import STORES
from faust.stores.rocksdb import Store
from faust.streams import current_event

STORE_URL = "clickpulse-rocksdb://"


class KeyPartitionedRocksDBStore(Store):
    def _partition_of(self, key: bytes) -> int:
        event = current_event()
        if event is not None:
            return event.message.partition
        return (murmur2(key) & 0x7FFFFFFF) % self.table.partitions

    def _set(self, key: bytes, value: bytes | None) -> None:
        partition = self._partition_of(key)
        self._key_index[key] = partition
        self._db_for_partition(partition).put(key, value)


STORES.aliases["clickpulse-rocksdb"] = f"{__name__}:KeyPartitionedRocksDBStore"
