"""librdkafka's idempotent producer (confluent-kafka) for asyncio: one future per batch of records.

librdkafka sends in its own threads (about a microsecond per record, where aiokafka spends tens in
Python). A daemon thread polls it for delivery reports and hands finished batches to the event loop
in one call per poll, not one per record.
"""

from __future__ import annotations

import asyncio
import threading

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from ingest.spool import Record

POLL_S = 0.05


class Delivery:
    """The fate of one batch: which of its records Kafka acknowledged, known once all reports are in."""

    def __init__(self, records: list[Record], done: asyncio.Future[list[Record]]) -> None:
        self.records = records
        self.failed = [False] * len(records)
        self.waiting = len(records)
        self.done = done

    def undelivered(self) -> list[Record]:
        return [record for record, failed in zip(self.records, self.failed, strict=True) if failed]


class KafkaProducer:
    def __init__(self, bootstrap: str, loop: asyncio.AbstractEventLoop) -> None:
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "client.id": "clickpulse-ingest",
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 2,
                # An outage longer than this turns in-doubt batches into plain spooled ones.
                "delivery.timeout.ms": 120_000,
                "queue.buffering.max.messages": 1_000_000,
                "log_level": 3,
            }
        )
        self._loop = loop
        self._finished: list[Delivery] = []
        self._running = True
        self._poller = threading.Thread(target=self._poll_forever, name="kafka-delivery-reports", daemon=True)
        self._poller.start()

    def send(self, records: list[Record]) -> asyncio.Future[list[Record]]:
        """Queue the records in order; the future gives those Kafka did not take (empty: all delivered)."""
        delivery = Delivery(records, self._loop.create_future())
        for index, (topic, key, value) in enumerate(records):
            try:
                self._producer.produce(topic, value, key, on_delivery=self._reporter(delivery, index))
            except (BufferError, KafkaException):
                # Not queued: this record and the rest count as failed once the queued ones report.
                for rest in range(index, len(records)):
                    delivery.failed[rest] = True
                delivery.waiting -= len(records) - index
                break
        if delivery.waiting == 0:
            delivery.done.set_result(delivery.undelivered())
        return delivery.done

    def _reporter(self, delivery: Delivery, index: int):  # type: ignore[no-untyped-def]
        def report(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                delivery.failed[index] = True
            delivery.waiting -= 1
            if delivery.waiting == 0:
                self._finished.append(delivery)

        return report

    def _poll_forever(self) -> None:
        while self._running:
            self._producer.poll(POLL_S)
            if self._finished:
                finished, self._finished = self._finished, []
                self._loop.call_soon_threadsafe(_settle_all, finished)

    def reachable(self, timeout_s: float) -> bool:
        """Blocking: whether the cluster answers a metadata request in time."""
        try:
            self._producer.list_topics(timeout=timeout_s)
        except KafkaException:
            return False
        return True

    def close(self, timeout_s: float) -> None:
        """Blocking: wait up to timeout_s for queued records; their reports reach the loop like any other."""
        self._running = False
        self._poller.join()
        self._producer.flush(timeout_s)
        if self._finished:
            self._loop.call_soon_threadsafe(_settle_all, self._finished)


def _settle_all(finished: list[Delivery]) -> None:
    for delivery in finished:
        if not delivery.done.done():
            delivery.done.set_result(delivery.undelivered())
