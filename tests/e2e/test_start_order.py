"""Services started before what they use wait for it: ingest before Redis (its site registry) starts listening
once Redis answers, without a restart, and never logs the password the Redis URL carries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from clickpulse.local_stack.ports import INGEST, REDIS, ports_env
from clickpulse.local_stack.redis_server import redis_command
from clickpulse.settings import Settings
from tests.running_stack import TEST_PORT_BASE, port_free, wait_until

pytestmark = pytest.mark.e2e
BASE = TEST_PORT_BASE + 820
PASSWORD = "s3cret-in-the-url"


def test_ingest_started_before_redis_waits_for_it_and_then_serves(tmp_path: Path) -> None:
    assert port_free(BASE + INGEST) and port_free(BASE + REDIS)
    redis_url = f"redis://:{PASSWORD}@127.0.0.1:{BASE + REDIS}/0"
    env = {**os.environ, **ports_env(BASE), "CLICKPULSE_DATA_DIR": str(tmp_path), "CLICKPULSE_REDIS_URL": redis_url}
    settings = Settings(redis_url=redis_url, data_dir=tmp_path)
    ingest = subprocess.Popen(
        [sys.executable, "-m", "clickpulse.cli", "ingest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    redis = None
    try:
        # Kafka is not there either: ingest spools until it comes, so only Redis holds it back.
        assert wait_until(lambda: ingest.poll() is not None, timeout_s=3, every_s=0.2) is False, "ingest exited"
        redis = subprocess.Popen([*redis_command(settings), "--requirepass", PASSWORD], stdout=subprocess.DEVNULL)
        healthz = f"http://127.0.0.1:{BASE + INGEST}/healthz"
        assert wait_until(lambda: httpx.get(healthz).status_code == 200, timeout_s=30, every_s=0.3)
    finally:
        ingest.send_signal(signal.SIGTERM)
        _, stderr = ingest.communicate(timeout=30)
        if redis is not None:
            redis.terminate()
            redis.wait(10)
    assert f"waiting up to 60 s for Redis at 127.0.0.1:{BASE + REDIS}".encode() in stderr
    assert PASSWORD.encode() not in stderr


@pytest.mark.parametrize("command", ["api", "loader", "migrate"])
def test_a_command_whose_clickhouse_server_stays_away_waits_then_exits_with_the_reason_and_no_password(
    tmp_path: Path, command: str
) -> None:
    absent = BASE + 30  # no ClickHouse server listens here
    assert port_free(absent)
    env = {
        **os.environ,
        **ports_env(BASE),
        "CLICKPULSE_DATA_DIR": str(tmp_path),
        "CLICKPULSE_CLICKHOUSE_DSN": f"http://default:{PASSWORD}@127.0.0.1:{absent}/",
        "CLICKPULSE_DEPENDENCY_WAIT_S": "2",
    }
    done = subprocess.run(
        [sys.executable, "-m", "clickpulse.cli", command], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert f"waiting up to 2 s for ClickHouse at 127.0.0.1:{absent}" in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"error: ClickHouse at 127.0.0.1:{absent} (CLICKPULSE_CLICKHOUSE_DSN) not reachable within 2 s"
    )
    assert "Traceback" not in done.stderr and PASSWORD not in done.stderr
