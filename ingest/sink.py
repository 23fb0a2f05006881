"""Where accepted records go: Kafka first, the local spool when Kafka is down or too slow.

The endpoint knows nothing of Kafka: it hands records to EventSink.publish and learns whether
they are in Kafka (200) or safely spooled (202).

The records of every request that reaches publish in one turn of the event loop go to Kafka as one
batch with one deadline: per request, a produce call, a delivery future and a timer had cost about as
much as all of enrichment (a single-event request paid 40-50 us for Kafka, an event in a batch of 20 paid 8).

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
from typing import Protocol

import msgspec

from clickpulse.folder_claim import claim_folder, release_folder
from clickpulse.settings import Settings
from ingest.kafka_producer import KafkaProducer, Settled
from ingest.metrics import Metrics
from ingest.spool import Record, Spool, SpoolFull, SpoolRefused, SpoolUnavailable

log = logging.getLogger(__name__)

# A graceful stop waits this long for in-doubt sends, then as long again for queued records; together they stay
# well inside the supervisor's 20 s before SIGKILL. What is left stays spooled for the next start.
DRAIN_TIMEOUT_S = 5.0
# After a replay pass fails (a disk error), the replayer waits this long and tries again.
REPLAY_RETRY_S = 5.0


class RecordProducer(Protocol):
    """What the sink needs of Kafka (ingest/kafka_producer.py's KafkaProducer)."""

    def send(self, records: list[Record], on_settled: Settled) -> None: ...

    def reachable(self, timeout_s: float) -> bool: ...

    async def close(self, timeout_s: float) -> None: ...


class Outcome(Enum):
    PUBLISHED = "published"
    SPOOLED = "spooled"


class Gathering:
    """The records of the requests that reached publish in one turn of the event loop, and their answers."""

    __slots__ = ("answered", "answers", "deadline", "in_doubt", "records")

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.answers: list[asyncio.Future[Outcome]] = []
        self.answered = False
        self.deadline: asyncio.TimerHandle | None = None
        self.in_doubt: Path | None = None  # its spool file, once past the deadline with its sends in flight

    def answer(self, outcome: Outcome) -> None:
        self.answered = True
        for answer in self.answers:
            if not answer.done():
                answer.set_result(outcome)

    def refuse(self, refused: SpoolRefused) -> None:
        """The spool cannot take the records: every request of the gathering answers 503 and its client retries."""
        self.answered = True
        for answer in self.answers:
            if not answer.done():
                answer.set_exception(refused)


class EventSink:
    def __init__(self, settings: Settings, metrics: Metrics, producer: RecordProducer | None = None) -> None:
        """Without a producer, start() connects a KafkaProducer to settings.kafka_bootstrap."""
        self.settings = settings
        self.metrics = metrics
        folder = settings.data_dir / "ingest-spool"
        # Before Spool clears leftovers: a second ingest on the folder would delete the first one's half-written
        # batches and replay those whose sends the first still has in flight.
        self._spool_claim: int | None = claim_folder(
            folder, f"another ingest is using the spool at {folder}; give each ingest its own CLICKPULSE_DATA_DIR"
        )
        self.spool = Spool(folder, settings.spool_max_bytes)
        self._producer = producer
        self._replayer: asyncio.Task[None] | None = None
        self._kafka_ok = asyncio.Event()
        self._in_doubt: dict[Path, asyncio.Future[None]] = {}
        self._gathering: Gathering | None = None
        self._sending: set[Gathering] = set()

    async def start(self) -> None:
        if self._producer is None:
            self._producer = KafkaProducer(self.settings.kafka_bootstrap, asyncio.get_running_loop())
        self._replayer = asyncio.create_task(self._replay_forever())

    async def stop(self) -> None:
        """Drain: give in-doubt batches and queued records time to reach Kafka; what does not stays spooled."""
        if self._sending:  # each is answered within the produce deadline, sent or spooled
            await asyncio.wait([answer for gathering in self._sending for answer in gathering.answers])
        if self._in_doubt:
            await asyncio.wait(list(self._in_doubt.values()), timeout=DRAIN_TIMEOUT_S)
        if self._replayer:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer
        if self._producer:
            await self._producer.close(DRAIN_TIMEOUT_S)
        if self._spool_claim is not None:
            release_folder(self._spool_claim)
            self._spool_claim = None

    @property
    def ready(self) -> bool:
        return self._kafka_ok.is_set()

    @property
    def in_doubt_batches(self) -> int:
        return len(self._in_doubt)

    async def publish(self, records: list[Record]) -> Outcome:
        if not records:
            return Outcome.PUBLISHED
        gathering = self._gathering
        if gathering is None:
            gathering = self._gathering = Gathering()
            asyncio.get_running_loop().call_soon(self._send, gathering)  # after this turn's other requests
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        gathering.records += records
        gathering.answers.append(answer)
        return await answer

    # Sending is callbacks, not a task awaiting the delivery: each await would add a turn of a busy event
    # loop to every request's latency.
    def _send(self, gathering: Gathering) -> None:
        self._gathering = None
        # While spooled batches wait, new ones queue behind them so order per visitor holds.
        if self.spool.has_pending:
            self._spool_then_answer(gathering, gathering.records)
            return
        assert self._producer is not None
        started = time.perf_counter()
        self._sending.add(gathering)
        loop = asyncio.get_running_loop()
        gathering.deadline = loop.call_later(self.settings.produce_deadline_s, self._past_deadline, gathering)
        self._producer.send(gathering.records, lambda undelivered: self._delivered(gathering, undelivered, started))

    def _delivered(self, gathering: Gathering, undelivered: list[Record], started: float) -> None:
        if gathering.answered:  # past the deadline: spooled in doubt, unless the spool was full
            if gathering.in_doubt is not None:
                self._settle(gathering.in_doubt, undelivered)
            return
        assert gathering.deadline is not None
        gathering.deadline.cancel()
        self._sending.discard(gathering)
        if not undelivered:
            self.metrics.observe_produce(time.perf_counter() - started)
            self._kafka_ok.set()
            gathering.answer(Outcome.PUBLISHED)
            return
        log.warning("kafka refused %d of %d records; spooling them", len(undelivered), len(gathering.records))
        self._kafka_ok.clear()
        self._spool_then_answer(gathering, undelivered)

    def _past_deadline(self, gathering: Gathering) -> None:
        records = gathering.records
        log.warning("kafka slower than %.1f s; spooling %d records in doubt", self.settings.produce_deadline_s,
                    len(records))  # fmt: skip
        self._kafka_ok.clear()
        self._sending.discard(gathering)
        try:
            path = self._spool(records)
        except SpoolRefused as refused:
            gathering.refuse(refused)  # the sends stay in flight and the clients retry
            return
        self._in_doubt[path] = asyncio.get_running_loop().create_future()
        gathering.in_doubt = path
        self.metrics.inc("in_doubt_records", len(records))
        gathering.answer(Outcome.SPOOLED)

    def _spool_then_answer(self, gathering: Gathering, records: list[Record]) -> None:
        try:
            self._spool(records)
        except SpoolRefused as refused:
            gathering.refuse(refused)
            return
        gathering.answer(Outcome.SPOOLED)

    def _spool(self, records: list[Record]) -> Path:
        try:
            path = self.spool.append(records)
        except SpoolFull:
            self.metrics.inc("spool_full")
            raise
        except OSError as exc:
            # Raised inside an event-loop callback, it would leave the batch's requests waiting for ever.
            log.exception("spool write failed; refusing %d records", len(records))
            self.metrics.inc("spool_unavailable")
            raise SpoolUnavailable from exc
        self.metrics.inc("spooled_records", len(records))
        return path

    def _settle(self, path: Path, undelivered: list[Record]) -> None:
        """The in-doubt sends of one spooled batch are over: keep in the spool only what Kafka did not take."""
        try:
            spooled = self.spool.read(path)
            self.metrics.inc("in_doubt_delivered_records", len(spooled) - len(undelivered))
            self.spool.rewrite(path, undelivered)
        finally:  # a failed rewrite leaves the whole batch to the replayer, which must not wait on it for ever
            self._in_doubt.pop(path).set_result(None)

    async def _replay_forever(self) -> None:
        while True:
            try:
                await self._replay_pending()
            except Exception:  # a disk error must not end replay until the next restart
                log.exception("spool replay failed; retrying in %.0f s", REPLAY_RETRY_S)
                await asyncio.sleep(REPLAY_RETRY_S)

    async def _replay_pending(self) -> None:
        """One pass: replay spooled batches in order until one must wait (in doubt, or Kafka refused)."""
        assert self._producer is not None
        pending = self.spool.pending()
        if not pending:
            if not self._kafka_ok.is_set() and await asyncio.to_thread(self._producer.reachable, 5):
                self._kafka_ok.set()
            await asyncio.sleep(0.5)
            return
        for path in pending:
            if path in self._in_doubt:
                await asyncio.sleep(0.1)  # its original sends may still land; never replay past it
                return
            try:
                records = self.spool.read(path)
            except msgspec.DecodeError:
                bad = self.spool.set_aside(path)
                self.metrics.inc("spool_bad_batches")
                log.error("spooled batch %s cannot be decoded; set aside as %s", path.name, bad.name)
                continue
            settled: asyncio.Future[list[Record]] = asyncio.get_running_loop().create_future()
            self._producer.send(records, settled.set_result)
            undelivered = await settled
            self.spool.rewrite(path, undelivered)
            self.metrics.inc("replayed_records", len(records) - len(undelivered))
            if undelivered:
                log.info("spool replay waits for kafka")
                await asyncio.sleep(1.0)
                return
        self._kafka_ok.set()
