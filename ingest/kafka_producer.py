"""librdkafka's idempotent producer (confluent-kafka) for asyncio: one callback per batch of records.

librdkafka batches and sends in its own threads; measured against a real broker on one core, a record
costs 3-9 us of CPU (20-record batches, 4-32 in flight), the round trip per ProduceRequest dominating.

Delivery reports are polled on the event loop's own thread, every millisecond while records are in flight.
A polling thread had to take the GIL for every record's report, each time waiting for a busy event loop
to let go of it: at 4,000 single-event requests/s a batch's reports took 30 ms to arrive. A batch's
callback runs inside the poll, not through a future, which would cost its senders one more turn of the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from ingest.spool import Record

log = logging.getLogger(__name__)
Settled = Callable[[list[Record]], None]

BUSY_POLL_S = 0.001
# Idle, polls only serve librdkafka's log lines and errors.
IDLE_POLL_S = 0.5


class Delivery:
    """The fate of one batch: which of its records Kafka did not take, known once every report is in."""

    def __init__(self, records: list[Record], on_settled: Settled) -> None:
        self.records = records
        self.failed: list[Record] = []
        self.waiting = len(records)
        self.on_settled = on_settled

    def undelivered(self) -> list[Record]:
        """The failed records in the batch's order (equal records are interchangeable)."""
        if not self.failed:
            return []
        left = Counter(self.failed)
        out = []
        for record in self.records:
            if left[record] > 0:
                left[record] -= 1
                out.append(record)
        return out


class KafkaProducer:
    def __init__(self, bootstrap: str, loop: asyncio.AbstractEventLoop) -> None:
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "client.id": "clickpulse-ingest",
                "enable.idempotence": True,
                "acks": "all",
                # The sink already hands over one batch per turn of the event loop, so librdkafka need not wait
                # for more: at 10 ms a busy single-event collector idled a quarter of the time on acks (4,200-5,200
                # req/s on one core), at 1 ms it ran 5,900-7,500 and its broker thread took 3% of the core.
                "linger.ms": 1,
                # Java's and aiokafka's partitioner, so a visitor's key lands where other producers put it.
                "partitioner": "murmur2_random",
                # An outage longer than this turns in-doubt batches into plain spooled ones.
                "delivery.timeout.ms": 120_000,
                "queue.buffering.max.messages": 1_000_000,
                "log_level": 3,
                # Through our logging (JSON lines, our levels) instead of librdkafka's own stderr lines;
                # our polls of delivery reports hand the records over.
                "logger": logging.getLogger("librdkafka"),
            }
        )
        self._loop = loop
        self._finished: list[Delivery] = []
        self._in_flight = 0
        self._next_poll = loop.call_later(IDLE_POLL_S, self._poll)

    def send(self, records: list[Record], on_settled: Settled) -> None:
        """Queue the records in order; on_settled gets those Kafka did not take (empty: all delivered), on the
        event loop's thread, maybe before send returns."""
        delivery = Delivery(records, on_settled)
        report = self._reporter(delivery)
        by_topic: dict[str, list[dict[str, bytes]]] = {}
        for topic, key, value in records:
            by_topic.setdefault(topic, []).append({"key": key, "value": value})
        for topic, messages in by_topic.items():
            # One call into librdkafka per topic, not one per record: the per-call cost dominated.
            try:
                self._producer.produce_batch(topic, messages, on_delivery=report)
                not_queued = [m for m in messages if "_error" in m]
            except (BufferError, KafkaException):
                not_queued = messages
            for message in not_queued:
                delivery.failed.append((topic, message["key"], message["value"]))
            delivery.waiting -= len(not_queued)
        if delivery.waiting == 0:
            on_settled(delivery.undelivered())
            return
        if self._in_flight == 0:
            self._next_poll.cancel()
            self._next_poll = self._loop.call_later(BUSY_POLL_S, self._poll)
        self._in_flight += delivery.waiting

    def _reporter(self, delivery: Delivery) -> Callable[[KafkaError | None, Message], None]:
        def report(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                delivery.failed.append((message.topic(), message.key(), message.value()))
            delivery.waiting -= 1
            self._in_flight -= 1
            if delivery.waiting == 0:
                self._finished.append(delivery)

        return report

    def _poll(self) -> None:
        try:
            self._producer.poll(0)
            if self._finished:
                self._settle_finished()
        finally:  # one failed poll must not end the polling: every batch in flight would wait for ever
            self._next_poll = self._loop.call_later(BUSY_POLL_S if self._in_flight else IDLE_POLL_S, self._poll)

    def reachable(self, timeout_s: float) -> bool:
        """Blocking: whether the cluster answers a metadata request in time."""
        try:
            self._producer.list_topics(timeout=timeout_s)
        except KafkaException:
            return False
        return True

    async def close(self, timeout_s: float) -> None:
        """Wait up to timeout_s for queued records; their reports settle their batches like any other."""
        self._next_poll.cancel()
        await asyncio.to_thread(self._producer.flush, timeout_s)
        self._settle_finished()

    def _settle_finished(self) -> None:
        finished, self._finished = self._finished, []
        for delivery in finished:
            try:
                delivery.on_settled(delivery.undelivered())
            except Exception:  # the other batches' senders must still hear of theirs
                log.exception("settling a delivered batch failed")
