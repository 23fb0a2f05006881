"""ensure_topics against a real single broker: our topics get the configured partitions and replication factor, and
a replication factor the cluster cannot hold is refused loudly (the admin client only reports it in its response,
which used to leave the topics to the broker's auto-creation)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import InvalidPartitionsError

from clickpulse.local_stack.kafka_broker import broker_command
from clickpulse.local_stack.ports import KAFKA, ports_env
from clickpulse.local_stack.supervisor import Service, Supervisor, port_open
from clickpulse.records import EVENTS_TOPIC, SESSIONS_TOPIC
from clickpulse.settings import Settings
from clickpulse.topics import ensure_topics
from tests.running_stack import TEST_PORT_BASE

pytestmark = pytest.mark.integration
BASE = TEST_PORT_BASE + 500


@pytest.fixture(scope="module")
def kafka() -> Iterator[Settings]:
    folder = Path(tempfile.mkdtemp(prefix="cp-topics-"))
    env = {**ports_env(BASE), "CLICKPULSE_DATA_DIR": str(folder)}
    settings = Settings(**{k.removeprefix("CLICKPULSE_").lower(): v for k, v in env.items()})
    supervisor = Supervisor(folder / "logs", folder / "stack.json", env)
    try:
        supervisor.start(Service("kafka", broker_command(settings), lambda: port_open("127.0.0.1", BASE + KAFKA)))
        yield settings
    finally:
        supervisor.stop_all()
        shutil.rmtree(folder, ignore_errors=True)


async def replicas_per_partition(settings: Settings, *topics: str) -> dict[str, list[int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return {t["topic"]: sorted(len(p["replicas"]) for p in t["partitions"]) for t in described}


def test_topics_are_created_with_the_configured_partitions_and_replication_factor(kafka: Settings) -> None:
    settings = kafka.model_copy(update={"topic_prefix": "made.", "topic_partitions": 3, "topic_replication_factor": 1})
    asyncio.run(ensure_topics(settings))  # right after the broker's port opened: it waits for the broker to register
    asyncio.run(ensure_topics(settings))  # and a second time finds them all there
    topics = (settings.topic(EVENTS_TOPIC), settings.topic(SESSIONS_TOPIC))
    assert asyncio.run(replicas_per_partition(settings, *topics)) == {topic: [1, 1, 1] for topic in topics}


def test_a_replication_factor_beyond_the_brokers_is_refused_with_the_setting_named(kafka: Settings) -> None:
    settings = kafka.model_copy(update={"topic_prefix": "refused.", "topic_replication_factor": 2})
    with pytest.raises(RuntimeError, match="CLICKPULSE_TOPIC_REPLICATION_FACTOR=2 needs 2 Kafka brokers; 1 registered"):
        asyncio.run(ensure_topics(settings, timeout_s=3))


def test_a_topic_kafka_refuses_to_create_raises_its_error(kafka: Settings) -> None:
    settings = kafka.model_copy(update={"topic_prefix": "bad.", "topic_partitions": 0})
    with pytest.raises(InvalidPartitionsError, match=r"refused to create topic 'bad\.events'"):
        asyncio.run(ensure_topics(settings))


def test_topic_creation_waits_for_a_broker_that_starts_after_it(tmp_path: Path) -> None:
    """A worker started before Kafka (or with it) waits for it instead of exiting at the first refused connection."""
    base = TEST_PORT_BASE + 820
    env = {**ports_env(base), "CLICKPULSE_DATA_DIR": str(tmp_path)}
    settings = Settings(**{k.removeprefix("CLICKPULSE_").lower(): v for k, v in env.items()})
    command = broker_command(settings)
    supervisor = Supervisor(tmp_path / "logs", tmp_path / "stack.json", env)

    async def create_while_the_broker_starts() -> None:
        creating = asyncio.create_task(ensure_topics(settings, timeout_s=90))
        await asyncio.sleep(2)
        assert not creating.done(), creating.exception()
        kafka = Service("kafka", command, lambda: port_open("127.0.0.1", base + KAFKA))
        await asyncio.to_thread(supervisor.start, kafka)
        await creating

    try:
        asyncio.run(create_while_the_broker_starts())
        topic = settings.topic(EVENTS_TOPIC)
        assert asyncio.run(replicas_per_partition(settings, topic)) == {topic: [1] * settings.topic_partitions}
    finally:
        supervisor.stop_all()


def test_topic_creation_gives_up_on_an_unreachable_kafka_naming_the_setting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=f"127.0.0.1:{TEST_PORT_BASE + 820 + KAFKA}")
    with pytest.raises(RuntimeError, match=r"Kafka at 127\.0\.0\.1:\d+ \(CLICKPULSE_KAFKA_BOOTSTRAP\) not reachable"):
        asyncio.run(ensure_topics(settings, timeout_s=2))
