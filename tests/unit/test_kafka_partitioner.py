"""Our murmur2 partitioner against aiokafka's, the Java client's port: the same partition for every key."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from stream_jobs.kafka_partitioner import murmur2, partition_of


def test_murmur2_equals_aiokafkas_for_keys_of_every_length_and_tail() -> None:
    rng = random.Random(7)
    for length in range(0, 70):
        for _ in range(40):
            key = rng.randbytes(length)
            assert murmur2(key) == aiokafka_murmur2(key), key


def test_a_key_gets_the_partition_kafkas_default_partitioner_gives_it() -> None:
    partitioner = DefaultPartitioner()
    for key in (b"site:v1", b"site:v2", b"another:visitor-with-a-long-id", "s:é".encode()):
        for count in (1, 3, 4, 12):
            partitions = list(range(count))
            assert partition_of(key, count) == partitioner(key, partitions, partitions)
