"""Kafka and Redis of a test module's own, on ports of its own, and worker processes run against them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clickpulse.local_stack.ports import ports_env
from clickpulse.local_stack.stack import kafka_and_redis as kafka_and_redis_services
from clickpulse.local_stack.supervisor import Supervisor
from clickpulse.settings import REPO_ROOT, Settings


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(**{k.removeprefix("CLICKPULSE_").lower(): v for k, v in env.items() if k.startswith("CLICKPULSE_")})


@contextmanager
def kafka_and_redis_at(base: int, prefix: str, extra_env: dict[str, str] | None = None) -> Iterator[dict[str, str]]:
    """The environment of a stack whose Kafka (topics created) and Redis run at base, its data in a fresh folder
    that goes when the block ends."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    env = {**os.environ, **ports_env(base), **(extra_env or {}), "CLICKPULSE_DATA_DIR": str(folder)}
    settings = settings_of(env)
    supervisor = Supervisor(folder / "logs", folder / "stack.json", env)
    try:
        for service in kafka_and_redis_services(settings):
            supervisor.start(service)
        yield env
    finally:
        supervisor.stop_all()
        shutil.rmtree(folder, ignore_errors=True)


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(Path(env["CLICKPULSE_DATA_DIR"]) / "logs" / "worker.log", "ab")  # noqa: SIM115 (the process keeps it)
    return subprocess.Popen([sys.executable, "-m", "clickpulse.cli", "worker"], cwd=REPO_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """A clean stop (SIGTERM), or a kill if it takes over 30 s."""
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
