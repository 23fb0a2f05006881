"""Records queued a partition's batch at a time: where they go, in which order, and the offsets they get."""

from __future__ import annotations

import asyncio

from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import RecordMetadata, TopicPartition

from stream_jobs.kafka_partitioner import partition_of
from stream_jobs.partition_batches import PartitionBatches


class RecordingProducer:
    """Takes batches as aiokafka's producer does, and acknowledges them at once with running offsets."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.queued: list[tuple[str, int, int]] = []  # topic, partition, records
        self.offsets: dict[tuple[str, int], int] = {}

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)

    async def partitions_for(self, topic: str) -> set[int]:
        return {3, 0, 2, 1}

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> asyncio.Future[RecordMetadata]:
        base = self.offsets.get((topic, partition), 0)
        self.offsets[(topic, partition)] = base + batch.record_count()
        self.queued.append((topic, partition, batch.record_count()))
        acked: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        acked.set_result(RecordMetadata(topic, partition, TopicPartition(topic, partition), base, -1, 0, 0))
        return acked


def test_records_of_a_partition_fill_batches_in_order_and_the_last_offset_counts_them_all() -> None:
    async def scenario() -> None:
        producer = RecordingProducer(batch_size=300)
        batches = PartitionBatches(producer)
        for n in range(10):
            batches.add("changelog", n % 2, f"k{n}".encode(), b"x" * 100)
        sent = await batches.send()
        assert [(topic, partition) for topic, partition, _ in producer.queued] == [("changelog", 0)] * 3 + [
            ("changelog", 1)
        ] * 3
        assert sum(records for _, partition, records in producer.queued if partition == 0) == 5
        last = {s.partition: s for s in sent}
        assert last[0].last_offset() == last[1].last_offset() == 4
        assert await batches.send() == []  # sent once

    asyncio.run(scenario())


def test_keyed_records_of_one_visitor_go_in_one_batch_of_their_partition() -> None:
    async def scenario() -> None:
        producer = RecordingProducer(batch_size=1024 * 1024)
        batches = PartitionBatches(producer)
        await batches.add_keyed("sessions", [(b"s:v1", b"1"), (b"s:v2", b"2"), (b"s:v1", b"3")])
        await batches.send()
        v1 = [p for _, p, _ in producer.queued if p == partition_of(b"s:v1", 4)]
        assert len(v1) == 1 and sum(n for _, _, n in producer.queued) == 3

    asyncio.run(scenario())
