"""The worker's batch path against a real Kafka broker: every record's offset is committed, only once what its batch
sent is in Kafka, each key keeps its order, and a graceful stop finishes and commits the batch in flight."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from clickpulse.local_stack.kafka_broker import broker_command
from clickpulse.local_stack.supervisor import Service, Supervisor, port_open
from clickpulse.settings import REPO_ROOT, Settings
from tests.running_stack import TEST_PORT_BASE

pytestmark = pytest.mark.integration
KAFKA_PORT = TEST_PORT_BASE + 370
PARTITIONS = 4
Copy = tuple[int, int]  # (partition, offset) of the source record


@pytest.fixture(scope="module")
def kafka() -> Iterator[Settings]:
    folder = Path(tempfile.mkdtemp(prefix="cp-batch-"))
    env = {
        **os.environ,
        "CLICKPULSE_DATA_DIR": str(folder),
        "CLICKPULSE_KAFKA_BOOTSTRAP": f"127.0.0.1:{KAFKA_PORT}",
        "CLICKPULSE_KAFKA_CONTROLLER_PORT": str(KAFKA_PORT + 1),
    }
    settings = Settings(data_dir=folder, kafka_bootstrap=env["CLICKPULSE_KAFKA_BOOTSTRAP"],
                        kafka_controller_port=KAFKA_PORT + 1)  # fmt: skip
    supervisor = Supervisor(folder / "logs", folder / "stack.json", env)
    try:
        supervisor.start(Service("kafka", broker_command(settings), lambda: port_open("127.0.0.1", KAFKA_PORT)))
        yield settings
    finally:
        supervisor.stop_all()
        shutil.rmtree(folder, ignore_errors=True)


async def create_topics(settings: Settings, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, num_partitions=PARTITIONS, replication_factor=1) for n in names])
    finally:
        await admin.close()


async def produce(settings: Settings, topic: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=10)
    await producer.start()
    try:
        sent = [await producer.send(topic, f"{i}".encode(), key=f"k{i % 50}".encode()) for i in range(n)]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def committed(settings: Settings, group: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except KafkaError:  # no coordinator before the group first joins
        return {}
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


async def copies(settings: Settings, sink: str) -> dict[bytes, list[Copy]]:
    """Everything in the sink so far, per key in the order it was written."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(sink, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: dict[bytes, list[Copy]] = defaultdict(list)
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    partition, offset = r.value.decode().split(":")
                    out[r.key].append((int(partition), int(offset)))
        return out
    finally:
        await consumer.stop()


def start_copier(settings: Settings, source: str, sink: str, delay_s: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CLICKPULSE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "CLICKPULSE_DATA_DIR": str(settings.data_dir / source)}  # fmt: skip
    cmd = [sys.executable, "-m", "tests.integration.batch_copier", source, sink, str(delay_s)]
    return subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True)


def uncopied_but_committed(offsets: dict[int, int], copied: set[Copy]) -> list[Copy]:
    return [(p, o) for p, end in offsets.items() for o in range(end) if (p, o) not in copied]


def test_every_offset_is_committed_only_after_its_batch_is_out_and_each_key_keeps_its_order(kafka: Settings) -> None:
    source, sink = f"src-{uuid.uuid4().hex[:8]}", f"sink-{uuid.uuid4().hex[:8]}"
    asyncio.run(create_topics(kafka, source, sink))
    asyncio.run(produce(kafka, source, 3000))
    copier = start_copier(kafka, source, sink, delay_s=0.02)
    try:
        deadline, checks = time.monotonic() + 90, 0
        while time.monotonic() < deadline:
            assert copier.poll() is None, "the copier died"
            offsets = asyncio.run(committed(kafka, f"copier-{source}", source))
            copied = {c for cs in asyncio.run(copies(kafka, sink)).values() for c in cs}
            assert uncopied_but_committed(offsets, copied) == []
            checks += 1
            if sum(offsets.values()) == 3000:
                break
        assert sum(offsets.values()) == 3000, offsets
        assert checks > 1
    finally:
        copier.terminate()
        copier.wait(30)
    by_key = asyncio.run(copies(kafka, sink))
    assert sum(len(set(cs)) for cs in by_key.values()) == 3000
    for key, cs in by_key.items():
        first_seen = list(dict.fromkeys(cs))
        assert len({p for p, _ in first_seen}) == 1, key
        assert first_seen == sorted(first_seen), key


def test_a_graceful_stop_finishes_and_commits_the_batch_in_flight(kafka: Settings) -> None:
    source, sink = f"src-{uuid.uuid4().hex[:8]}", f"sink-{uuid.uuid4().hex[:8]}"
    asyncio.run(create_topics(kafka, source, sink))
    asyncio.run(produce(kafka, source, 2000))
    copier = start_copier(kafka, source, sink, delay_s=1.0)  # each batch sleeps 1 s after its copies are sent
    try:
        deadline = time.monotonic() + 60
        while not asyncio.run(copies(kafka, sink)) and time.monotonic() < deadline:
            assert copier.poll() is None, "the copier died"
            time.sleep(0.1)
        time.sleep(0.3)  # well inside a batch's second
        copier.send_signal(signal.SIGTERM)
        assert copier.wait(30) == 0
    finally:
        if copier.poll() is None:
            copier.kill()
    offsets = asyncio.run(committed(kafka, f"copier-{source}", source))
    copied = {c for cs in asyncio.run(copies(kafka, sink)).values() for c in cs}
    assert copied, "the copier copied nothing"
    assert uncopied_but_committed(offsets, copied) == []
    # Nothing was copied without being committed: the batch in flight at the stop finished and was committed.
    assert sorted(copied) == sorted((p, o) for p, end in offsets.items() for o in range(end))
