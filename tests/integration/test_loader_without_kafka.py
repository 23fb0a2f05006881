"""A loader whose Kafka is not up yet (started first, or Kafka away) waits for it and says so once a minute, not
with a traceback every 2 s; one asked to stop while Kafka is away stops cleanly (`clickpulse loader` died of a
CancelledError that aiokafka's fetcher let out of the consumer's stop)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from clickhouse.client import connect
from clickhouse.loader import Loader
from clickhouse.migrate import apply_migrations
from clickpulse.local_stack.kafka_broker import broker_command
from clickpulse.local_stack.ports import KAFKA, ports_env
from clickpulse.local_stack.supervisor import Service, Supervisor, port_open
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

    try:
        with caplog.at_level(logging.WARNING, logger="clickhouse.loader"):
            assert asyncio.run(run_without_kafka())
    finally:
        client.close()  # an open chDB handle keeps its engine, and a process can hold one engine path only
    warned = [r for r in caplog.records if r.name == "clickhouse.loader"]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING and warned[0].exc_info is None
    assert f"waits for kafka at 127.0.0.1:{kafka_port}" in warned[0].getMessage()


def test_a_loader_stopped_while_kafka_is_away_returns_cleanly(tmp_path: Path) -> None:
    base = TEST_PORT_BASE + 820
    env = {
        **ports_env(base),
        "CLICKPULSE_DATA_DIR": str(tmp_path),
        "CLICKPULSE_CLICKHOUSE_DSN": f"chdb://{tmp_path}/ch",
    }
    settings = Settings(**{k.removeprefix("CLICKPULSE_").lower(): v for k, v in env.items()})
    supervisor = Supervisor(tmp_path / "logs", tmp_path / "stack.json", env)
    client = connect(settings)
    apply_migrations(client, settings.clickhouse_database)

    async def stop_while_kafka_is_away() -> None:
        loader = Loader(settings, client)
        stop = asyncio.Event()
        task = asyncio.create_task(loader.run(stop))
        await asyncio.sleep(5)  # joined its group and fetching
        kafka = supervisor.services[0].process
        assert kafka is not None
        kafka.terminate()
        await asyncio.to_thread(kafka.wait, 30)
        await asyncio.sleep(3)  # its fetches fail and back off
        stop.set()
        await asyncio.wait_for(task, 30)  # raised CancelledError out of the consumer's stop

    try:
        supervisor.start(Service("kafka", broker_command(settings), lambda: port_open("127.0.0.1", base + KAFKA)))
        asyncio.run(stop_while_kafka_is_away())
    finally:
        supervisor.stop_all()
        client.close()
