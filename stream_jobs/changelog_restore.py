"""A table's changelog records written into its store a fetched list at a time while the table recovers.

Faust's recovery takes each changelog record through the consumer's per-message path (a Message, a task racing
its delivery against flow control, an Event decoded and queued) and then through its recovery loop (a task to
take it off the queue, a check of every partition's progress): about 0.3 ms a record on this project's benchmark
machine, so a worker restarting after a kill -9 took about a minute to rebuild 100,000 visitors' rows
(bench/restore_bench.py). Here the records of a partition Faust is recovering are written into the store in one
batch each, and Faust's recovery offset for the partition moves past them. The partition's last record (its
highwater when the recovery began) still goes Faust's way, so Faust's own loop sees the partition complete and
ends the recovery as it always did.

Order is kept: the direct way is taken only while Faust's changelog queue is empty, and what Faust's loop took but
has not written yet is written first.
"""

from __future__ import annotations

import faust
from aiokafka.structs import ConsumerRecord
from faust.types import TP

from stream_jobs.rocksdb_store import restore_rows


def restore_directly(app: faust.App, tp: TP, records: list[ConsumerRecord]) -> tuple[int, list[ConsumerRecord]]:
    """Write the records of a recovering table partition that are not its last; return how many it wrote and what
    is left for Faust's per-message path (every record of a partition not being recovered, and the last of one
    that is)."""
    recovery = app.tables.recovery
    if not recovery.in_recovery or tp not in recovery.active_tps or not app.tables.changelog_queue.empty():
        return 0, records
    last, seen = recovery.active_highwaters.get(tp), recovery.active_offsets.get(tp)
    if last is None or seen is None:
        return 0, records
    direct = [r for r in records if seen < r.offset < last]  # Faust skips what it has seen too
    if direct:
        table = recovery.tp_to_table[tp]
        taken = recovery.buffers[table]
        if taken:
            table.apply_changelog_batch(taken)
            taken.clear()
        restore_rows(table.data, tp, direct)
        recovery.active_offsets[tp] = direct[-1].offset
    return len(direct), [r for r in records if r.offset >= last]
