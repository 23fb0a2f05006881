"""Where accepted records go: Kafka first, the local spool when Kafka is down or too slow.

The endpoint knows nothing of Kafka: it hands records to EventSink.publish and learns whether
they are in Kafka (200) or safely spooled (202).

A batch that misses the produce deadline is spooled "in doubt": its sends stay in flight, and when
they settle the spool file is removed (all delivered) or rewritten with only what Kafka did not take.
The replayer never replays a file whose sends are still in flight, and new batches queue behind it,
so each record reaches Kafka once and in order per visitor. Only a crash while a batch is in doubt
can replay records Kafka already had; downstream dedupes those by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from enum import Enum
from pathlib import Path

from clickpulse.settings import Settings
from ingest.kafka_producer import KafkaProducer
from ingest.metrics import Metrics
from ingest.spool import Record, Spool, SpoolFull

log = logging.getLogger(__name__)

# A graceful stop waits this long for in-doubt sends, then as long again for queued records; together they stay
# well inside the supervisor's 20 s before SIGKILL. What is left stays spooled for the next start.
DRAIN_TIMEOUT_S = 5.0


class Outcome(Enum):
    PUBLISHED = "published"
    SPOOLED = "spooled"


class EventSink:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.spool = Spool(settings.data_dir / "ingest-spool", settings.spool_max_bytes)
        self._producer: KafkaProducer | None = None
        self._replayer: asyncio.Task[None] | None = None
        self._kafka_ok = asyncio.Event()
        self._in_doubt: dict[Path, asyncio.Future[list[Record]]] = {}

    async def start(self) -> None:
        self._producer = KafkaProducer(self.settings.kafka_bootstrap, asyncio.get_running_loop())
        self._replayer = asyncio.create_task(self._replay_forever())

    async def stop(self) -> None:
        """Drain: give in-doubt batches and queued records time to reach Kafka; what does not stays spooled."""
        if self._in_doubt:
            await asyncio.wait(list(self._in_doubt.values()), timeout=DRAIN_TIMEOUT_S)
        if self._replayer:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer
        if self._producer:
            await asyncio.to_thread(self._producer.close, DRAIN_TIMEOUT_S)
            await asyncio.sleep(0)  # let the last delivery reports settle their batches

    @property
    def ready(self) -> bool:
        return self._kafka_ok.is_set()

    @property
    def in_doubt_batches(self) -> int:
        return len(self._in_doubt)

    async def publish(self, records: list[Record]) -> Outcome:
        if not records:
            return Outcome.PUBLISHED
        # While spooled batches wait, new ones queue behind them so order per visitor holds.
        if self.spool.has_pending:
            self._spool(records)
            return Outcome.SPOOLED
        started = time.perf_counter()
        assert self._producer is not None
        delivery = self._producer.send(records)
        if await settled_within(delivery, self.settings.produce_deadline_s):
            undelivered = delivery.result()
            if not undelivered:
                self.metrics.observe_produce(time.perf_counter() - started)
                self._kafka_ok.set()
                return Outcome.PUBLISHED
            log.warning("kafka refused %d of %d records; spooling them", len(undelivered), len(records))
            self._kafka_ok.clear()
            self._spool(undelivered)
            return Outcome.SPOOLED
        log.warning("kafka slower than %.1f s; spooling %d records in doubt", self.settings.produce_deadline_s,
                    len(records))  # fmt: skip
        self._kafka_ok.clear()
        path = self._spool(records)  # on SpoolFull the sends stay in flight and the client retries
        self._in_doubt[path] = delivery
        self.metrics.inc("in_doubt_records", len(records))
        delivery.add_done_callback(lambda task: self._settle(path, task))
        return Outcome.SPOOLED

    def _spool(self, records: list[Record]) -> Path:
        try:
            path = self.spool.append(records)
        except SpoolFull:
            self.metrics.inc("spool_full")
            raise
        self.metrics.inc("spooled_records", len(records))
        return path

    def _settle(self, path: Path, delivery: asyncio.Future[list[Record]]) -> None:
        """The in-doubt sends of one spooled batch are over: keep in the spool only what Kafka did not take."""
        del self._in_doubt[path]
        spooled = self.spool.read(path)
        failed = delivery.cancelled() or delivery.exception() is not None
        undelivered = spooled if failed else delivery.result()
        self.metrics.inc("in_doubt_delivered_records", len(spooled) - len(undelivered))
        self.spool.rewrite(path, undelivered)

    async def _replay_forever(self) -> None:
        assert self._producer is not None
        while True:
            pending = self.spool.pending()
            if not pending:
                if not self._kafka_ok.is_set() and await asyncio.to_thread(self._producer.reachable, 5):
                    self._kafka_ok.set()
                await asyncio.sleep(0.5)
                continue
            for path in pending:
                if path in self._in_doubt:
                    await asyncio.sleep(0.1)  # its original sends may still land; never replay past it
                    break
                records = self.spool.read(path)
                undelivered = await self._producer.send(records)
                self.spool.rewrite(path, undelivered)
                self.metrics.inc("replayed_records", len(records) - len(undelivered))
                if undelivered:
                    log.info("spool replay waits for kafka")
                    await asyncio.sleep(1.0)
                    break
            else:
                self._kafka_ok.set()


async def settled_within(future: asyncio.Future[list[Record]], timeout_s: float) -> bool:
    """Whether the future settles within timeout_s, leaving it running if not: asyncio.wait's job for one
    future, without the sets, tasks and checks that showed in profiles of single-event requests."""
    if future.done():
        return True
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    timer = asyncio.get_running_loop().call_later(timeout_s, wake)
    future.add_done_callback(wake)
    try:
        await waiter
    finally:
        timer.cancel()
        future.remove_done_callback(wake)
    return future.done()
