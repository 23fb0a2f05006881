"""Where each partition of the intent topic ends (Kafka's high watermark: the offset its next record gets), for the
intent feed to tell a cursor that points past it."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

ASK_TIMEOUT_S = 3.0
# Ends only grow, so an offset below a known end is below the real one, unless the topic was reset meanwhile: known
# ends are asked again this often, for a reset to show.
KNOWN_FOR_S = 10.0


class PartitionEndsUnknown(Exception):
    """Kafka did not say where the partitions end in time."""


class PartitionEnds:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._known: dict[int, int] = {}
        self._asked_at = float("-inf")

    def past_the_end(self, positions: dict[int, int]) -> list[int]:
        """The partitions whose offset here is at or past their end (a partition the topic lacks ends at 0). Kafka is
        asked only when the known ends are old or do not settle it, so a poller's every page costs no question."""
        if not positions:
            return []
        if time.monotonic() - self._asked_at > KNOWN_FOR_S or self._beyond(positions, self._known):
            self._known, self._asked_at = self._ask(), time.monotonic()
        return self._beyond(positions, self._known)

    @staticmethod
    def _beyond(positions: dict[int, int], ends: dict[int, int]) -> list[int]:
        return [partition for partition, offset in positions.items() if offset >= ends.get(partition, 0)]

    def _ask(self) -> dict[int, int]:
        # A client per question: a lasting one would keep reconnecting (and queue its log lines) while Kafka is away
        # and nobody asks. It only asks offsets: it never joins its group, subscribes or commits.
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "clickpulse-api-partition-ends",
                "enable.auto.commit": False,
                "log_level": 0,  # an unreachable Kafka is the 503 this leads to, logged once a minute by the API
            }
        )
        try:
            listed = consumer.list_topics(self.topic, timeout=ASK_TIMEOUT_S).topics[self.topic]
            ends = {}
            for partition in listed.partitions:
                marks = consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=ASK_TIMEOUT_S, cached=False
                )
                if marks is None:
                    raise PartitionEndsUnknown(f"Kafka did not answer within {ASK_TIMEOUT_S} s")
                ends[partition] = marks[1]
            return ends
        except KafkaException as exc:
            raise PartitionEndsUnknown(str(exc)) from None
        finally:
            consumer.close()
