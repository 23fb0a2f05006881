"""Creates the topics the stages exchange records through (idempotent)."""

from __future__ import annotations

import asyncio
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code

from clickpulse.dependency_wait import wait_for_dependency
from clickpulse.records import (
    DLQ_TOPIC,
    ERASURES_TOPIC,
    EVENTS_TOPIC,
    IDENTITIES_TOPIC,
    INTENT_TOPIC,
    SESSIONS_TOPIC,
)
from clickpulse.settings import Settings


async def _wait_for_brokers(admin: AIOKafkaAdminClient, wanted: int, timeout_s: float) -> None:
    """A broker listens before it has registered, and a topic needs a registered broker per copy: wait for them."""
    deadline = time.monotonic() + timeout_s
    while (brokers := len((await admin.describe_cluster())["brokers"])) < wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"CLICKPULSE_TOPIC_REPLICATION_FACTOR={wanted} needs {wanted} Kafka brokers; {brokers} registered"
            )
        await asyncio.sleep(0.5)


async def ensure_topics(settings: Settings, timeout_s: float = 60.0) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="clickpulse-admin")
    try:
        # Kafka may still be starting (a worker started with it, or before it).
        await wait_for_dependency(
            "Kafka",
            settings.kafka_bootstrap,
            "CLICKPULSE_KAFKA_BOOTSTRAP",
            admin.start,
            (KafkaConnectionError,),
            timeout_s,
        )
        await _wait_for_brokers(admin, settings.topic_replication_factor, timeout_s)
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                settings.topic(name),
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
            )
            for name in (EVENTS_TOPIC, DLQ_TOPIC, SESSIONS_TOPIC, INTENT_TOPIC, IDENTITIES_TOPIC, ERASURES_TOPIC)
            if settings.topic(name) not in existing
        ]
        if wanted:
            response = await admin.create_topics(wanted)
            # The admin client reports refusals per topic in the response instead of raising them.
            for name, code, *detail in response.topic_errors:
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise for_code(code)(f"Kafka refused to create topic {name!r}: {detail[0] if detail else ''}")
    finally:
        await admin.close()
