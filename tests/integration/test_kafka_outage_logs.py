"""While Kafka is away, every service says so once a minute with a count: the Kafka clients log each failed attempt,
many a second (the API's loader 65 a second), which buried every other line of the log during an outage."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError

from clickpulse.log_format import logging_config
from ingest.kafka_producer import KafkaProducer
from tests.running_stack import TEST_PORT_BASE, port_free

pytestmark = pytest.mark.integration
# No broker listens here: a Kafka that is down.
ABSENT_KAFKA = f"127.0.0.1:{TEST_PORT_BASE + 880}"
KAFKA_CLIENTS = ("librdkafka", "aiokafka")


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """The Kafka clients' warnings and errors through the services' own log handler (clickpulse.log_format)."""
    assert port_free(TEST_PORT_BASE + 880)
    stream = io.StringIO()
    config = logging_config("WARNING")
    config["handlers"]["stderr"]["stream"] = stream
    del config["root"]
    config["loggers"] = {
        name: {"level": "WARNING", "handlers": ["stderr"], "propagate": False} for name in KAFKA_CLIENTS
    }
    logging.config.dictConfig(config)
    yield stream
    for name in KAFKA_CLIENTS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_ingests_failed_connections_to_an_absent_kafka_are_logged_once_with_their_count(
    service_log: io.StringIO,
) -> None:
    unsettled: list[list[tuple[str, bytes, bytes]]] = []

    async def send_while_kafka_is_away() -> None:
        producer = KafkaProducer(ABSENT_KAFKA, asyncio.get_running_loop())
        producer.send([("events", b"s:v", b"{}")], unsettled.append)
        await asyncio.sleep(3)  # librdkafka retries its connection every few hundred ms
        assert not await asyncio.to_thread(producer.reachable, 1)
        await producer.close(0)

    asyncio.run(send_while_kafka_is_away())
    (line,) = lines(service_log)
    assert line["logger"] == "librdkafka" and line["level"] == "WARNING" and line["failures"] == 1
    assert "Connection refused" in str(line["message"])
    assert unsettled == []  # the record is still queued: an outage is not a delivery failure


def test_a_consumers_failed_connections_to_an_absent_kafka_are_logged_once_with_their_count(
    service_log: io.StringIO,
) -> None:
    async def start_three_times() -> None:
        for _ in range(3):
            consumer = AIOKafkaConsumer("events", bootstrap_servers=ABSENT_KAFKA, request_timeout_ms=1000)
            with pytest.raises(KafkaConnectionError):
                await consumer.start()
            await consumer.stop()

    asyncio.run(start_three_times())
    (line,) = lines(service_log)
    assert line["logger"] == "aiokafka" and line["level"] == "WARNING" and line["failures"] == 1
    assert "Unable connect to" in str(line["message"])
