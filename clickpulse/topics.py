"""Creates the topics the stages exchange records through (idempotent)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code

from clickpulse.records import (
    DLQ_TOPIC,
    ERASURES_TOPIC,
    EVENTS_TOPIC,
    IDENTITIES_TOPIC,
    INTENT_TOPIC,
    SESSIONS_TOPIC,
)
from clickpulse.settings import Settings

log = logging.getLogger(__name__)


async def _start_when_reachable(admin: AIOKafkaAdminClient, bootstrap: str, timeout_s: float) -> None:
    """Kafka may still be starting (a worker started with it, or before it): try again until the deadline rather
    than exit at the first refused connection."""
    deadline = time.monotonic() + timeout_s
    for attempt in itertools.count():
        try:
            await asyncio.wait_for(admin.start(), max(deadline - time.monotonic(), 0.1))
            return
        except (KafkaConnectionError, TimeoutError):
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"Kafka at {bootstrap} (CLICKPULSE_KAFKA_BOOTSTRAP) not reachable within {timeout_s:.0f} s"
                ) from None
            if attempt == 0:
                log.warning("waiting up to %.0f s for Kafka at %s", timeout_s, bootstrap)
            await asyncio.sleep(1.0)


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
        await _start_when_reachable(admin, settings.kafka_bootstrap, timeout_s)
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
