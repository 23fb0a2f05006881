"""The requests of one turn of the event loop share a batch and its outcome. A batch past the produce deadline
is spooled in doubt; when its sends settle the spool keeps only what
Kafka did not take, and batches after it queue behind it instead of overtaking it. A disk that fails the spool
gets the batch's requests refused, never left waiting; a damaged spool file is set aside and replay goes on."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from clickpulse.settings import Settings
from ingest.metrics import Metrics
from ingest.sink import EventSink, Outcome
from ingest.spool import Record, Spool, SpoolUnavailable

BATCH: list[Record] = [("events", b"s:v1", b"1"), ("events", b"s:v2", b"2"), ("events", b"s:v1", b"3")]


class SlowKafka:
    """Stands in for the producer: every send stays in flight until the test settles it."""

    def __init__(self) -> None:
        self.sent: list[list[Record]] = []
        self.pending: list[Callable[[list[Record]], None]] = []

    def send(self, records: list[Record], on_settled: Callable[[list[Record]], None]) -> None:
        self.sent.append(records)
        self.pending.append(on_settled)

    def reachable(self, timeout_s: float) -> bool:
        return True

    async def close(self, timeout_s: float) -> None:
        pass


class InstantKafka(SlowKafka):
    """Stands in for a healthy producer: every send is delivered at once."""

    def send(self, records: list[Record], on_settled: Callable[[list[Record]], None]) -> None:
        self.sent.append(records)
        on_settled([])


def sink_with(tmp_path: Path, deadline_s: float = 0.01) -> tuple[EventSink, SlowKafka]:
    kafka = SlowKafka()
    return EventSink(Settings(data_dir=tmp_path, produce_deadline_s=deadline_s), Metrics(), kafka), kafka


def break_the_spool_disk(tmp_path: Path) -> None:
    """Every later write into the spool fails with an OSError, as on a full or failing disk."""
    folder = tmp_path / "ingest-spool"
    shutil.rmtree(folder)
    folder.write_bytes(b"")  # a file where the folder was: NotADirectoryError


def spooled(tmp_path: Path) -> list[list[Record]]:
    return [Spool.read(p) for p in sorted((tmp_path / "ingest-spool").glob("*.batch"))]


def test_a_late_batch_whose_sends_all_land_leaves_the_spool(tmp_path: Path) -> None:
    async def run() -> None:
        sink, kafka = sink_with(tmp_path)
        assert await sink.publish(BATCH) is Outcome.SPOOLED
        assert spooled(tmp_path) == [BATCH] and sink.in_doubt_batches == 1
        kafka.pending[0]([])
        assert spooled(tmp_path) == [] and sink.in_doubt_batches == 0 and sink.spool.size_bytes == 0

    asyncio.run(run())


def test_a_late_batch_partly_delivered_keeps_only_the_rest_in_the_spool(tmp_path: Path) -> None:
    async def run() -> None:
        sink, kafka = sink_with(tmp_path)
        await sink.publish(BATCH)
        kafka.pending[0]([BATCH[2]])
        assert spooled(tmp_path) == [[BATCH[2]]]

    asyncio.run(run())


def test_batches_after_an_in_doubt_one_queue_behind_it_in_the_spool(tmp_path: Path) -> None:
    async def run() -> None:
        sink, kafka = sink_with(tmp_path)
        await sink.publish(BATCH)
        later = [("events", b"s:v1", b"4")]
        assert await sink.publish(later) is Outcome.SPOOLED
        assert kafka.sent == [BATCH]  # the later batch did not overtake the one in doubt
        assert spooled(tmp_path) == [BATCH, later]

    asyncio.run(run())


def test_requests_in_one_turn_of_the_loop_go_to_kafka_as_one_batch_and_all_learn_its_outcome(tmp_path: Path) -> None:
    async def run() -> None:
        sink, kafka = sink_with(tmp_path, deadline_s=5)
        first, second = [BATCH[0]], [BATCH[1], BATCH[2]]
        answers = asyncio.gather(sink.publish(first), sink.publish(second))
        await asyncio.sleep(0.01)
        assert kafka.sent == [first + second]
        kafka.pending[0]([])
        assert await answers == [Outcome.PUBLISHED, Outcome.PUBLISHED]
        assert spooled(tmp_path) == []

    asyncio.run(run())


def test_records_kafka_refused_are_spooled_and_every_request_of_the_batch_answered_spooled(tmp_path: Path) -> None:
    async def run() -> None:
        sink, kafka = sink_with(tmp_path, deadline_s=5)
        answers = asyncio.gather(sink.publish([BATCH[0]]), sink.publish([BATCH[1]]))
        await asyncio.sleep(0.01)
        kafka.pending[0]([BATCH[1]])
        assert await answers == [Outcome.SPOOLED, Outcome.SPOOLED]
        assert spooled(tmp_path) == [[BATCH[1]]]

    asyncio.run(run())


@pytest.mark.parametrize("refused_by", ["kafka", "deadline"])
def test_a_spool_write_failing_on_disk_refuses_the_batch_instead_of_leaving_its_requests_waiting(
    tmp_path: Path, refused_by: str
) -> None:
    async def run() -> None:
        sink, kafka = sink_with(tmp_path, deadline_s=5 if refused_by == "kafka" else 0.01)
        break_the_spool_disk(tmp_path)
        answer = asyncio.ensure_future(sink.publish([BATCH[0]]))
        if refused_by == "kafka":
            await asyncio.sleep(0.01)
            kafka.pending[0]([BATCH[0]])
        with pytest.raises(SpoolUnavailable) as refused:
            await asyncio.wait_for(answer, 5)  # without the fix: TimeoutError, the request would hang
        assert refused.value.reason == "spool_unavailable"
        assert sink.metrics.counters["spool_unavailable"] == 1

    asyncio.run(run())


def test_a_damaged_spool_file_is_set_aside_and_the_batches_after_it_are_still_replayed(tmp_path: Path) -> None:
    folder = tmp_path / "ingest-spool"
    Spool(folder, max_bytes=1_000_000).append(BATCH)
    damaged = folder / f"{0:020d}.batch"  # sorts first: replay meets it before the good batch
    damaged.write_bytes(b"\xc1 not msgpack")

    async def run() -> None:
        kafka = InstantKafka()
        sink = EventSink(Settings(data_dir=tmp_path), Metrics(), kafka)
        await sink.start()
        try:
            for _ in range(100):
                if kafka.sent:
                    break
                await asyncio.sleep(0.05)
        finally:
            await sink.stop()
        assert kafka.sent == [BATCH]
        assert sink.metrics.counters["spool_bad_batches"] == 1 and sink.metrics.counters["replayed_records"] == 3
        assert not sink.spool.has_pending and sink.spool.size_bytes == 0

    asyncio.run(run())
    assert sorted(p.name for p in folder.iterdir()) == [damaged.with_suffix(".bad").name]
