"""The local Kafka broker, run by the supervisor: when it cannot start, the log the supervisor names says why."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from clickpulse.local_stack.kafka_broker import broker_command
from clickpulse.local_stack.supervisor import Service, Supervisor
from clickpulse.settings import Settings
from tests.running_stack import TEST_PORT_BASE

pytestmark = pytest.mark.integration
PORT = TEST_PORT_BASE + 780


def test_a_broker_that_cannot_start_says_why_in_the_log_its_error_names(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=f"127.0.0.1:{PORT}", kafka_controller_port=PORT + 1)
    supervisor = Supervisor(tmp_path / "logs", tmp_path / "stack.json")
    broker = Service("kafka", broker_command(settings), lambda: False, start_timeout_s=120)
    with socket.socket() as taken:  # someone else holds the broker's port
        taken.bind(("127.0.0.1", PORT))
        taken.listen()
        with pytest.raises(RuntimeError, match=r"kafka exited with 1; see (\S+)") as stopped:
            supervisor.start(broker)
    supervisor.stop_all()
    named_log = Path(str(stopped.value).rsplit("see ", 1)[1])
    assert "Address already in use" in named_log.read_text()
