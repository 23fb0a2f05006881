"""Records queued into the Kafka client a partition's batch at a time.

aiokafka's send() costs about 25 us of CPU per record (a coroutine, a future per record, resolving them all),
about as much as the worker's own work on an event, and a batch of events queues a session record and a table
row per visitor. Built into one BatchBuilder per topic partition and queued with send_batch, a record costs a
third of that. Keyed records go to the partition Kafka's default partitioner gives their key, the one send()
would pick, so consumers see one visitor's records in one partition whichever way they were sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import RecordMetadata

from stream_jobs.kafka_partitioner import partition_of


@dataclass(frozen=True, slots=True)
class SentBatch:
    partition: int
    records: int
    acked: asyncio.Future[RecordMetadata]  # settles once Kafka has the whole batch

    def last_offset(self) -> int:
        return self.acked.result().offset + self.records - 1


class PartitionBatches:
    """Records by topic partition, queued in the order they were added."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._builders: dict[tuple[str, int], list[BatchBuilder]] = {}

    async def add_keyed(self, topic: str, records: Iterable[tuple[bytes, bytes]]) -> None:
        partitions = sorted(await self._producer.partitions_for(topic))
        for key, value in records:
            self.add(topic, partitions[partition_of(key, len(partitions))], key, value)

    def add(self, topic: str, partition: int, key: bytes, value: bytes) -> None:
        builders = self._builders.setdefault((topic, partition), [])
        if builders and builders[-1].append(timestamp=None, key=key, value=value) is not None:
            return
        builder = self._producer.create_batch()
        builder.append(timestamp=None, key=key, value=value)  # an empty batch takes one record of any size
        builders.append(builder)

    async def send(self) -> list[SentBatch]:
        """Queue every batch (waiting, per partition, for Kafka to take the one queued before)."""
        sent = []
        for (topic, partition), builders in self._builders.items():
            for builder in builders:
                acked = await self._producer.send_batch(builder, topic, partition=partition)
                sent.append(SentBatch(partition, builder.record_count(), acked))
        self._builders = {}
        return sent
