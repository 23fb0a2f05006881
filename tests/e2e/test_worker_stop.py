"""A worker asked to stop while Kafka is away stops within the supervisor's stop timeout: aiokafka's fetcher re-raised
the cancellation of a fetch backing off after a failed request, Faust's consumer thread died of it without saying it
had stopped, and the worker waited 60 s for it (63 s measured), to be SIGKILLed by any supervisor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clickpulse.local_stack.kafka_broker import broker_command
from clickpulse.local_stack.ports import KAFKA, REDIS, ports_env
from clickpulse.local_stack.redis_server import redis_command
from clickpulse.local_stack.supervisor import STOP_TIMEOUT_S, Service, Supervisor, http_ok, port_open
from clickpulse.settings import Settings
from tests.running_stack import TEST_PORT_BASE, wait_until

pytestmark = pytest.mark.e2e
BASE = TEST_PORT_BASE + 820


def test_a_worker_stopped_while_kafka_is_away_exits_within_the_stop_timeout(tmp_path: Path) -> None:
    env = {**ports_env(BASE), "CLICKPULSE_DATA_DIR": str(tmp_path), "CLICKPULSE_SESSION_SWEEP_S": "1"}
    settings = Settings(**{k.removeprefix("CLICKPULSE_").lower(): v for k, v in env.items()})
    supervisor = Supervisor(tmp_path / "logs", tmp_path / "stack.json", env)
    log = tmp_path / "worker.log"
    worker = None
    try:
        supervisor.start(Service("redis", redis_command(settings), lambda: port_open("127.0.0.1", BASE + REDIS)))
        supervisor.start(Service("kafka", broker_command(settings), lambda: port_open("127.0.0.1", BASE + KAFKA)))
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "clickpulse.cli", "worker"], env={**os.environ, **env}, stdout=out, stderr=out
            )
        ready = f"http://127.0.0.1:{settings.worker_http_port}/readyz"
        assert wait_until(lambda: http_ok(ready), timeout_s=90)
        kafka = supervisor.services[1].process
        assert kafka is not None
        kafka.terminate()
        kafka.wait(30)
        wait_until(lambda: b"Failed fetch messages" in log.read_bytes(), timeout_s=15, every_s=0.2)
        worker.send_signal(signal.SIGTERM)
        worker.wait(STOP_TIMEOUT_S)  # raises TimeoutExpired while the worker still waits for its consumer thread
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        supervisor.stop_all()
    assert b"Exception in thread" not in log.read_bytes()
