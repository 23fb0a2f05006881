"""Which changelog records of a recovering table go straight into its store, and in which order: against Faust's
own recovery books (a memory store, no Kafka)."""

from __future__ import annotations

from types import SimpleNamespace

import faust
import pytest
from aiokafka.structs import ConsumerRecord
from faust.tables.recovery import Recovery
from faust.types import TP

from stream_jobs.changelog_restore import restore_directly
from stream_jobs.rocksdb_store import read_row


def record(tp: TP, offset: int, key: bytes, value: bytes) -> ConsumerRecord:
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, key, value, None, 0, 0, [])


Recovering = tuple[faust.App, faust.Table, Recovery, TP]


@pytest.fixture
def recovering() -> Recovering:
    """A table whose changelog partition 0 is being recovered: offsets 0-4 held already, 9 its last."""
    app = faust.App("restore-test", store="memory://", web_enabled=False)
    table = app.Table("visitors", partitions=1, key_type=bytes, value_type=bytes)
    tp = TP(table.changelog_topic.get_topic_name(), 0)
    recovery = app.tables.recovery
    recovery.in_recovery = True
    recovery.active_tps.add(tp)
    recovery.tp_to_table[tp] = table
    recovery.active_offsets[tp] = 4
    recovery.active_highwaters[tp] = 9
    return app, table, recovery, tp


def test_records_before_the_last_are_written_and_the_last_is_left_for_faust(recovering: Recovering) -> None:
    app, table, recovery, tp = recovering
    records = [record(tp, offset, b"k%d" % (offset % 3), b"%d" % offset) for offset in range(3, 11)]
    written, left = restore_directly(app, tp, records)
    assert written == 4  # offsets 5-8
    assert [r.offset for r in left] == [9, 10]  # Faust's loop sees the partition complete and ends the recovery
    assert recovery.active_offsets[tp] == 8
    assert {key: read_row(table.data, 0, key) for key in (b"k0", b"k1", b"k2")} == {
        b"k0": b"6",
        b"k1": b"7",
        b"k2": b"8",
    }  # offsets 3 and 4 were held already: not written again


def test_what_faust_took_but_has_not_written_goes_in_first(recovering: Recovering) -> None:
    app, table, recovery, tp = recovering
    message = SimpleNamespace(tp=tp, offset=5, partition=0, key=b"k", value=b"older")
    taken = SimpleNamespace(message=message, key=message.key, value=message.value)  # a faust Event, as stores read it
    recovery.buffers[table].append(taken)
    restore_directly(app, tp, [record(tp, 6, b"k", b"newer")])
    assert read_row(table.data, 0, b"k") == b"newer"
    assert recovery.buffers[table] == []


def test_nothing_is_written_while_faust_has_records_queued(recovering: Recovering) -> None:
    app, table, _, tp = recovering
    app.tables.changelog_queue.put_nowait(object())
    records = [record(tp, 5, b"k", b"v")]
    assert restore_directly(app, tp, records) == (0, records)
    assert read_row(table.data, 0, b"k") is None


def test_a_partition_not_being_recovered_goes_faust_s_way(recovering: Recovering) -> None:
    app, table, recovery, tp = recovering
    recovery.in_recovery = False
    records = [record(tp, 5, b"k", b"v")]
    assert restore_directly(app, tp, records) == (0, records)
    assert read_row(table.data, 0, b"k") is None
