"""The local stack's supervisor with real processes: a port someone else holds stops it before it starts a
service there (whose health check that listener would pass), and it gives up on a service that keeps crashing
instead of restarting it for ever."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from clickpulse.local_stack.supervisor import Service, Supervisor, port_open
from tests.running_stack import TEST_PORT_BASE

pytestmark = pytest.mark.integration
PORT = TEST_PORT_BASE + 351


def listener(port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_a_port_already_taken_is_refused_before_the_service_starts(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", tmp_path / "stack.json")
    sleeper = Service(
        "sleeper",
        [sys.executable, "-c", "import time; time.sleep(60)"],
        lambda: port_open("127.0.0.1", PORT),
        listens_on=(("127.0.0.1", PORT),),
    )
    with listener(PORT), pytest.raises(RuntimeError, match=f"port {PORT} is already in use"):
        supervisor.start(sleeper)
    assert sleeper.process is None  # nothing was started
    supervisor.stop_all()


def test_a_service_that_keeps_crashing_is_given_up_with_its_log_named(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", tmp_path / "stack.json")
    crasher = Service("crasher", [sys.executable, "-c", "import time; time.sleep(0.3)"], lambda: True)
    supervisor.start(crasher)
    with pytest.raises(RuntimeError, match=r"crasher keeps exiting; see .*crasher\.log"):
        supervisor.watch()
    supervisor.stop_all()
