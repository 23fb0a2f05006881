"""Records put on a test's Kafka topics directly, past ingest (what the workers and the loader read), and the
worker's table changelog read back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from clickpulse.records import EVENTS_TOPIC, EnrichedEvent, event_encoder
from clickpulse.settings import Settings


def put_records(bootstrap: str, records: Iterable[tuple[str, bytes | None, bytes]]) -> None:
    """Send each (topic, key, value) in order, each acknowledged before the next goes."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            for topic, key, value in records:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(send())


def put_events(settings: Settings, events: Iterable[EnrichedEvent]) -> None:
    """Enriched events on the settings' events topic, keyed as ingest keys them."""
    put_records(
        settings.kafka_bootstrap, ((settings.topic(EVENTS_TOPIC), e.key, event_encoder.encode(e)) for e in events)
    )


def table_changelog(settings: Settings) -> list[ConsumerRecord]:
    """Every record of the worker's visitor table changelog, partition by partition; none before the worker has
    created the topic."""

    async def read() -> list[ConsumerRecord]:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                                    group_id=None)  # fmt: skip
        await consumer.start()
        try:
            topics = [t for t in await consumer.topics() if t.endswith("-changelog")]
            if not topics:
                return []
            assert len(topics) == 1, topics
            consumer.subscribe(topics)
            out: list[ConsumerRecord] = []
            while batches := await consumer.getmany(timeout_ms=2000):
                for records in batches.values():
                    out += records
            return out
        finally:
            await consumer.stop()

    return asyncio.run(read())
