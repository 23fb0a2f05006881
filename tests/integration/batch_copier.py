"""A Faust worker on the worker's batch path that copies each record of a source topic to a sink topic as
`partition:offset` in what finishes its batch, after a sleep, so that a batch stays in flight unfinished.

Run:  python -m tests.integration.batch_copier SOURCE SINK DELAY_S   (Kafka and data dir from CLICKPULSE_*)
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable

import faust

from clickpulse.settings import get_settings
from stream_jobs.batch_consumer import Batch, BatchingApp

BATCH_SIZE = 100


def create_app(source: str, sink: str, delay_s: float) -> BatchingApp:
    settings = get_settings()
    (settings.data_dir / "copier").mkdir(parents=True, exist_ok=True)
    app = BatchingApp(
        f"copier-{source}",
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir / "copier"),
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=BATCH_SIZE,
        # No periodic commit in these tests' time: every offset they see committed, the batch path committed.
        broker_commit_interval=3600.0,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
    )
    source_topic = app.topic(source, key_type=bytes, value_type=bytes)

    @app.batches(source_topic, size=BATCH_SIZE, within_s=0.05)
    async def copy(batch: Batch) -> Awaitable[None]:
        return copy_after_delay(batch)

    async def copy_after_delay(batch: Batch) -> None:
        """What finishes a batch, run while the next is handled: its offsets may be committed only after this."""
        await asyncio.sleep(delay_s)
        for tp, records in batch.items():
            for record in records:
                await app.producer.send(sink, record.key, f"{tp.partition}:{record.offset}".encode(), None, None, None)

    return app


def main() -> None:
    source, sink, delay_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
    worker = faust.Worker(create_app(source, sink, delay_s), loglevel="WARNING", quiet=True)
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
