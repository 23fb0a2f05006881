"""The local broker bounds how long the worker's compacted changelog keeps a key's older rows (an erased visitor's
sessions, pages and customer id): a compacted topic is never aged out, and Kafka's default leaves its cleaning
without a time limit."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from clickpulse.local_stack.kafka_broker import MAX_COMPACTION_LAG_MS
from clickpulse.records import EVENTS_TOPIC
from tests.running_stack import RunningStack, wait_until

pytestmark = pytest.mark.integration


def test_the_workers_changelog_is_compacted_within_as_long_as_the_other_topics_keep_records(
    stack: RunningStack,
) -> None:
    admin = AdminClient({"bootstrap.servers": stack.settings.kafka_bootstrap})
    changelog = f"{stack.settings.worker_id}-visitors-changelog"
    assert wait_until(lambda: changelog in admin.list_topics(timeout=10).topics, timeout_s=60)
    events = stack.settings.topic(EVENTS_TOPIC)
    futures = admin.describe_configs([ConfigResource("topic", changelog), ConfigResource("topic", events)])
    configs = {resource.name: future.result(timeout=30) for resource, future in futures.items()}
    assert configs[changelog]["cleanup.policy"].value == "compact"
    assert int(configs[changelog]["max.compaction.lag.ms"].value) == MAX_COMPACTION_LAG_MS
    assert int(configs[events]["retention.ms"].value) == MAX_COMPACTION_LAG_MS
