"""Shared fixtures: one real stack (Kafka, Redis, ingest, worker, API with chDB) for the e2e and browser tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.running_stack import RunningStack

# Parallel test runs on one machine (two checkouts, say) each pick their own base.
SHARED_STACK_PORTS = int(os.environ.get("CLICKPULSE_TEST_PORT_BASE", "18000"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = RunningStack(Path(tmp_path_factory.mktemp("stack")), SHARED_STACK_PORTS)
    running.start()
    try:
        yield running
    finally:
        running.stop()
