"""`clickpulse loader` is for a ClickHouse server: with a chdb:// DSN the API runs the loader and holds the engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from clickpulse.local_stack.ports import KAFKA
from tests.running_stack import TEST_PORT_BASE


def test_a_separate_loader_with_a_chdb_dsn_refuses_to_start_and_says_where_the_loader_runs(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CLICKPULSE_DATA_DIR": str(tmp_path),
        "CLICKPULSE_CLICKHOUSE_DSN": f"chdb://{tmp_path / 'clickhouse'}",
        # Nothing listens here: a loader that started anyway would retry Kafka until the timeout below.
        "CLICKPULSE_KAFKA_BOOTSTRAP": f"127.0.0.1:{TEST_PORT_BASE + 820 + KAFKA}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "clickpulse.cli", "loader"], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert "the loader runs inside `clickpulse api`" in done.stderr
    assert not (tmp_path / "clickhouse").exists()  # no engine was opened
