"""A loader whose Kafka is not up yet (started first, or Kafka away) waits for it and says so once a minute, not
with a traceback every 2 s."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from clickhouse.client import connect
from clickhouse.loader import Loader
from clickhouse.migrate import apply_migrations
from clickpulse.local_stack.ports import KAFKA
from clickpulse.settings import Settings
from tests.running_stack import TEST_PORT_BASE, port_free

pytestmark = pytest.mark.integration


def test_a_loader_waiting_for_kafka_warns_once_without_a_traceback_and_keeps_trying(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kafka_port = TEST_PORT_BASE + 820 + KAFKA
    assert port_free(kafka_port)
    settings = Settings(
        data_dir=tmp_path, kafka_bootstrap=f"127.0.0.1:{kafka_port}", clickhouse_dsn=f"chdb://{tmp_path / 'ch'}"
    )
    client = connect(settings)
    apply_migrations(client, settings.clickhouse_database)

    async def run_without_kafka() -> bool:
        stop = asyncio.Event()
        task = asyncio.create_task(Loader(settings, client).run(stop))
        await asyncio.sleep(5)  # two or three attempts
        still_trying = not task.done()
        stop.set()
        await asyncio.wait_for(task, 10)
        return still_trying

    with caplog.at_level(logging.WARNING, logger="clickhouse.loader"):
        assert asyncio.run(run_without_kafka())
    warned = [r for r in caplog.records if r.name == "clickhouse.loader"]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING and warned[0].exc_info is None
    assert f"waits for kafka at 127.0.0.1:{kafka_port}" in warned[0].getMessage()
